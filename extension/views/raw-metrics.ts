// The controller's raw /metrics text as a read-only document
// (vault-sync-metrics:/metrics.prom), instead of an unsaved Untitled editor.
import * as vscode from 'vscode';
import { ENDPOINT } from '../../shared/contract/state.ts';
import type { ExtensionHost } from '../host.ts';

export const RAW_METRICS_URI = vscode.Uri.parse('vault-sync-metrics:/metrics.prom');

export class RawMetricsProvider implements vscode.TextDocumentContentProvider {
  readonly #changed = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.#changed.event;
  readonly #host: ExtensionHost;

  constructor(host: ExtensionHost) {
    this.#host = host;
  }

  refresh(): void {
    this.#changed.fire(RAW_METRICS_URI);
  }

  async provideTextDocumentContent(): Promise<string> {
    return this.#host.connection().controller(ENDPOINT.metrics);
  }
}
