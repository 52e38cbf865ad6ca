// Wires the sync engine together: one throttle, one Vault client, one KV
// store and one batch writer, sharing one metrics set. Hosts (controller,
// benchmarks, tests) build the engine here instead of repeating the wiring.
import type { Registry } from 'prom-client';
import type { Clock } from './clock.ts';
import { LedgerKey } from './ledger.ts';
import type { Logger } from './log.ts';
import { createMetrics, type Metrics } from './metrics.ts';
import { parsePathPolicy, DEFAULT_PATH_POLICY } from './paths.ts';
import type { BackoffPolicy } from './retry.ts';
import { RateGovernor } from './rate-governor.ts';
import { createThrottle, type Throttle } from './throttle.ts';
import { VaultClient, type VaultConnection } from './vault/client.ts';
import type { AuthConfig, FileReader } from './vault/auth.ts';
import { KvStore, type KvOperations } from './vault/kv.ts';
import { BatchWriter } from './writer.ts';

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
  pathPolicy?: string;
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
  /** Wraps the KV store the writer uses (instrumentation; fault injection at the KV seam in tests). */
  decorateKv?: (kv: KvOperations) => KvOperations;
  clock?: Clock;
}

export interface Engine {
  throttle: Throttle;
  /** Retunes the throttle: Vault's backpressure, and the configured rate at run time. Undefined when unlimited. */
  governor: RateGovernor | undefined;
  client: VaultClient;
  kv: KvStore;
  writer: BatchWriter;
  metrics: Metrics | undefined;
  stop(): Promise<void>;
}

export const DEFAULT_RATE_LIMIT = 10;
export const DEFAULT_BURST = 20;

export function createEngine(config: EngineConfig): Engine {
  const metrics = config.metrics ?? (config.registry ? createMetrics(config.registry) : undefined);
  const throttle = createThrottle({
    ratePerSecond: config.rateLimit ?? DEFAULT_RATE_LIMIT,
    burst: config.burst ?? DEFAULT_BURST,
    maxConcurrent: config.maxConcurrentRequests,
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
  const writer = new BatchWriter({
    kv: config.decorateKv ? config.decorateKv(kv) : kv,
    ledgerKey: config.ledgerKey ?? LedgerKey.ephemeral(),
    clock: config.clock,
    policy: parsePathPolicy(config.pathPolicy ?? DEFAULT_PATH_POLICY),
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
  return {
    throttle, governor, client, kv, writer, metrics,
    async stop() {
      governor?.stop();
      writer.stop();
      client.stop();
      await throttle.stop();
    },
  };
}
