// Entry point of the headless controller (bundled to dist/controller.mjs,
// which runs on Node 24 and Deno 2). Wiring only: every decision lives in
// shared/ and in the controller modules it assembles here.
import process from 'node:process';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import { KubeConfig } from '@kubernetes/client-node';
import { Registry, collectDefaultMetrics } from 'prom-client';
import { createEngine } from '../shared/engine.ts';
import { KubeHttp } from '../shared/kube/http.ts';
import { createLogger } from '../shared/log.ts';
import { createMetrics } from '../shared/metrics.ts';
import { readResourceState } from '../shared/state.ts';
import { VERSION } from '../shared/version.ts';
import { FlagError, parseConfig, usage, type ControllerConfig } from './config.ts';
import { listen, metricsServer, probeServer, RequestAuthorizer, type Probe } from './http.ts';
import { LeaderElector } from './lease.ts';
import { createControllerMetrics } from './metrics.ts';
import { WorkQueue } from './queue.ts';
import { Reconciler } from './reconciler.ts';
import { formatKey } from './resources.ts';
import { StateStore } from './state-store.ts';
import { StatusWriter } from './status.ts';
import { ClusterCache } from './watch.ts';
import { getHeapStatistics } from 'node:v8';
import { setTimeout as sleep } from 'node:timers/promises';
import { resourceClaims } from './claims.ts';
import { loadLedgerKey, parseKeySecretRef } from './ledger-key.ts';
import { ReadBudget } from './read-budget.ts';
import { SecretSource } from './secret-source.ts';
import type { LedgerKey } from '../shared/ledger.ts';

