// Help while writing manifests, wired into VS Code for YAML files:
// diagnostics as you type (debounced), completion and hover docs for the
// vault-sync.io/* annotations, and a "Preview Vault Sync" CodeLens on each
// annotated Deployment or Secret. The rules are the shared core's
// (extension/model/authoring.ts, preview.ts); this file only maps positions.
import * as vscode from 'vscode';
import type { ExtensionHost } from '../host.ts';
import { completionsAt, hoverAt, manifestDiagnostics } from '../model/authoring.ts';
import { findManifestResources, secretKeyNames, type ManifestResource, type Span } from '../model/manifests.ts';
import type { PreviewContext } from '../model/preview.ts';
import { resourceKey } from '../../shared/resources.ts';

const YAML: vscode.DocumentSelector = [{ language: 'yaml' }, { pattern: '**/*.{yaml,yml}' }];

const range = (s: Span) => new vscode.Range(s.start.line, s.start.character, s.end.line, s.end.character);

/** What previews and diagnostics know of the cluster and the workspace, never values. */
export function previewContext(host: ExtensionHost, r: ManifestResource, workspaceSecrets: Map<string, string[]>): PreviewContext {
  const namespace = r.namespace ?? 'default';
  const live = host.resources.index.state(resourceKey({ kind: r.kind, namespace: namespace, name: r.name }));
  return {
    cluster: host.controllerState?.clusterName ?? '',
    current: live?.paths ?? [],
    secret: (name) => {
      const keys = workspaceSecrets.get(`${namespace}/${name}`);
      const exists = host.secretExists(namespace, name);
      return { ...(exists !== undefined ? { exists } : {}), ...(keys ? { keys } : {}) };
    },
  };
}


export class Authoring implements vscode.CompletionItemProvider, vscode.HoverProvider, vscode.CodeLensProvider {
  readonly diagnostics = vscode.languages.createDiagnosticCollection('vault-sync-manifest');
  readonly #host: ExtensionHost;
  readonly #timers = new Map<string, ReturnType<typeof setTimeout>>();
  readonly #lensesChanged = new vscode.EventEmitter<void>();
  readonly onDidChangeCodeLenses = this.#lensesChanged.event;

  constructor(host: ExtensionHost) {
    this.#host = host;
  }

  register(): vscode.Disposable[] {
    return [
      this.diagnostics,
      vscode.languages.registerCompletionItemProvider(YAML, this, '/', ':', ' ', '"'),
      vscode.languages.registerHoverProvider(YAML, this),
      vscode.languages.registerCodeLensProvider(YAML, this),
      vscode.workspace.onDidOpenTextDocument((d) => this.check(d)),
      vscode.workspace.onDidChangeTextDocument((e) => this.#schedule(e.document)),
      vscode.workspace.onDidCloseTextDocument((d) => this.diagnostics.delete(d.uri)),
      this.#host.onDidChange(() => this.#lensesChanged.fire()),
    ];
  }

  #schedule(doc: vscode.TextDocument): void {
    const key = doc.uri.toString();
    clearTimeout(this.#timers.get(key));
    this.#timers.set(key, setTimeout(() => {
      this.#timers.delete(key);
      this.check(doc);
    }, 250));
  }

  /** Diagnostics for one document, now. */
  check(doc: vscode.TextDocument): vscode.Diagnostic[] {
    if (!/\.ya?ml$/.test(doc.uri.path) && doc.languageId !== 'yaml') return [];
    const text = doc.getText();
    const resources = findManifestResources(text);
    const secrets = secretKeyNames(text);
    const found = resources.flatMap((r) => manifestDiagnostics([r], previewContext(this.#host, r, secrets)));
    const out = found.map((d) => {
      const diag = new vscode.Diagnostic(range(d.span), d.message, d.severity === 'error' ? vscode.DiagnosticSeverity.Error : vscode.DiagnosticSeverity.Warning);
      diag.source = 'vault-sync';
      if (d.annotation) diag.code = d.annotation;
      return diag;
    });
    this.diagnostics.set(doc.uri, out);
    return out;
  }

  provideCompletionItems(doc: vscode.TextDocument, pos: vscode.Position): vscode.CompletionItem[] {
    return completionsAt(doc.getText(), pos.line, pos.character).map((c) => {
      const item = new vscode.CompletionItem(c.label, c.kind === 'annotation' ? vscode.CompletionItemKind.Property : vscode.CompletionItemKind.Value);
      // Time is read here, at the edge: "now" for resync-requested-at.
      item.insertText = c.insert.replace('$NOW', new Date().toISOString());
      item.detail = c.detail;
      item.documentation = new vscode.MarkdownString(c.documentation);
      // Replace the word being typed; an opening quote already typed stays (the model then inserts without quotes).
      const line = doc.lineAt(pos.line).text.slice(0, pos.character);
      const word = c.kind === 'annotation' ? /["']?[a-z0-9./-]*$/.exec(line)![0] : /[^"':\s]*$/.exec(line)![0];
      item.range = new vscode.Range(pos.line, pos.character - word.length, pos.line, pos.character);
      item.filterText = /^["']/.test(word) ? `${word[0]}${c.label}` : c.label;
      return item;
    });
  }

  provideHover(doc: vscode.TextDocument, pos: vscode.Position): vscode.Hover | undefined {
    const h = hoverAt(doc.getText(), pos.line, pos.character);
    return h && new vscode.Hover(new vscode.MarkdownString(h.markdown), new vscode.Range(pos.line, h.start, pos.line, h.end));
  }

  provideCodeLenses(doc: vscode.TextDocument): vscode.CodeLens[] {
    return findManifestResources(doc.getText())
      .map((r, i) => ({ r, i }))
      .filter(({ r }) => r.annotations.some((a) => a.name === 'vault-sync.io/path'))
      .map(({ r, i }) => new vscode.CodeLens(new vscode.Range(r.start.line, 0, r.start.line, 0), {
        command: 'vaultSync.preview', title: 'Preview Vault Sync', arguments: [doc.uri, i],
      }));
  }
}
