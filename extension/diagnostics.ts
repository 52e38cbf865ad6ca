// The Problems panel: a workspace manifest that defines a resource whose
// live state is a large secret or a failed sync gets a diagnostic on the
// resource's metadata.name line.
import * as vscode from 'vscode';
import type { ResourceState } from '../shared/state.ts';
import { findManifestResources, problemsFor } from './model/manifests.ts';

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
