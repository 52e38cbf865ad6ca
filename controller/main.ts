// Entry point of the headless controller (bundled to dist/controller.mjs,
// which runs on Node 24 and Deno 2). Wiring only: every decision lives in
// shared/ and in the controller modules it assembles here; the lifecycle
// (readiness, leadership, the fence, shutdown) is controller/manager.ts.
import process from 'node:process';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import { Registry, collectDefaultMetrics } from 'prom-client';
import { createEngine } from '../shared/engine.ts';
import { KubeHttp, kubeConfigCredentials, type KubeCredentials } from '../shared/kube/http.ts';
import { inClusterCredentials, kubeconfigCredentials } from '../shared/kube/credentials.ts';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../shared/log.ts';
import { createMetrics } from '../shared/metrics.ts';
import { readResourceState } from '../shared/state.ts';
import { VERSION } from '../shared/version.ts';
import { FlagError, parseConfig, usage, type ControllerConfig } from './config.ts';
import { listen, metricsServer, probeServer, RequestAuthorizer, type HistorySource, type Probe } from './http.ts';
import { LeaderElector } from './lease.ts';
import { Manager } from './manager.ts';
import { createControllerMetrics } from './metrics.ts';
import { WorkQueue } from './queue.ts';
import { Reconciler } from './reconciler.ts';
import { resourceKey, isTracked, resourceLabel } from '../shared/resources.ts';
import { stateResponse, throttleWire } from './state-response.ts';
import { performance } from 'node:perf_hooks';
import { StateStore } from './state-store.ts';
import { StatusWriter } from './status.ts';
import { TuningWatcher } from './tuning.ts';
import { ClusterCache } from './cluster-cache.ts';
import { getHeapStatistics } from 'node:v8';
import { applyV8Flags } from './v8-flags.ts';
import { setTimeout as sleep } from 'node:timers/promises';
import { resourceClaims } from './claims.ts';
import { loadLedgerKey, parseKeySecretRef } from './ledger-key.ts';
import { IntentJournal } from './intent-journal.ts';
import { systemClock } from '../shared/clock.ts';
import { ReadBudget } from './read-budget.ts';
import { SecretSource } from './secret-source.ts';
import type { LedgerKey } from '../shared/ledger.ts';
import { backoffDelay, type BackoffPolicy } from '../shared/retry.ts';

/** Waiting for the ledger key Secret: 0.5 s doubling to 5 s. */
const LEDGER_KEY_BACKOFF: BackoffPolicy = { baseMs: 500, maxMs: 5000, jitter: 'none' };
/** How often the intent journal is checked for entries whose resource is gone (after the check at the start of work). */
const JOURNAL_SWEEP_MS = 10 * 60_000;

/**
 * In a pod: the service account. Otherwise the kubeconfig (--kubeconfig,
 * KUBECONFIG, ~/.kube/config). client-node is loaded only for what our own
 * loader does not read (exec/OIDC plugins, proxies, merged files).
 */
async function readClusterId(http: KubeHttp): Promise<string | undefined> {
  try {
    const ns = await http.request('GET', '/api/v1/namespaces/kube-system', { allow404: true });
    return typeof ns?.metadata?.uid === 'string' ? ns.metadata.uid : undefined;
  } catch {
    return undefined;
  }
}

async function loadCredentials(config: ControllerConfig): Promise<KubeCredentials> {
  const file = config.kubeconfig ?? (process.env.KUBERNETES_SERVICE_HOST ? undefined : process.env.KUBECONFIG || join(homedir(), '.kube', 'config'));
  if (!file) return inClusterCredentials(process.env);
  const own = file.includes(':') ? 'unsupported' : await kubeconfigCredentials(file);
  if (own !== 'unsupported') return own;
  const { KubeConfig } = await import('@kubernetes/client-node');
  const kc = new KubeConfig();
  if (file.includes(':')) kc.loadFromDefault();
  else kc.loadFromFile(file);
  return kubeConfigCredentials(kc);
}

