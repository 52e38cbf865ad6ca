// The Controller view's model: what the controller's /state and /metrics
// say, reduced to the figures people look at. Pure.
// Metric names and the /state shape come from the contract the controller
// builds them with (shared/contract/), never from string literals here.
import { METRIC } from '../../shared/contract/metrics.ts';
import type { StateResponse } from '../../shared/contract/state.ts';
import type { Problem } from './connection.ts';
import { buckets, bucketDelta, parsePrometheus, quantile, sum, type Sample } from './prometheus.ts';

/** What the extension reads of /state: the contract's type, every field optional (an older controller may lack some). */
export type ControllerState = Partial<StateResponse>;

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
  /** The throttle's configured ceiling and the rate in force (lowered by Vault's backpressure), requests/s. */
  configuredRate: number | undefined;
  effectiveRate: number | undefined;
  /** What lowered the effective rate last, while it is below the configured one. */
  rateLoweredBy: 'throttled' | 'overloaded' | 'timeout' | undefined;
  rateLimitWaitP50: number | undefined;
  rateLimitWaitP95: number | undefined;
  errorsByType: Record<string, number>;
  /** Reconciles that failed (failed or terminal outcome), since the controller started. */
  failedReconciles: number;
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
    const writes = (m: MetricsScrape) => sum(m.samples, METRIC.vaultRequests, { operation: WRITES });
    vaultWriteRate = Math.max(0, writes(now) - writes(before)) / ((now.at - before.at) / 1000);
  }
  const waits = bucketDelta(buckets(s, METRIC.rateLimitWait), before && buckets(before.samples, METRIC.rateLimitWait));
  const errorsByType: Record<string, number> = {};
  for (const x of s) {
    if (x.name === METRIC.vaultWriteErrors && x.value > 0) errorsByType[x.labels.error_type ?? 'unknown'] = (errorsByType[x.labels.error_type ?? 'unknown'] ?? 0) + x.value;
  }
  const failedReconciles = sum(s, METRIC.reconcileResults, { outcome: /^(failed|terminal)$/ });
  const configuredRate = has(METRIC.rateLimitConfigured) ? sum(s, METRIC.rateLimitConfigured) : state?.throttle?.configuredRate;
  const effectiveRate = has(METRIC.rateLimitEffective) ? sum(s, METRIC.rateLimitEffective) : state?.throttle?.effectiveRate;
  return {
    version: state?.version ?? 'unknown',
    leader: state?.leaderIdentity ?? (state?.leader ? state.identity ?? 'this instance' : 'unknown'),
    health: state?.ready ? (state.ready.ready ? 'ready' : 'not ready') : 'unknown',
    watchHealth: state?.watches ? (state.watches.healthy ? 'healthy' : 'unhealthy') : 'unknown',
    queueDepth: has(METRIC.queueDepth) ? sum(s, METRIC.queueDepth) : state?.queue?.depth,
    vaultWriteRate,
    configuredRate,
    effectiveRate,
    rateLoweredBy: effectiveRate !== undefined && configuredRate !== undefined && effectiveRate < configuredRate ? state?.throttle?.lowered?.signal : undefined,
    rateLimitWaitP50: quantile(0.5, waits),
    rateLimitWaitP95: quantile(0.95, waits),
    errorsByType,
    failedReconciles,
    largeSecrets: has(METRIC.largeSecrets) ? sum(s, METRIC.largeSecrets) : undefined,
  };
}

const LOWERED_BY = { throttled: 'Vault answered 429', overloaded: 'Vault overloaded (503)', timeout: 'Vault requests timed out' } as const;

/** "10/s", or "7.3 of 10/s" while Vault's backpressure holds the rate down. */
export function formatRate(summary: Pick<ControllerSummary, 'configuredRate' | 'effectiveRate'>): string {
  const { configuredRate: c, effectiveRate: e } = summary;
  if (c === undefined || e === undefined) return 'no data';
  const n = (x: number) => (x >= 100 ? x.toFixed(0) : String(Math.round(x * 10) / 10));
  return e < c ? `${n(e)} of ${n(c)}/s` : `${n(c)}/s`;
}

