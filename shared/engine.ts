// Wires the sync engine together: one throttle, one Vault client, one KV
// store and one batch writer, sharing one metrics set. Hosts (controller,
// benchmarks, tests) build the engine here instead of repeating the wiring,
// and see only the operations below: the parts stay private, so every
// request keeps going through the one throttle and the one fence.
//   SyncEngine  what the reconciler needs (batched writes, content tags);
//               a test can stand in for it with a plain object
//   Engine      adds what the controller's wiring needs (login, readiness,
//               history reads for /history, marker drain, the throttle's
//               status for /state, run-time retuning, stop)
import type { Registry } from 'prom-client';
import type { Clock } from './clock.ts';
import { LedgerKey } from './ledger.ts';
import type { Logger } from './log.ts';
import { createMetrics, type Metrics } from './metrics.ts';
import { parsePathPolicy, DEFAULT_PATH_POLICY, type PathPolicy, type PolicyContext } from './paths.ts';
import type { PathHistoryWire } from './contract/state.ts';
import type { BackoffPolicy } from './retry.ts';
import { RateGovernor, type ThrottleStatus } from './rate-governor.ts';
import { createThrottle } from './throttle.ts';
import { VaultClient, type AuthStatus, type VaultConnection } from './vault/client.ts';
import { readHistory } from './vault/history.ts';
import type { AuthConfig, FileReader } from './vault/auth.ts';
import { KvStore, type KvOperations } from './vault/kv.ts';
import { BatchWriter, type OpResult, type WriteOp } from './writer.ts';

export interface EngineConfig {
  connection: VaultConnection;
  auth: AuthConfig;
  /** Requests per second through the one throttle (default 10); Infinity disables it. */
  rateLimit?: number;
  /** Token bucket size (default 20). */
  burst?: number;
  /** Lower the rate on Vault's backpressure (429, overload 503, timeouts), recover gradually (default true). */
  adaptiveRate?: boolean;
  maxConcurrentRequests?: number;
  /** A backlog is served in groups of the tokens this many ms accrue (throttle.ts, gathering); 0 serves one at a time. */
  gatherMs?: number;
  /** Called as each Vault request leaves the throttle (instrumentation). */
  onRequestStart?: (operation: string) => void;
  batchSize?: number;
  /** Pause between two batches of one writer run, ms. */
  batchDelayMs?: number;
  backoff?: BackoffPolicy;
  largeSecretBytes?: number;
  /** The storage's entry limit (raft max_entry_size). */
  maxEntryBytes?: number;
  deleteMode?: 'all' | 'latest';
  /** Parsed once by the host (parsePathPolicy); default: every path. */
  pathPolicy?: PathPolicy;
  registry?: Registry;
  /** Share an existing metrics set (several engines in one process, e.g. tests). */
  metrics?: Metrics;
  log?: Logger;
  signal?: AbortSignal;
  readFile?: FileReader;
  /** Checked right before each Vault request is sent; false refuses it (the controller's leader fence). */
  fence?: () => boolean;
  /** The controller's key (content tags, ledger MACs); a per-process one when absent. */
  ledgerKey?: LedgerKey;
  /** This cluster's id (kube-system UID) for ownership markers; see vault/ownership.ts. */
  clusterId?: string;
  /** Wraps the KV store the writer uses (instrumentation; fault injection at the KV seam in tests). */
  decorateKv?: (kv: KvOperations) => KvOperations;
  clock?: Clock;
}

export interface SyncEngine {
  /** Runs ops in batches through the throttle; one failure never sinks the batch. */
  run(ops: readonly WriteOp[]): Promise<OpResult[]>;
  /** The keyed content tag of an unkeyed hash (ledger.ts). */
  tag(hash: string): string;
  /** The keyed tag of a document's values, as recorded in the ledger. */
  dataTag(values: Record<string, string>): string;
}

