// Every metric the engine and the controller export, built on a Registry
// that the host passes in (never prom-client's global one, so tests and
// several instances in one process do not collide).
//
// Labels are small closed sets (operation, status class, kind, result,
// error_type). No label ever carries a path, a name or a value.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { ErrorReason } from './errors.ts';

export type VaultOperation =
  | 'login' | 'renew' | 'lookup' | 'mount' | 'read' | 'write' | 'read_metadata' | 'write_metadata' | 'delete' | 'delete_metadata';

export type SyncKind = 'Deployment' | 'Secret';
export type SyncResult = 'success' | 'failure' | 'skipped';

const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** Live readings the throttle provides at scrape time (filled in by the engine). */
export interface ThrottleProbes {
  tokens?: () => number;
  queued?: () => number;
  rate?: () => number;
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
      name: 'vault_rate_limit_wait_duration_seconds',
      help: 'Time a Vault request waited for a throttle token',
      labelNames: ['operation'],
      buckets: [0, 0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    }),
    rateLimitRequests: new Counter({
      name: 'vault_rate_limit_requests_total',
      help: 'Vault requests that passed through the throttle',
      labelNames: ['operation'],
      registers,
    }),
    rateLimitConfigured: new Gauge({
      name: 'vault_rate_limit_configured_rate',
      help: 'Configured Vault request rate (requests/s): the ceiling the effective rate never exceeds',
      registers,
    }),
    rateLimitEffective: new Gauge({
      name: 'vault_rate_limit_effective_rate',
      help: 'Rate the throttle refills at now (requests/s)',
      registers,
      collect: probe('rate'),
    }),
    rateLimitTokens: new Gauge({
      name: 'vault_rate_limit_bucket_tokens',
      help: 'Tokens in the throttle bucket now (burst = full)',
      registers,
      collect: probe('tokens'),
    }),
    rateLimitQueued: new Gauge({
      name: 'vault_rate_limit_queued_requests',
      help: 'Vault requests waiting for a throttle token or a concurrency slot',
      registers,
      collect: probe('queued'),
    }),
    rateLimitBurst: new Gauge({
      name: 'vault_rate_limit_burst',
      help: 'Configured throttle burst (bucket size)',
      registers,
    }),
    markers: new Counter({
      name: 'vault_sync_operator_ownership_markers_total',
      help: 'Ownership marker (custom_metadata) writes, by throttle lane and result (written, failed, dropped)',
      labelNames: ['lane', 'result'],
      registers,
    }),
    // --- batches ---
    batchOperations: new Counter({
      name: 'vault_batch_operations_total',
      help: 'Operations processed by the batch writer, by result',
      labelNames: ['operation', 'result'],
      registers,
    }),
    batchSize: new Histogram({
      name: 'vault_batch_size_histogram',
      help: 'Operations per batch',
      buckets: [1, 2, 3, 5, 10, 20, 50, 100],
      registers,
    }),
    batchDuration: new Histogram({
      name: 'vault_batch_duration_seconds',
      help: 'Wall time of one batch, retries included',
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    // --- large secrets ---
    largeSecrets: new Gauge({
      name: 'vault_large_secret_count',
      help: 'Vault documents currently above the large-secret threshold',
      registers,
    }),
    memoryOptimizations: new Counter({
      name: 'vault_memory_optimization_applied_total',
      help: 'Times a payload copy was avoided, by optimisation',
      labelNames: ['optimization'],
      registers,
    }),
    // --- Go operator names ---
    syncAttempts: new Counter({
      name: 'vault_sync_operator_sync_attempts_total',
      help: 'Sync attempts, by resource kind and result',
      labelNames: ['kind', 'result'],
      registers,
    }),
    syncDuration: new Histogram({
      name: 'vault_sync_operator_sync_duration_seconds',
      help: 'Duration of one sync of one resource',
      labelNames: ['kind'],
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    secretsDiscovered: new Gauge({
      name: 'vault_sync_operator_secrets_discovered',
      help: 'Secrets referenced by annotated resources, as of the last sync of each',
      labelNames: ['kind'],
      registers,
    }),
    secretNotFound: new Counter({
      name: 'vault_sync_operator_secret_not_found_errors_total',
      help: 'Syncs that failed because a referenced Secret does not exist',
      registers,
    }),
    secretKeyMissing: new Counter({
      name: 'vault_sync_operator_secret_key_missing_errors_total',
      help: 'Syncs that failed because a referenced key is missing from its Secret',
      registers,
    }),
    configParseErrors: new Counter({
      name: 'vault_sync_operator_config_parse_errors_total',
      help: 'Annotations that failed to parse or validate',
      registers,
    }),
    vaultWriteErrors: new Counter({
      name: 'vault_sync_operator_vault_write_errors_total',
      help: 'Failed Vault write or delete operations, by error type',
      labelNames: ['error_type'],
      registers,
    }),
    authAttempts: new Counter({
      name: 'vault_sync_operator_auth_attempts_total',
      help: 'Vault logins and renewals, by method and result',
      labelNames: ['method', 'result'],
      registers,
    }),
    // --- rotation ---
    rotationChecks: new Counter({
      name: 'vault_sync_rotation_checks_total',
      help: 'Rotation checks (did any referenced Secret change since the last sync?)',
      registers,
    }),
    rotationDetected: new Counter({
      name: 'vault_sync_rotation_detected_total',
      help: 'Rotation checks that found a change and led to a write',
      registers,
    }),
    rotationSkipped: new Counter({
      name: 'vault_sync_rotation_skipped_total',
      help: 'Rotation checks that found nothing changed, so nothing was written',
      registers,
    }),
    // --- every Vault request ---
    vaultRequests: new Counter({
      name: 'vault_sync_operator_vault_requests_total',
      help: 'Vault HTTP requests, by operation and status (HTTP code, or "network")',
      labelNames: ['operation', 'status'],
      registers,
    }),
    vaultRetries: new Counter({
      name: 'vault_sync_operator_vault_retries_total',
      help: 'Vault requests retried after a transient failure, by operation and reason',
      labelNames: ['operation', 'reason'],
      registers,
    }),
    vaultRequestDuration: new Histogram({
      name: 'vault_sync_operator_vault_request_duration_seconds',
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
