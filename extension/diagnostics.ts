// The Problems panel: a workspace manifest that defines a resource whose
// live state is a large secret or a failed sync gets a diagnostic on the
// resource's metadata.name line.
import * as vscode from 'vscode';
import type { ResourceState } from '../shared/state.ts';
import { findManifestResources, type ManifestResource } from './model/manifests.ts';

export interface ManifestProblem {
  line: number;
  severity: 'warning' | 'error';
  message: string;
}

/** Pure: which diagnostics a manifest gets, given the live states (namespace defaults to the only match by name). */
export function problemsFor(resources: ManifestResource[], lookup: (kind: string, name: string, namespace?: string) => ResourceState | undefined): ManifestProblem[] {
  const out: ManifestProblem[] = [];
  for (const r of resources) {
    const state = lookup(r.kind, r.name, r.namespace);
    if (!state) continue;
    if (state.status === 'Failed') out.push({ line: r.line, severity: 'error', message: `vault-sync: ${r.kind} ${state.namespace}/${r.name} failed to sync: ${state.message ?? state.reason ?? 'see Events'}` });
    for (const p of state.paths.filter((p) => p.large)) {
      out.push({ line: r.line, severity: 'warning', message: `vault-sync: large secret: ${p.path} is ${p.bytes} bytes; consider selecting fewer keys` });
    }
  }
  return out;
}

export class ManifestDiagnostics {
  readonly #collection = vscode.languages.createDiagnosticCollection('vault-sync');
  readonly #lookup: (kind: string, name: string, namespace?: string) => ResourceState | undefined;

  constructor(lookup: (kind: string, name: string, namespace?: string) => ResourceState | undefined) {
    this.#lookup = lookup;
  }

  async refreshWorkspace(): Promise<void> {
    const files = await vscode.workspace.findFiles('**/*.{yaml,yml}', '**/node_modules/**', 500);
    await Promise.all(files.map((uri) => this.refreshFile(uri)));
  }

  async refreshFile(uri: vscode.Uri): Promise<void> {
    const text = Buffer.from(await vscode.workspace.fs.readFile(uri)).toString('utf8');
    const problems = problemsFor(findManifestResources(text), this.#lookup);
    this.#collection.set(uri, problems.map((p) => {
      const d = new vscode.Diagnostic(new vscode.Range(p.line, 0, p.line, 200), p.message, p.severity === 'error' ? vscode.DiagnosticSeverity.Error : vscode.DiagnosticSeverity.Warning);
      d.source = 'vault-sync';
      return d;
    }));
  }

  dispose(): void {
    this.#collection.dispose();
  }
}