function inClusterNamespace(): string | undefined {
  try {
    return readFileSync('/var/run/secrets/kubernetes.io/serviceaccount/namespace', 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

async function main(): Promise<number> {
  let config: ControllerConfig;
  try {
    config = parseConfig(process.argv.slice(2), process.env);
  } catch (err) {
    if (!(err instanceof FlagError)) throw err;
    process.stderr.write(`vault-sync-operator: ${err.message}\n`);
    return 2;
  }
  if (config.help) {
    process.stdout.write(usage());
    return 0;
  }
  if (config.version) {
    process.stdout.write(`vault-sync-operator version ${VERSION}\n`);
    return 0;
  }

  const log = createLogger({ level: config.logLevel, write: (line) => process.stdout.write(line), base: { logger: 'vault-sync-operator' } });
  const v8 = applyV8Flags(process.execArgv, process.env.NODE_OPTIONS);
  if (v8.length) log.debug('V8 flags set at start', { flags: v8.join(' ') });
  const http = new KubeHttp(await loadCredentials(config), { timeoutMs: config.kubeTimeoutMs });
  const registry = new Registry();
  // A 100 ms event-loop sampling: prom-client's default 10 ms alone cost the idle controller 7.6 ms of CPU per second (measured; 0.9 at 100).
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 100 });
  const metrics = createMetrics(registry);
  const controllerMetrics = createControllerMetrics(registry);
  // The pod name when the chart sets POD_NAME: under hostNetwork every pod's hostname is the node's.
  const identity = `${process.env.POD_NAME || hostname()}_${randomUUID().slice(0, 8)}`;
  const abort = new AbortController();

  // The key that signs ledgers: every replica needs it before it can trust (or write) one.
  const controllerNamespace = config.leaderElection.namespace ?? inClusterNamespace() ?? 'default';
  const keyRef = parseKeySecretRef(config.ledgerKeySecret, controllerNamespace);
  let ledgerKey: LedgerKey | undefined;
  for (let attempt = 1; !ledgerKey; attempt++) {
    try {
      ledgerKey = await loadLedgerKey(http, keyRef.namespace, keyRef.name);
      log.info('ledger key loaded', { secret: `${keyRef.namespace}/${keyRef.name}`, keyId: ledgerKey.id });
    } catch (err) {
      log.warn('cannot load the ledger key; retrying', { secret: `${keyRef.namespace}/${keyRef.name}`, attempt, error: err instanceof Error ? err.message : String(err) });
      if (attempt >= 30) throw err;
      await sleep(backoffDelay(LEDGER_KEY_BACKOFF, attempt));
    }
  }

  // Which cluster this is, for ownership markers: without --cluster-name (or with a shared one), two
  // clusters writing into one Vault would otherwise share owner ids. Needs get on namespaces/kube-system.
  const clusterId = await readClusterId(http);
  if (!clusterId) log.warn('cannot read the kube-system namespace UID: ownership markers cannot tell clusters apart; give each cluster its own --cluster-name when several share a Vault mount');
  const engine = createEngine({
    clusterId,
    connection: {
      addr: config.vault.addr,
      namespace: config.vault.namespace,
      caPem: config.vault.caCertFile ? readFileSync(config.vault.caCertFile, 'utf8') : undefined,
      tlsServerName: config.vault.tlsServerName,
      skipVerify: config.vault.skipVerify,
      timeoutMs: config.vault.timeoutMs,
    },
    auth: config.vault.auth,
    rateLimit: config.rateLimit,
    burst: config.rateLimitBurst,
    adaptiveRate: config.rateLimitAdaptive,
    gatherMs: config.rateLimitGatherMs,
    batchSize: config.batchSize,
    batchDelayMs: config.batchDelayMs,
    largeSecretBytes: config.largeSecretBytes,
    maxEntryBytes: config.maxEntryBytes,
    deleteMode: config.deleteMode,
    pathPolicy: config.pathPolicy,
    metrics,
    log,
    signal: abort.signal,
    ledgerKey,
    fence: () => manager.vaultFence(),
  });
  const heapLimit = getHeapStatistics().heap_size_limit;
  const budget = new ReadBudget(config.secretReadBudget ?? Math.min(64 * 1024 * 1024, Math.floor(heapLimit / 3)));
  controllerMetrics.probes.budgetFree = () => budget.free;
  controllerMetrics.probes.budgetWaiting = () => budget.waiting;
  const secrets = new SecretSource({ http, budget, maxBytesPerResource: config.maxBytesPerResource });

  // The reconciler's writes to Kubernetes obey the same fence as its Vault writes.
  // Status and ledger patches record what already happened in Vault: allowed while the lease is held.
  const fencedHttp = http.withWriteFence(() => manager.mayRecord());
  const state = new StateStore();
  const status = new StatusWriter({ http: fencedHttp, instance: identity, log, metrics: controllerMetrics });
  let reconciler: Reconciler | undefined;
  const queue = new WorkQueue({
    concurrency: config.maxConcurrentReconciles,
    handler: (key) => reconciler!.reconcile(key),
    backoff: config.queueBackoff,
    metrics: controllerMetrics,
    log,
  });
  const cache = new ClusterCache({
    http, namespaces: config.namespaces, enqueue: (key) => queue.add(key), metrics: controllerMetrics, log,
    claims: (kind, view) => resourceClaims(kind, view, { cluster: config.clusterName, key: ledgerKey! }),
  });
  // The reconciler reads batchSize from this object at each reconcile: the tuning ConfigMap updates it in place.
  const reconcilerConfig = {
    cluster: config.clusterName, adoptPolicy: config.adoptPolicy, adoptNamespaces: config.adoptNamespaces, deleteMode: config.deleteMode,
    maxSecretsPerResource: config.maxSecretsPerResource, minForcedWriteIntervalMs: config.minForcedWriteIntervalMs, batchSize: config.batchSize,
  };
  // Writes to new paths are journaled first (crash safety, intent-journal.ts); the leader loads it before its first reconcile.
  const journalRef = parseKeySecretRef(config.intentJournal, controllerNamespace);
  const journal = new IntentJournal({
    http: fencedHttp, key: ledgerKey, namespace: journalRef.namespace, name: journalRef.name, log,
    metrics: { entries: controllerMetrics.journalEntries, rejected: controllerMetrics.journalRejected },
  });
  reconciler = new Reconciler({
    http: fencedHttp, cache, engine, status, state, log, metrics, controllerMetrics, secrets, ledgerKey, journal, config: reconcilerConfig,
  });
  const watched = (namespace: string) => config.namespaces.length === 0 || config.namespaces.includes(namespace);
  const sweepJournal = () => reconciler!.sweepJournal(watched).catch((err: unknown) => log.warn('intent journal sweep failed; it runs again later', { error: err instanceof Error ? err.message : String(err) }));

  // Retuning at run time: every replica applies, the leader reports (Events).
  const tuningRef = config.tuningConfigMap ? parseKeySecretRef(config.tuningConfigMap, controllerNamespace) : undefined;
  const tuning = tuningRef && new TuningWatcher({
    http, namespace: tuningRef.namespace, name: tuningRef.name, metrics: controllerMetrics, log,
    flags: { rateLimit: config.rateLimit, rateLimitBurst: config.rateLimitBurst, batchSize: config.batchSize, batchDelayMs: config.batchDelayMs, maxConcurrentReconciles: config.maxConcurrentReconciles },
    apply: {
      throttle: (rate, burst) => {
        if (!engine.retune.throttle(rate, burst)) log.warn('tuning: the throttle is unlimited (--rate-limit=Infinity); rate and burst ignored');
      },
      batchSize: (n) => {
        engine.retune.batchSize(n);
        reconcilerConfig.batchSize = n;
      },
      batchDelay: (ms) => engine.retune.batchDelay(ms),
      concurrency: (n) => queue.setConcurrency(n),
    },
    event: (subject, uid, spec) => status.event(subject, uid, spec),
    mayReport: () => manager.mayWrite(),
  });

  let leaderElection: { namespace: string } | undefined;
  if (config.leaderElect) {
    const namespace = config.leaderElection.namespace ?? inClusterNamespace();
    if (!namespace) {
      process.stderr.write('vault-sync-operator: --leader-elect needs --leader-election-namespace (or POD_NAMESPACE) outside a pod\n');
      return 2;
    }
    leaderElection = { namespace };
  }
  let closeListeners = () => {};
  const manager = new Manager({
    cache, queue, identity, log,
    async prepare() {
      await journal.load();
      // Entries whose resource is gone: now, and every ten minutes (a run whose resource vanished mid-cleanup).
      const sweep = () => void sweepJournal().finally(() => systemClock.setTimer(sweep, JOURNAL_SWEEP_MS, { unref: true }));
      sweep();
    },
    vault: {
      authenticated: () => engine.authStatus().authenticated,
      ensureLogin: () => engine.ensureLogin(),
      async abort() {
        abort.abort();
        await engine.stop();
      },
    },
    elector: leaderElection && ((callbacks) => new LeaderElector({
      http, namespace: leaderElection!.namespace, name: config.leaderElection.id, identity, log,
      leaseDurationMs: config.leaderElection.leaseDurationMs,
      renewDeadlineMs: config.leaderElection.renewDeadlineMs,
      retryPeriodMs: config.leaderElection.retryPeriodMs,
      ...callbacks,
    })),
    leaderGauge: controllerMetrics.leader,
    drainTimeoutMs: config.shutdownDrainMs,
    closeListeners: () => closeListeners(),
  });
  const leading = () => manager.leading();

  const probe: Probe = {
    ready: () => manager.ready(),
    state() {
      const throttle = engine.throttleStatus();
      return stateResponse({
        version: VERSION,
        identity,
        leader: leading(),
        leaderIdentity: manager.leaderIdentity(),
        ready: probe.ready(),
        clusterName: config.clusterName,
        queue: { depth: queue.depth(), inFlight: queue.inFlight() },
        watches: cache.health(),
        vault: { addr: config.vault.addr, ...engine.authStatus() },
        ...(throttle ? { throttle: throttleWire(throttle, performance.now(), Date.now()) } : {}),
        counts: cache.counts(),
        tracked: [...cache.tracked()].map(({ kind, view }) => ({ kind, namespace: view.metadata.namespace ?? '', name: view.metadata.name ?? '', annotations: view.metadata.annotations })),
        extras: (kind, namespace, name) => state.get(resourceKey({ kind, namespace, name })),
      });
    },
  };

  // KV version history of one tracked resource's ledger paths (metadata only), for the extension's timeline.
  const history: HistorySource = async (kind, namespace, name) => {
    const view = kind === 'Deployment' ? cache.deployment(namespace, name) : cache.secret(namespace, name);
    if (!view || !isTracked(view.metadata)) return undefined;
    const { paths } = readResourceState(kind, namespace, name, view.metadata.annotations);
    const resource = { kind, namespace, name, cluster: config.clusterName, label: resourceLabel(kind, namespace, name) };
    return { kind, namespace, name, paths: await engine.history(resource, paths.map((p) => p.path)) };
  };

  const authorizer = new RequestAuthorizer(http, log);
  const metricsHttp = metricsServer({ registry, probe, history, access: config.metricsAuth ? { mode: 'token', authorizer } : { mode: 'open' }, log });
  const probeHttp = probeServer(probe);
  // Behind the apiserver's service proxy no client token arrives (the apiserver
  // strips it): RBAC on services/proxy is the gate there, and resources are
  // listed only for a caller who proves who they are. Off unless asked for.
  const statusHttp = config.statusBindAddress
    ? metricsServer({ registry, probe, history, access: config.metricsAuth ? { mode: 'proxied', authorizer } : { mode: 'open' }, log })
    : undefined;
  const metricsAt = await listen(metricsHttp, config.metricsBindAddress);
  const probesAt = await listen(probeHttp, config.healthProbeBindAddress);
  if (statusHttp) await listen(statusHttp, config.statusBindAddress!);
  log.info('controller starting', {
    version: VERSION, identity, metrics: `${metricsAt.host}:${metricsAt.port}`, probes: `${probesAt.host}:${probesAt.port}`,
    namespaces: config.namespaces.length ? config.namespaces : 'all', vault: config.vault.addr, leaderElect: config.leaderElect,
  });

  closeListeners = () => {
    metricsHttp.close();
    probeHttp.close();
    statusHttp?.close();
    void tuning?.stop();
  };
  manager.start();
  if (tuning) {
    tuning.start().catch((err: unknown) => log.warn('tuning ConfigMap watch did not start', { error: (err as Error).message }));
    log.info('watching the tuning ConfigMap', { configMap: `${tuningRef!.namespace}/${tuningRef!.name}` });
  }

  process.once('SIGTERM', () => void manager.shutdown('SIGTERM', 0));
  process.once('SIGINT', () => void manager.shutdown('SIGINT', 0));
  return manager.done;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`vault-sync-operator: fatal: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