export function formatSeconds(seconds: number | undefined): string {
  if (seconds === undefined) return '–';
  if (seconds < 0.001) return '<1 ms';
  if (seconds < 1) return `${Math.round(seconds * 1000)} ms`;
  return `${seconds.toFixed(1)} s`;
}

export interface ControllerRow {
  id: string;
  label: string;
  value: string;
  icon: 'info' | 'warning' | 'error' | 'synced';
  tooltip?: string;
  /** Runs on click (e.g. list the failing resources, set the controller namespace). */
  command?: { id: string; title: string; args?: unknown[] };
}

export function controllerRows(summary: ControllerSummary | undefined, problem?: Problem, failingResources = 0): ControllerRow[] {
  if (problem) {
    const rows: ControllerRow[] = [{ id: 'message', label: problem.text, value: '', icon: 'warning', ...(problem.detail ? { tooltip: problem.detail } : {}) }];
    if (problem.action) rows.push({ id: 'action', label: problem.action.title, value: '', icon: 'info', command: problem.action });
    return rows;
  }
  if (!summary) return [{ id: 'loading', label: 'Reading the controller…', value: '', icon: 'info' }];
  const errors = Object.entries(summary.errorsByType);
  const failed = failingResources || summary.failedReconciles;
  return [
    { id: 'leader', label: 'Leader', value: summary.leader, icon: 'info' },
    { id: 'version', label: 'Version', value: summary.version, icon: 'info' },
    { id: 'health', label: 'Health', value: summary.health, icon: summary.health === 'ready' ? 'synced' : 'error' },
    { id: 'watches', label: 'Watches', value: summary.watchHealth, icon: summary.watchHealth === 'healthy' ? 'synced' : 'error' },
    { id: 'queue', label: 'Queue depth', value: String(summary.queueDepth ?? 'no data'), icon: 'info' },
    { id: 'writes', label: 'Vault writes', value: summary.vaultWriteRate === undefined ? 'measuring…' : `${summary.vaultWriteRate.toFixed(2)}/s`, icon: 'info' },
    {
      id: 'rate', label: 'Vault rate', value: formatRate(summary),
      icon: summary.effectiveRate !== undefined && summary.configuredRate !== undefined && summary.effectiveRate < summary.configuredRate ? 'warning' : 'info',
      tooltip: summary.rateLoweredBy
        ? `Effective request rate, lowered because ${LOWERED_BY[summary.rateLoweredBy]}; it recovers gradually to the configured rate`
        : 'Effective request rate of the Vault throttle (the configured rate unless Vault pushes back)',
    },
    { id: 'wait', label: 'Throttle wait p50/p95', value: `${formatSeconds(summary.rateLimitWaitP50)} / ${formatSeconds(summary.rateLimitWaitP95)}`, icon: 'info' },
    {
      id: 'failed', label: 'Failing resources', value: failingResources ? String(failingResources) : 'none', icon: failingResources ? 'error' : 'synced',
      tooltip: `${summary.failedReconciles} failed reconcile(s) since the controller started`,
      ...(failed ? { command: { id: 'vaultSync.warnings.focus', title: 'Show the failing resources' } } : {}),
    },
    { id: 'errors', label: 'Vault errors', value: errors.length ? errors.map(([k, v]) => `${k} ${v}`).join(', ') : 'none', icon: errors.length ? 'warning' : 'synced', tooltip: 'Failed Vault writes and deletes since the controller started, by error type' },
    { id: 'large', label: 'Large secrets', value: String(summary.largeSecrets ?? 'no data'), icon: summary.largeSecrets ? 'warning' : 'synced' },
  ];
}
