// The Controller view's model: what the controller's /state and /metrics
// say, reduced to the figures people look at. Pure.
import { buckets, bucketDelta, parsePrometheus, quantile, sum, type Sample } from './prometheus.ts';

export interface ControllerState {
  version?: string;
  identity?: string;
  leader?: boolean;
  leaderIdentity?: string;
  ready?: { ready: boolean; checks: Record<string, boolean | string> };
  watches?: { synced: boolean; healthy: boolean };
  queue?: { depth: number; inFlight: number };
  vault?: { addr?: string; authenticated?: boolean };
}

export interface MetricsScrape {
  at: number;
  samples: Sample[];
}

export interface ControllerSummary {
  version: string;
  leader: string;
  health: 'ready' | 'not ready' | 'unknown';
  watchHealth: 'healthy' | 'unhealthy' | 'unknown';
  queueDepth: number | undefined;
  /** Vault write requests per second between the last two scrapes. */
  vaultWriteRate: number | undefined;
  rateLimitWaitP50: number | undefined;
  rateLimitWaitP95: number | undefined;
  errorsByType: Record<string, number>;
  largeSecrets: number | undefined;
}

const WRITES = /^(write|write_metadata|delete|delete_metadata)$/;

export function scrape(text: string, at: number): MetricsScrape {
  return { at, samples: parsePrometheus(text) };
}

export function summarise(state: ControllerState | undefined, now: MetricsScrape | undefined, before?: MetricsScrape): ControllerSummary {
  const s = now?.samples ?? [];
  const has = (name: string) => s.some((x) => x.name === name);
  let vaultWriteRate: number | undefined;
  if (now && before && now.at > before.at) {
    const writes = (m: MetricsScrape) => sum(m.samples, 'vault_sync_operator_vault_requests_total', { operation: WRITES });
    vaultWriteRate = Math.max(0, writes(now) - writes(before)) / ((now.at - before.at) / 1000);
  }
  const waits = bucketDelta(buckets(s, 'vault_rate_limit_wait_duration_seconds'), before && buckets(before.samples, 'vault_rate_limit_wait_duration_seconds'));
  const errorsByType: Record<string, number> = {};
  for (const x of s) {
    if (x.name === 'vault_sync_operator_vault_write_errors_total' && x.value > 0) errorsByType[x.labels.error_type ?? 'unknown'] = (errorsByType[x.labels.error_type ?? 'unknown'] ?? 0) + x.value;
  }
  const failedReconciles = sum(s, 'vault_sync_operator_reconcile_total', { outcome: /^(failed|terminal)$/ });
  if (failedReconciles > 0) errorsByType.reconcile = failedReconciles;
  return {
    version: state?.version ?? 'unknown',
    leader: state?.leaderIdentity ?? (state?.leader ? state.identity ?? 'this instance' : 'unknown'),
    health: state?.ready ? (state.ready.ready ? 'ready' : 'not ready') : 'unknown',
    watchHealth: state?.watches ? (state.watches.healthy ? 'healthy' : 'unhealthy') : 'unknown',
    queueDepth: has('vault_sync_operator_workqueue_depth') ? sum(s, 'vault_sync_operator_workqueue_depth') : state?.queue?.depth,
    vaultWriteRate,
    rateLimitWaitP50: quantile(0.5, waits),
    rateLimitWaitP95: quantile(0.95, waits),
    errorsByType,
    largeSecrets: has('vault_large_secret_count') ? sum(s, 'vault_large_secret_count') : undefined,
  };
}

export function formatSeconds(seconds: number | undefined): string {
  if (seconds === undefined) return 'no data';
  if (seconds < 0.001) return '<1 ms';
  if (seconds < 1) return `${Math.round(seconds * 1000)} ms`;
  return `${seconds.toFixed(1)} s`;
}

export interface ControllerRow {
  id: string;
  label: string;
  value: string;
  icon: 'info' | 'warning' | 'error' | 'synced';
}

export function controllerRows(summary: ControllerSummary | undefined, message?: string): ControllerRow[] {
  if (message) return [{ id: 'message', label: message, value: '', icon: 'warning' }];
  if (!summary) return [{ id: 'loading', label: 'Reading the controller…', value: '', icon: 'info' }];
  const errors = Object.entries(summary.errorsByType);
  return [
    { id: 'leader', label: 'Leader', value: summary.leader, icon: 'info' },
    { id: 'version', label: 'Version', value: summary.version, icon: 'info' },
    { id: 'health', label: 'Health', value: summary.health, icon: summary.health === 'ready' ? 'synced' : 'error' },
    { id: 'watches', label: 'Watches', value: summary.watchHealth, icon: summary.watchHealth === 'healthy' ? 'synced' : 'error' },
    { id: 'queue', label: 'Queue depth', value: String(summary.queueDepth ?? 'no data'), icon: 'info' },
    { id: 'writes', label: 'Vault writes', value: summary.vaultWriteRate === undefined ? 'measuring…' : `${summary.vaultWriteRate.toFixed(2)}/s`, icon: 'info' },
    { id: 'wait', label: 'Rate-limit wait p50 / p95', value: `${formatSeconds(summary.rateLimitWaitP50)} / ${formatSeconds(summary.rateLimitWaitP95)}`, icon: 'info' },
    { id: 'errors', label: 'Errors', value: errors.length ? errors.map(([k, v]) => `${k}=${v}`).join(', ') : 'none', icon: errors.length ? 'warning' : 'synced' },
    { id: 'large', label: 'Large secrets', value: String(summary.largeSecrets ?? 'no data'), icon: summary.largeSecrets ? 'warning' : 'synced' },
  ];
}
