// The Problems panel, live part: a workspace manifest that defines a
// resource whose live state is a large secret or a failed sync gets a
// diagnostic on the resource's metadata.name line. Cleared while the
// cluster is unreachable (it would describe the previous state), marked
// "may be stale" while the controller is. (Diagnostics while typing, from
// the shared parser, are extension/views/authoring.ts.)
import * as vscode from 'vscode';
import { clusterStale, controllerDown, type ConnectionState } from './model/connection.ts';
import { findManifestResources, problemsFor } from './model/manifests.ts';
import type { TrackedResource } from './model/tree.ts';
import type { ResourceKind } from '../shared/resources.ts';

export class ManifestDiagnostics {
  readonly #collection = vscode.languages.createDiagnosticCollection('vault-sync');
  readonly #lookup: (kind: ResourceKind, name: string, namespace?: string) => TrackedResource | undefined;
  #connection: ConnectionState | undefined;

  constructor(lookup: (kind: ResourceKind, name: string, namespace?: string) => TrackedResource | undefined) {
    this.#lookup = lookup;
  }

  setConnection(c: ConnectionState): void {
    const before = this.#connection;
    this.#connection = c;
    if (!before || clusterStale(before) !== clusterStale(c) || controllerDown(before) !== controllerDown(c)) void this.refreshWorkspace();
  }

  async refreshWorkspace(): Promise<void> {
    const files = await vscode.workspace.findFiles('**/*.{yaml,yml}', '**/node_modules/**', 500);
    await Promise.all(files.map((uri) => this.refreshFile(uri)));
  }

  async refreshFile(uri: vscode.Uri): Promise<void> {
    const c = this.#connection;
    if (c && clusterStale(c)) {
      this.#collection.delete(uri);
      return;
    }
    let text: string;
    try {
      text = Buffer.from(await vscode.workspace.fs.readFile(uri)).toString('utf8');
    } catch {
      this.#collection.delete(uri);
      return;
    }
    const stale = c && controllerDown(c) ? ' (controller unreachable: may be stale)' : '';
    const problems = problemsFor(findManifestResources(text), this.#lookup);
    this.#collection.set(uri, problems.map((p) => {
      const d = new vscode.Diagnostic(new vscode.Range(p.line, 0, p.line, 200), p.message + stale, p.severity === 'error' ? vscode.DiagnosticSeverity.Error : vscode.DiagnosticSeverity.Warning);
      d.source = 'vault-sync';
      return d;
    }));
  }

  dispose(): void {
    this.#collection.dispose();
  }
}
