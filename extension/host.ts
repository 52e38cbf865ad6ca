// Holds the extension's live parts together: the cluster connection, the
// three views, the status bar, the Problems panel and the controller poller.
// Also the API `activate` returns, which the extension-host tests use.
import * as vscode from 'vscode';
import { ClusterConnection, describeError, type ConnectionSettings, type Problem } from './cluster.ts';
import { ManifestDiagnostics } from './diagnostics.ts';
import { scrape, summarise, type ControllerState, type ControllerSummary, type MetricsScrape } from './model/controller.ts';
import { resourceKey } from './model/tree.ts';
import { warningsFor } from './model/warnings.ts';
import { SyncStatusBar } from './statusbar.ts';
import { ControllerProvider } from './views/controller-provider.ts';
import { ResourcesProvider } from './views/resources-provider.ts';
import { WarningsProvider } from './views/warnings-provider.ts';

export function readSettings(): ConnectionSettings & { refreshSeconds: number; namespaces: string[] } {
  const c = vscode.workspace.getConfiguration('vaultSync');
  return {
    namespaces: c.get<string[]>('namespaces', []).filter(Boolean),
    kubeconfig: c.get<string>('kubeconfig', ''),
    context: c.get<string>('context', ''),
    controllerNamespace: c.get<string>('controller.namespace', 'vault-sync-system'),
    controllerService: c.get<string>('controller.service', 'vault-sync-operator'),
    controllerPort: String(c.get<string | number>('controller.port', 'status')),
    refreshSeconds: Math.max(2, c.get<number>('refreshIntervalSeconds', 15)),
  };
}

export class ExtensionHost {
  readonly resources = new ResourcesProvider();
  readonly controllerView = new ControllerProvider();
  readonly warnings = new WarningsProvider();
  readonly statusBar = new SyncStatusBar();
  readonly output = vscode.window.createOutputChannel('Vault Sync');
  readonly diagnostics = new ManifestDiagnostics((kind, name, namespace) => {
    if (namespace) return this.resources.index.state(resourceKey(kind, namespace, name));
    return [...this.resources.index.all()].find((s) => s.kind === kind && s.name === name);
  });
  controllerSummary: ControllerSummary | undefined;
  controllerProblem: string | undefined;
  #connection: ClusterConnection | undefined;
  #poll: ReturnType<typeof setInterval> | undefined;
  #lastScrape: MetricsScrape | undefined;
  #summaryTimer: ReturnType<typeof setTimeout> | undefined;
  #generation = 0;

  connection(): ClusterConnection {
    if (!this.#connection) throw new Error('not connected to a cluster');
    return this.#connection;
  }

  async connect(): Promise<void> {
    const generation = ++this.#generation;
    const settings = readSettings();
    this.resources.index.clear();
    this.resources.setMessage({ kind: 'message', id: 'msg:connecting', text: 'Connecting…', severity: 'info' });
    let connection: ClusterConnection;
    try {
      connection = new ClusterConnection(settings, {
        onResource: (kind, namespace, name, annotations) => {
          if (generation !== this.#generation) return;
          if (settings.namespaces.length && !settings.namespaces.includes(namespace)) return;
          this.resources.changed(this.resources.index.apply(kind, namespace, name, annotations));
          this.#summaryChanged();
        },
        onProblem: (problem) => {
          if (generation === this.#generation) this.#showProblem(problem);
        },
      });
    } catch (err) {
      this.#showProblem({ kind: 'no-kubeconfig', text: `No usable kubeconfig: ${describeError(err)}. Set vaultSync.kubeconfig or KUBECONFIG.` });
      return;
    }
    this.#connection = connection;
    this.resources.index.context = connection.context;
    this.output.appendLine(`connected to context ${connection.context}`);
    this.resources.setMessage(undefined);
    await connection.start();
    this.#summaryChanged();
    this.#startPolling(settings.refreshSeconds);
    void this.diagnostics.refreshWorkspace();
  }

  async reconnect(): Promise<void> {
    await this.#connection?.stop();
    this.#connection = undefined;
    this.#lastScrape = undefined;
    await this.connect();
  }

  #showProblem(problem: Problem | undefined): void {
    this.resources.setMessage(problem && { kind: 'message', id: `msg:${problem.kind}`, text: problem.text, severity: problem.kind === 'unreachable' ? 'warning' : 'error' });
    if (problem) this.output.appendLine(problem.text);
  }

  /** Totals, warnings and Problems follow the index; coalesced like the tree. */
  #summaryChanged(): void {
    this.#summaryTimer ??= setTimeout(() => {
      this.#summaryTimer = undefined;
      this.statusBar.update(this.resources.index.totals());
      this.warnings.update(warningsFor(this.resources.index.all()));
      void this.diagnostics.refreshWorkspace();
    }, 150);
  }

  #startPolling(seconds: number): void {
    if (this.#poll) clearInterval(this.#poll);
    void this.pollController();
    this.#poll = setInterval(() => void this.pollController(), seconds * 1000);
  }

  /** Reads /state and /metrics through the apiserver's service proxy. */
  async pollController(): Promise<void> {
    const c = this.#connection;
    if (!c) return;
    const { controllerNamespace: ns, controllerService: svc } = c.settings;
    try {
      const [stateText, metricsText] = await Promise.all([c.controller('/state'), c.controller('/metrics')]);
      const state = JSON.parse(stateText) as ControllerState;
      const now = scrape(metricsText, Date.now());
      this.controllerSummary = summarise(state, now, this.#lastScrape);
      this.#lastScrape = now;
      this.controllerProblem = undefined;
      this.controllerView.update(this.controllerSummary);
    } catch (err) {
      const status = (err as { status?: number }).status;
      this.controllerProblem = status === 404
        ? `Controller not found: no Service ${ns}/${svc} (set vaultSync.controller.namespace / service / port)`
        : status === 403
          ? `Not allowed to read the controller (RBAC: get services/proxy on ${ns}/${svc})`
          : status === 503
            ? `Controller ${ns}/${svc} is not reachable (no ready endpoint)`
            : `Controller unavailable: ${describeError(err)}`;
      this.controllerView.update(undefined, this.controllerProblem);
    }
  }

  async dispose(): Promise<void> {
    if (this.#poll) clearInterval(this.#poll);
    await this.#connection?.stop();
    this.statusBar.dispose();
    this.diagnostics.dispose();
    this.output.dispose();
  }
}
