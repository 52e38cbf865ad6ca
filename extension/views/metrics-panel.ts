// "Vault Sync: Controller Metrics": a webview that charts the session's
// /metrics scrapes (extension/model/series.ts) with uPlot, bundled into
// dist/webview/metrics.js (no CDN: the webview has no internet). One panel
// at a time. While it is open it scrapes every 5 s through the service
// proxy; closing it stops that timer. The page only ever receives what
// /metrics exposes: no values, paths or names.
import { randomBytes } from 'node:crypto';
import * as vscode from 'vscode';
import type { ExtensionHost } from '../host.ts';
import { metricsHtml } from '../webview/html.ts';
import { errorText } from '../cluster.ts';

export const METRICS_SCRAPE_MS = 5000;

export class MetricsPanel {
  static current: MetricsPanel | undefined;
  readonly panel: vscode.WebviewPanel;
  readonly #host: ExtensionHost;
  #timer: ReturnType<typeof setInterval> | undefined;
  #windowMs = 5 * 60_000;
  #error: string | undefined;
  /** Scrapes made by this panel (the tests read it). */
  scrapes = 0;

  static show(host: ExtensionHost, extensionUri: vscode.Uri): MetricsPanel {
    if (MetricsPanel.current) {
      MetricsPanel.current.panel.reveal();
      return MetricsPanel.current;
    }
    MetricsPanel.current = new MetricsPanel(host, extensionUri);
    return MetricsPanel.current;
  }

  private constructor(host: ExtensionHost, extensionUri: vscode.Uri) {
    this.#host = host;
    const root = vscode.Uri.joinPath(extensionUri, 'dist', 'webview');
    this.panel = vscode.window.createWebviewPanel('vaultSync.metrics', 'Vault Sync: Controller Metrics', vscode.ViewColumn.Active, {
      enableScripts: true, localResourceRoots: [root], retainContextWhenHidden: false,
    });
    const w = this.panel.webview;
    w.html = metricsHtml({
      cspSource: w.cspSource, nonce: randomBytes(16).toString('base64'),
      scriptUri: w.asWebviewUri(vscode.Uri.joinPath(root, 'metrics.js')).toString(),
      styleUri: w.asWebviewUri(vscode.Uri.joinPath(root, 'metrics.css')).toString(),
    });
    w.onDidReceiveMessage((msg: { type?: string; ms?: number }) => {
      if (msg?.type === 'ready') void this.#post();
      if (msg?.type === 'window' && (msg.ms === 300_000 || msg.ms === 3_600_000)) {
        this.#windowMs = msg.ms;
        void this.#post();
      }
    });
    this.panel.onDidDispose(() => this.#stop());
    void this.#tick();
    this.#timer = setInterval(() => void this.#tick(), METRICS_SCRAPE_MS);
  }

  get scraping(): boolean {
    return this.#timer !== undefined;
  }

  async #tick(): Promise<void> {
    try {
      await this.#host.scrapeMetrics();
      this.scrapes++;
      this.#error = undefined;
    } catch (err) {
      this.#error = `Cannot read /metrics: ${errorText(err)}`;
    }
    await this.#post();
  }

  async #post(): Promise<void> {
    if (!this.#timer && MetricsPanel.current !== this) return;
    const charts = this.#host.metrics.window(this.#windowMs, Date.now());
    await this.panel.webview.postMessage({ type: 'data', windowMs: this.#windowMs, charts, scrapes: this.#host.metrics.size, ...(this.#error ? { error: this.#error } : {}) });
  }

  #stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    if (MetricsPanel.current === this) MetricsPanel.current = undefined;
  }

  dispose(): void {
    this.panel.dispose();
  }
}
