// Holds the extension's live parts together: the cluster connection and its
// one shared connection state, the three views, the status bar, the
// Problems panel, the controller poller and the session's metrics history.
// Also the API `activate` returns, which the extension-host tests use.
import * as vscode from 'vscode';
import { ENDPOINT } from '../shared/contract/state.ts';
import { KubeHttpError } from '../shared/kube/http.ts';
import { ClusterConnection, errorText, type ConnectionSettings } from './cluster.ts';
import { resourceKey, type ResourceKind } from '../shared/resources.ts';
import { ManifestDiagnostics } from './diagnostics.ts';
import { controllerProblem, initialConnection, kubeconfigProblem, type ConnectionState, type Problem } from './model/connection.ts';
import { scrape, summarise, type ControllerState, type ControllerSummary, type MetricsScrape } from './model/controller.ts';
import { MetricsHistory } from './model/series.ts';
import { warningsFor } from './model/warnings.ts';
import { SyncStatusBar } from './statusbar.ts';
import { ControllerProvider } from './views/controller-provider.ts';
import { ResourcesProvider } from './views/resources-provider.ts';
import { WarningsProvider } from './views/warnings-provider.ts';

export function readSettings(): ConnectionSettings & { refreshSeconds: number } {
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

/** Dialogs the commands use; the extension-host tests swap them to answer without a person. */
export interface HostUi {
  confirm(message: string, detail: string, action: string): Promise<boolean>;
}

export class ExtensionHost {
  readonly resources = new ResourcesProvider();
  readonly controllerView = new ControllerProvider();
  readonly warnings = new WarningsProvider();
  readonly statusBar = new SyncStatusBar();
  readonly output = vscode.window.createOutputChannel('Vault Sync');
  /** Session-long history of /metrics scrapes, for the metrics panel. */
  readonly metrics = new MetricsHistory();
  readonly diagnostics = new ManifestDiagnostics((kind, name, namespace) => {
    if (namespace) return this.resources.index.state(resourceKey({ kind: kind, namespace: namespace, name: name }));
    return [...this.resources.index.all()].find((s) => s.kind === kind && s.name === name);
  });
  ui: HostUi = {
    async confirm(message, detail, action) {
      return (await vscode.window.showWarningMessage(message, { modal: true, detail }, action)) === action;
    },
  };
  connectionState: ConnectionState = initialConnection();
  controllerSummary: ControllerSummary | undefined;
  controllerState: ControllerState | undefined;
  /** Secret names per namespace (metadata watch), so previews know which Secrets exist. */
  readonly secretNames = new Map<string, Set<string>>();
  readonly #changed = new vscode.EventEmitter<void>();
  /** Fires when the connection state or the controller's readings change. */
  readonly onDidChange = this.#changed.event;
  #connection: ClusterConnection | undefined;
  #settingsKey = '';
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
    // Same cluster and scope: relist in place, so expanded rows stay expanded.
    const settingsKey = JSON.stringify([settings.kubeconfig, settings.context, settings.namespaces]);
    const sameCluster = settingsKey === this.#settingsKey && this.resources.index.size() > 0;
    this.#settingsKey = settingsKey;
    if (sameCluster) this.resources.index.beginRelist();
    else {
      this.resources.index.clear();
      this.secretNames.clear();
    }
    this.#setState({ ...this.connectionState, cluster: { state: 'connecting' }, controller: { state: 'connecting' } });
    let connection: ClusterConnection;
    try {
      connection = new ClusterConnection(settings, {
        onResource: (kind, namespace, name, annotations, exists) => {
          if (generation !== this.#generation) return;
          if (kind === 'Secret') this.#noteSecret(namespace, name, exists);
          if (settings.namespaces.length && !settings.namespaces.includes(namespace)) return;
          this.resources.changed(this.resources.index.apply(kind, namespace, name, annotations));
          this.#summaryChanged();
        },
        onProblem: (problem) => {
          if (generation !== this.#generation) return;
          if (problem) this.output.appendLine(`${problem.text}: ${problem.detail ?? ''}`);
          this.#setState({ ...this.connectionState, cluster: problem ? { state: 'down', since: Date.now(), problem } : { state: 'up', since: Date.now() } });
        },
      });
    } catch (err) {
      this.#connection = undefined;
      this.resources.index.clear();
      this.#setState({ context: '', cluster: { state: 'down', since: Date.now(), problem: kubeconfigProblem(errorText(err)) }, controller: { state: 'connecting' } });
      return;
    }
    this.#connection = connection;
    this.resources.index.context = connection.context;
    this.output.appendLine(`connected to context ${connection.context}`);
    this.#setState({ ...this.connectionState, context: connection.context });
    await connection.start();
    if (generation !== this.#generation) return;
    if (sameCluster) this.resources.changed(this.resources.index.endRelist());
    if (this.connectionState.cluster.state === 'connecting') this.#setState({ ...this.connectionState, cluster: { state: 'up', since: Date.now() } });
    this.#summaryChanged();
    this.#startPolling(settings.refreshSeconds);
  }

  async reconnect(): Promise<void> {
    if (this.#poll) clearInterval(this.#poll);
    await this.#connection?.stop();
    this.#connection = undefined;
    this.#lastScrape = undefined;
    await this.connect();
  }

  #noteSecret(namespace: string, name: string, exists: boolean): void {
    let names = this.secretNames.get(namespace);
    if (!names) this.secretNames.set(namespace, (names = new Set()));
    if (exists) names.add(name);
    else names.delete(name);
  }

  /** The one place the connection state changes; every view follows it. */
  #setState(next: ConnectionState): void {
    this.connectionState = next;
    this.resources.setConnection(next);
    this.warnings.setConnection(next);
    this.statusBar.setConnection(next);
    this.diagnostics.setConnection(next);
    void vscode.commands.executeCommand('setContext', 'vaultSync.noKubeconfig', next.cluster.state === 'down' && next.cluster.problem.kind === 'no-kubeconfig');
    const problem: Problem | undefined = next.cluster.state === 'down' ? next.cluster.problem : next.controller.state === 'down' ? next.controller.problem : undefined;
    this.controllerView.update(next.cluster.state === 'down' ? undefined : this.controllerSummary, problem, this.resources.index.totals().failed);
    this.#changed.fire();
  }

  /** Totals, warnings and Problems follow the index; coalesced like the tree. */
  #summaryChanged(): void {
    this.#summaryTimer ??= setTimeout(() => {
      this.#summaryTimer = undefined;
      const totals = this.resources.index.totals();
      this.statusBar.update(totals);
      this.warnings.update(warningsFor(this.resources.index.all()));
      if (this.connectionState.controller.state === 'up') this.controllerView.update(this.controllerSummary, undefined, totals.failed);
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
    const { controllerNamespace: namespace, controllerService: service } = c.settings;
    try {
      const [stateText, metricsText] = await Promise.all([c.controller(ENDPOINT.state), c.controller(ENDPOINT.metrics)]);
      if (c !== this.#connection) return;
      const state = JSON.parse(stateText) as ControllerState;
      const now = scrape(metricsText, Date.now());
      this.metrics.add(now);
      this.controllerState = state;
      this.controllerSummary = summarise(state, now, this.#lastScrape);
      this.#lastScrape = now;
      this.#setState({ ...this.connectionState, controller: this.connectionState.controller.state === 'up' ? this.connectionState.controller : { state: 'up', since: Date.now() } });
    } catch (err) {
      if (c !== this.#connection) return;
      const status = err instanceof KubeHttpError ? err.status : undefined;
      const probe = status === undefined || status === 404 || status === 503 ? await c.probeControllerService() : 'unknown';
      const problem = controllerProblem(status, { namespace, service }, probe, errorText(err));
      const was = this.connectionState.controller;
      if (was.state !== 'down' || was.problem.text !== problem.text) this.output.appendLine(`${problem.text}: ${problem.detail ?? ''}`);
      this.#setState({ ...this.connectionState, controller: { state: 'down', since: was.state === 'down' ? was.since : Date.now(), problem } });
    }
  }

  /** Re-reads /metrics only (the metrics panel's own scrape while it is open). */
  async scrapeMetrics(): Promise<MetricsScrape> {
    const text = await this.connection().controller(ENDPOINT.metrics);
    const now = scrape(text, Date.now());
    this.metrics.add(now);
    return now;
  }

  secretExists(namespace: string, name: string): boolean | undefined {
    const names = this.secretNames.get(namespace);
    return names ? names.has(name) : undefined;
  }

  resourceTarget(key: string): { kind: ResourceKind; namespace: string; name: string } | undefined {
    const s = this.resources.index.state(key);
    return s && { kind: s.kind, namespace: s.namespace, name: s.name };
  }

  async dispose(): Promise<void> {
    this.#generation++;
    if (this.#poll) clearInterval(this.#poll);
    if (this.#summaryTimer) clearTimeout(this.#summaryTimer);
    await this.#connection?.stop();
    this.statusBar.dispose();
    this.diagnostics.dispose();
    this.output.dispose();
    this.#changed.dispose();
  }
}