export interface Engine extends SyncEngine {
  readonly metrics: Metrics | undefined;
  authStatus(): AuthStatus;
  ensureLogin(): Promise<void>;
  /** KV version history (metadata only) of a resource's ledger paths, on the background lane. */
  history(resource: PolicyContext & { label: string }, paths: readonly string[]): Promise<PathHistoryWire[]>;
  /** Resolves once queued ownership markers are written (or given up). */
  markersIdle(): Promise<void>;
  /** The throttle as the governor sees it (effective and configured rate, backpressure); undefined when unlimited. */
  throttleStatus(): ThrottleStatus | undefined;
  /** Run-time retuning (the tuning ConfigMap); nothing in flight is interrupted. */
  retune: {
    /** Configured rate and burst; false when the throttle is unlimited (--rate-limit=Infinity) and this changes nothing. */
    throttle(rate: number, burst: number): boolean;
    batchSize(n: number): void;
    batchDelay(ms: number): void;
  };
  stop(): Promise<void>;
}

export const DEFAULT_RATE_LIMIT = 10;
export const DEFAULT_BURST = 20;
/** Half a second: groups of 5 at the default 10 req/s (about a quarter less controller CPU per synced resource, README Performance). */
export const DEFAULT_GATHER_MS = 500;

export function createEngine(config: EngineConfig): Engine {
  const metrics = config.metrics ?? (config.registry ? createMetrics(config.registry) : undefined);
  const throttle = createThrottle({
    ratePerSecond: config.rateLimit ?? DEFAULT_RATE_LIMIT,
    burst: config.burst ?? DEFAULT_BURST,
    maxConcurrent: config.maxConcurrentRequests,
    gatherMs: config.gatherMs ?? DEFAULT_GATHER_MS,
    clock: config.clock,
    onStart: config.onRequestStart,
    metrics,
  });
  if (metrics) {
    metrics.throttleProbes.tokens = () => throttle.tokens();
    metrics.throttleProbes.queued = () => throttle.queued();
    metrics.throttleProbes.rate = () => throttle.rate();
  }
  const governor = Number.isFinite(throttle.rate())
    ? new RateGovernor({ throttle, configuredRate: throttle.rate(), configuredBurst: throttle.burst(), adaptive: config.adaptiveRate ?? true, clock: config.clock, metrics, log: config.log })
    : undefined;
  const client = new VaultClient({
    connection: config.connection, auth: config.auth, throttle, backoff: config.backoff, signal: config.signal, metrics, log: config.log, readFile: config.readFile,
    fence: config.fence, clock: config.clock, onOutcome: governor && ((o) => governor.observe(o)),
  });
  const kv = new KvStore(client, { log: config.log, clock: config.clock });
  const policy = config.pathPolicy ?? parsePathPolicy(DEFAULT_PATH_POLICY);
  const writer = new BatchWriter({
    kv: config.decorateKv ? config.decorateKv(kv) : kv,
    ledgerKey: config.ledgerKey ?? LedgerKey.ephemeral(),
    clusterId: config.clusterId,
    clock: config.clock,
    policy,
    batchSize: config.batchSize,
    batchDelayMs: config.batchDelayMs,
    backoff: config.backoff,
    largeSecretBytes: config.largeSecretBytes,
    maxEntryBytes: config.maxEntryBytes,
    defaultDeleteMode: config.deleteMode,
    metrics,
    log: config.log,
    signal: config.signal,
  });
  if (metrics) metrics.throttleProbes.markersPending = () => writer.pendingMarkers;
  const historyDeps = { client, resolveMount: kv.resolveMount.bind(kv), policy };
  return {
    metrics,
    run: (ops) => writer.run(ops),
    tag: (hash) => writer.tag(hash),
    dataTag: (values) => writer.dataTag(values),
    authStatus: () => client.authStatus(),
    ensureLogin: () => client.ensureLogin(),
    history: (resource, paths) => readHistory(historyDeps, resource, paths),
    markersIdle: () => writer.markersIdle(),
    throttleStatus: () => governor?.status(),
    retune: {
      throttle: (rate, burst) => {
        governor?.setConfigured(rate, burst);
        return governor !== undefined;
      },
      batchSize: (n) => writer.setBatchSize(n),
      batchDelay: (ms) => writer.setBatchDelay(ms),
    },
    async stop() {
      governor?.stop();
      writer.stop();
      client.stop();
      await throttle.stop();
    },
  };
}