function loadKubeConfig(config: ControllerConfig): KubeConfig {
  const kc = new KubeConfig();
  if (config.kubeconfig) kc.loadFromFile(config.kubeconfig);
  else if (process.env.KUBERNETES_SERVICE_HOST) kc.loadFromCluster();
  else kc.loadFromDefault();
  return kc;
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
  const kc = loadKubeConfig(config);
  const http = new KubeHttp(kc);
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
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
      await sleep(Math.min(5000, 250 * 2 ** attempt));
    }
  }

  const engine = createEngine({
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
    batchSize: config.batchSize,
    largeSecretBytes: config.largeSecretBytes,
    maxSecretBytes: config.maxSecretBytes,
    deleteMode: config.deleteMode,
    pathPolicy: config.pathPolicy,
    metrics,
    log,
    signal: abort.signal,
    ledgerKey,
  });
  const heapLimit = getHeapStatistics().heap_size_limit;
  const budget = new ReadBudget(config.secretReadBudget ?? Math.min(64 * 1024 * 1024, Math.floor(heapLimit / 3)));
  controllerMetrics.probes.budgetFree = () => budget.free;
  controllerMetrics.probes.budgetWaiting = () => budget.waiting;
  const secrets = new SecretSource({ http, budget, maxBytesPerResource: config.maxBytesPerResource });

  const state = new StateStore();
  const status = new StatusWriter({ http, instance: identity, log, metrics: controllerMetrics });
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
  reconciler = new Reconciler({
    http, cache, engine, status, state, log, metrics, controllerMetrics, secrets, ledgerKey,
    config: {
      cluster: config.clusterName, adoptPolicy: config.adoptPolicy, adoptNamespaces: config.adoptNamespaces, deleteMode: config.deleteMode,
      maxSecretsPerResource: config.maxSecretsPerResource, minForcedWriteIntervalMs: config.minForcedWriteIntervalMs, batchSize: config.batchSize,
    },
  });

  let elector: LeaderElector | undefined;
  let working = false;
  const leading = () => (elector ? elector.leading : true);

  const probe: Probe = {
    ready() {
      const watches = cache.health();
      const vault = engine.client.authStatus();
      const checks: Record<string, boolean | string> = { cachesSynced: watches.synced, watchesHealthy: watches.healthy, leader: leading() };
      // A standby follower is ready: it only needs its caches. The leader also needs Vault.
      if (leading()) checks.vaultLogin = vault.authenticated;
      return { ready: watches.synced && watches.healthy && (!leading() || vault.authenticated), checks };
    },
    state() {
      const ready = probe.ready();
      const resources = [...cache.tracked()].map(({ kind, view }) => {
        const ns = view.metadata.namespace ?? '';
        const name = view.metadata.name ?? '';
        return { ...readResourceState(kind, ns, name, view.metadata.annotations), ...state.get(formatKey({ kind, namespace: ns, name })) };
      });
      return {
        version: VERSION,
        identity,
        leader: leading(),
        leaderIdentity: elector ? elector.holder : identity,
        ready,
        clusterName: config.clusterName,
        queue: { depth: queue.depth(), inFlight: queue.inFlight() },
        watches: cache.health(),
        vault: { addr: config.vault.addr, ...engine.client.authStatus() },
        counts: cache.counts(),
        resources,
      };
    },
  };

  const authorizer = new RequestAuthorizer(http, log);
  const metricsHttp = metricsServer({ registry, probe, access: config.metricsAuth ? { mode: 'token', authorizer } : { mode: 'open' }, log });
  const probeHttp = probeServer(probe);
  // Behind the apiserver's service proxy no client token arrives (the apiserver
  // strips it): RBAC on services/proxy is the gate there, and resources are
  // listed only for a caller who proves who they are. Off unless asked for.
  const statusHttp = config.statusBindAddress
    ? metricsServer({ registry, probe, access: config.metricsAuth ? { mode: 'proxied', authorizer } : { mode: 'open' }, log })
    : undefined;
  const metricsAt = await listen(metricsHttp, config.metricsBindAddress);
  const probesAt = await listen(probeHttp, config.healthProbeBindAddress);
  if (statusHttp) await listen(statusHttp, config.statusBindAddress!);
  log.info('controller starting', {
    version: VERSION, identity, metrics: `${metricsAt.host}:${metricsAt.port}`, probes: `${probesAt.host}:${probesAt.port}`,
    namespaces: config.namespaces.length ? config.namespaces : 'all', vault: config.vault.addr, leaderElect: config.leaderElect,
  });

  // Caches start in every instance, so a follower that takes over is ready at once.
  const cacheReady = cache.start();
  // While leading, keep a Vault login: readiness needs it, and a login that
  // failed at start must not wait for the next sync to be retried.
  let loginTimer: ReturnType<typeof setInterval> | undefined;
  const keepLoggedIn = () => {
    if (!engine.client.authStatus().authenticated) {
      void engine.client.ensureLogin().catch((err) => log.warn('vault login failed; retrying', { error: err instanceof Error ? err.message : String(err) }));
    }
  };
  const startWork = async () => {
    if (working) return;
    working = true;
    controllerMetrics.leader.set(1);
    await cacheReady;
    keepLoggedIn();
    loginTimer = setInterval(keepLoggedIn, 5000);
    loginTimer.unref?.();
    queue.start();
    log.info('reconciling', { resources: cache.counts() });
  };

  let exitCode = 0;
  let shuttingDown: Promise<void> | undefined;
  const shutdown = (reason: string, code: number) => {
    exitCode = Math.max(exitCode, code);
    shuttingDown ??= (async () => {
      log.info('shutting down', { reason });
      if (loginTimer) clearInterval(loginTimer);
      await queue.shutdown(); // finish what is in flight
      log.debug('shutdown: queue drained');
      abort.abort();
      await engine.stop();
      await elector?.release();
      controllerMetrics.leader.set(0);
      log.debug('shutdown: vault client stopped, lease released');
      await cache.stop();
      log.debug('shutdown: watches stopped');
      metricsHttp.close();
      probeHttp.close();
      statusHttp?.close();
    })();
    return shuttingDown;
  };

  if (config.leaderElect) {
    const namespace = config.leaderElection.namespace ?? inClusterNamespace();
    if (!namespace) {
      process.stderr.write('vault-sync-operator: --leader-elect needs --leader-election-namespace (or POD_NAMESPACE) outside a pod\n');
      return 2;
    }
    elector = new LeaderElector({
      http, namespace, name: config.leaderElection.id, identity, log,
      leaseDurationMs: config.leaderElection.leaseDurationMs,
      renewDeadlineMs: config.leaderElection.renewDeadlineMs,
      retryPeriodMs: config.leaderElection.retryPeriodMs,
      onStartedLeading: () => void startWork(),
      onStoppedLeading: () => {
        // No fencing exists: stop every Vault call now, then exit so a fresh process campaigns again.
        abort.abort();
        void engine.throttle.stop();
        controllerMetrics.leader.set(0);
        void shutdown('leader lease lost', 1).then(() => process.exit(1));
      },
    });
    elector.start();
  } else {
    void startWork();
  }

  await new Promise<void>((resolve) => {
    const onSignal = (signal: string) => () => void shutdown(signal, 0).then(resolve);
    process.once('SIGTERM', onSignal('SIGTERM'));
    process.once('SIGINT', onSignal('SIGINT'));
  });
  return exitCode;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`vault-sync-operator: fatal: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
