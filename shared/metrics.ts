// Every metric the engine and the controller export, built on a Registry
// that the host passes in (never prom-client's global one, so tests and
// several instances in one process do not collide).
//
// Labels are small closed sets (operation, status class, kind, result,
// error_type). No label ever carries a path, a name or a value.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { METRIC } from './contract/metrics.ts';
import type { ErrorReason } from './errors.ts';

export type VaultOperation =
  | 'login' | 'renew' | 'lookup' | 'mount' | 'read' | 'write' | 'read_metadata' | 'write_metadata' | 'delete' | 'delete_metadata';


const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** Live readings the throttle provides at scrape time (filled in by the engine). */
export interface ThrottleProbes {
  tokens?: () => number;
  queued?: () => number;
  rate?: () => number;
  /** Ownership markers waiting for spare budget (the writer's). */
  markersPending?: () => number;
}

export function createMetrics(registry: Registry) {
  const registers = [registry];
  const throttleProbes: ThrottleProbes = {};
  const probe = (read: keyof ThrottleProbes) => function (this: Gauge) {
    const value = throttleProbes[read]?.();
    if (value !== undefined && Number.isFinite(value)) this.set(value);
  };
  return {
    throttleProbes,
    // --- throttle (names from the performance document) ---
    rateLimitWait: new Histogram({
      name: METRIC.rateLimitWait,
      help: 'Time a Vault request waited for a throttle token',
      labelNames: ['operation'],
      buckets: [0, 0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    }),
    rateLimitRequests: new Counter({
      name: METRIC.rateLimitRequests,
      help: 'Vault requests that passed through the throttle',
      labelNames: ['operation'],
      registers,
    }),
    rateLimitConfigured: new Gauge({
      name: METRIC.rateLimitConfigured,
      help: 'Configured Vault request rate (requests/s): the ceiling the effective rate never exceeds',
      registers,
    }),
    rateLimitEffective: new Gauge({
      name: METRIC.rateLimitEffective,
      help: 'Rate the throttle refills at now (requests/s)',
      registers,
      collect: probe('rate'),
    }),
    rateLimitTokens: new Gauge({
      name: METRIC.rateLimitTokens,
      help: 'Tokens in the throttle bucket now (burst = full)',
      registers,
      collect: probe('tokens'),
    }),
    rateLimitQueued: new Gauge({
      name: METRIC.rateLimitQueued,
      help: 'Vault requests waiting for a throttle token or a concurrency slot',
      registers,
      collect: probe('queued'),
    }),
    rateLimitBurst: new Gauge({
      name: METRIC.rateLimitBurst,
      help: 'Configured throttle burst (bucket size)',
      registers,
    }),
    rateLimitDecreases: new Counter({
      name: METRIC.rateLimitDecreases,
      help: 'Times Vault\'s backpressure lowered the effective rate, by signal (throttled: 429, overloaded: 503, timeout)',
      labelNames: ['signal'],
      registers,
    }),
    markersPending: new Gauge({
      name: METRIC.ownershipMarkersPending,
      help: 'Ownership markers waiting for spare throttle budget',
      registers,
      collect: probe('markersPending'),
    }),
    markers: new Counter({
      name: METRIC.ownershipMarkers,
      help: 'Ownership marker (custom_metadata) writes, by throttle lane and result (written, failed, dropped)',
      labelNames: ['lane', 'result'],
      registers,
    }),
    // --- batches ---
    batchOperations: new Counter({
      name: METRIC.batchOperations,
      help: 'Operations processed by the batch writer, by result',
      labelNames: ['operation', 'result'],
      registers,
    }),
    batchSize: new Histogram({
      name: METRIC.batchSize,
      help: 'Operations per batch',
      buckets: [1, 2, 3, 5, 10, 20, 50, 100],
      registers,
    }),
    batchDuration: new Histogram({
      name: METRIC.batchDuration,
      help: 'Wall time of one batch, retries included',
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    // --- large secrets ---
    largeSecrets: new Gauge({
      name: METRIC.largeSecrets,
      help: 'Vault documents currently above the large-secret threshold',
      registers,
    }),
    memoryOptimizations: new Counter({
      name: METRIC.memoryOptimizations,
      help: 'Times a payload copy was avoided, by optimisation',
      labelNames: ['optimization'],
      registers,
    }),
    // --- Go operator names ---
    syncAttempts: new Counter({
      name: METRIC.syncAttempts,
      help: 'Sync attempts, by resource kind and result',
      labelNames: ['kind', 'result'],
      registers,
    }),
    syncDuration: new Histogram({
      name: METRIC.syncDuration,
      help: 'Duration of one sync of one resource',
      labelNames: ['kind'],
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    secretsDiscovered: new Gauge({
      name: METRIC.secretsDiscovered,
      help: 'Secrets referenced by annotated resources, as of the last sync of each',
      labelNames: ['kind'],
      registers,
    }),
    secretNotFound: new Counter({
      name: METRIC.secretNotFound,
      help: 'Syncs that failed because a referenced Secret does not exist',
      registers,
    }),
    secretKeyMissing: new Counter({
      name: METRIC.secretKeyMissing,
      help: 'Syncs that failed because a referenced key is missing from its Secret',
      registers,
    }),
    configParseErrors: new Counter({
      name: METRIC.configParseErrors,
      help: 'Annotations that failed to parse or validate',
      registers,
    }),
    vaultWriteErrors: new Counter({
      name: METRIC.vaultWriteErrors,
      help: 'Failed Vault write or delete operations, by error type',
      labelNames: ['error_type'],
      registers,
    }),
    authAttempts: new Counter({
      name: METRIC.authAttempts,
      help: 'Vault logins and renewals, by method and result',
      labelNames: ['method', 'result'],
      registers,
    }),
    // --- rotation ---
    rotationChecks: new Counter({
      name: METRIC.rotationChecks,
      help: 'Rotation checks (did any referenced Secret change since the last sync?)',
      registers,
    }),
    rotationDetected: new Counter({
      name: METRIC.rotationDetected,
      help: 'Rotation checks that found a change and led to a write',
      registers,
    }),
    rotationSkipped: new Counter({
      name: METRIC.rotationSkipped,
      help: 'Rotation checks that found nothing changed, so nothing was written',
      registers,
    }),
    // --- every Vault request ---
    vaultRequests: new Counter({
      name: METRIC.vaultRequests,
      help: 'Vault HTTP requests, by operation and status (HTTP code, or "network")',
      labelNames: ['operation', 'status'],
      registers,
    }),
    vaultRetries: new Counter({
      name: METRIC.vaultRetries,
      help: 'Vault requests retried after a transient failure, by operation and reason',
      labelNames: ['operation', 'reason'],
      registers,
    }),
    vaultRequestDuration: new Histogram({
      name: METRIC.vaultRequestDuration,
      help: 'Vault HTTP request latency (after the throttle), by operation and status',
      labelNames: ['operation', 'status'],
      buckets: LATENCY_BUCKETS,
      registers,
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;

/** Counts one failed write/delete under its error type, a bounded label. */
export function countWriteError(metrics: Metrics | undefined, reason: ErrorReason): void {
  metrics?.vaultWriteErrors.inc({ error_type: reason });
}
