// The metrics panel's model: time series built from successive /metrics
// scrapes, kept in memory for the session (about an hour), cut to the
// window the panel shows. Pure.
//
// Only what /metrics already exposes is charted: bounded labels such as
// operation, outcome and error type; never a path, a name or a value.
// Counters become per-second rates between two scrapes (a counter that went
// down means the controller restarted: the new value is the increase, as in
// PromQL's rate()); histograms become p50/p95 of the observations between
// two scrapes; gauges are charted as read.
import { METRIC } from '../../shared/contract/metrics.ts';
import { buckets, bucketDelta, quantile, type Sample } from './prometheus.ts';
import type { MetricsScrape } from './controller.ts';

export interface ChartSpec {
  id: string;
  title: string;
  unit: string;
}

export const CHARTS: readonly ChartSpec[] = [
  { id: 'vault-requests', title: 'Vault requests/s by operation', unit: 'req/s' },
  { id: 'sync-results', title: 'Sync results/s by outcome', unit: '/s' },
  { id: 'rate-limit-wait', title: 'Rate-limit wait p50 / p95', unit: 's' },
  { id: 'throttle-rate', title: 'Throttle rate: configured and effective', unit: 'req/s' },
  { id: 'throttle-bucket', title: 'Throttle bucket: tokens, burst, queued', unit: 'requests' },
  { id: 'queue', title: 'Work queue: depth and in flight', unit: 'keys' },
  { id: 'errors', title: 'Vault errors/s by type', unit: '/s' },
  { id: 'large', title: 'Large secrets', unit: 'documents' },
];

export interface ChartData extends ChartSpec {
  /** Series labels, in the order of `ys`. */
  series: string[];
  /** Seconds since the epoch. */
  xs: number[];
  ys: (number | null)[][];
}

type Values = Map<string, Map<string, number | null>>;

function total(samples: readonly Sample[], name: string): number | undefined {
  let t: number | undefined;
  for (const s of samples) if (s.name === name) t = (t ?? 0) + s.value;
  return t;
}

function byLabel(samples: readonly Sample[], name: string, label: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const s of samples) if (s.name === name) out.set(s.labels[label] ?? 'other', (out.get(s.labels[label] ?? 'other') ?? 0) + s.value);
  return out;
}

function increase(now: number, before: number | undefined): number {
  if (before === undefined) return now;
  return now >= before ? now - before : now; // reset
}

/** Per-second rates by label, plus "all", between two scrapes; null without a previous scrape. */
function rates(now: MetricsScrape, before: MetricsScrape | undefined, name: string, label: string): Map<string, number | null> {
  const cur = byLabel(now.samples, name, label);
  const out = new Map<string, number | null>();
  if (!before || now.at <= before.at) {
    out.set('all', null);
    for (const k of cur.keys()) out.set(k, null);
    return out;
  }
  const prev = byLabel(before.samples, name, label);
  const dt = (now.at - before.at) / 1000;
  let all = 0;
  for (const [k, v] of cur) {
    const r = increase(v, prev.get(k)) / dt;
    out.set(k, r);
    all += r;
  }
  out.set('all', all);
  return out;
}

/** Pure: the values of every chart at one scrape, given the scrape before it. */
export function pointAt(now: MetricsScrape, before: MetricsScrape | undefined): Values {
  const s = now.samples;
  const v: Values = new Map();
  v.set('vault-requests', rates(now, before, METRIC.vaultRequests, 'operation'));
  v.set('sync-results', rates(now, before, METRIC.reconcileResults, 'outcome'));
  const waits = before ? bucketDelta(buckets(s, METRIC.rateLimitWait), buckets(before.samples, METRIC.rateLimitWait)) : undefined;
  v.set('rate-limit-wait', new Map([['p50', waits ? quantile(0.5, waits) ?? 0 : null], ['p95', waits ? quantile(0.95, waits) ?? 0 : null]]));
  v.set('throttle-rate', new Map([['configured', total(s, METRIC.rateLimitConfigured) ?? null], ['effective', total(s, METRIC.rateLimitEffective) ?? null]]));
  v.set('throttle-bucket', new Map([['tokens', total(s, METRIC.rateLimitTokens) ?? null], ['burst', total(s, METRIC.rateLimitBurst) ?? null], ['queued', total(s, METRIC.rateLimitQueued) ?? null]]));
  v.set('queue', new Map([['depth', total(s, METRIC.queueDepth) ?? null], ['in flight', total(s, METRIC.inFlight) ?? null]]));
  v.set('errors', rates(now, before, METRIC.vaultWriteErrors, 'error_type'));
  v.set('large', new Map([['large secrets', total(s, METRIC.largeSecrets) ?? null]]));
  return v;
}

/** The series of one chart: labels in first-seen order ("all" first), values aligned with the shared time axis. */
class ChartSeries {
  readonly columns = new Map<string, (number | null)[]>();
  readonly spec: ChartSpec;
  constructor(spec: ChartSpec) {
    this.spec = spec;
  }

  push(values: Map<string, number | null> | undefined, length: number): void {
    for (const [label, value] of values ?? []) {
      let col = this.columns.get(label);
      if (!col) this.columns.set(label, (col = new Array<number | null>(length).fill(null)));
      col.push(value);
    }
    for (const col of this.columns.values()) if (col.length === length) col.push(null);
  }

  drop(n: number): void {
    for (const col of this.columns.values()) col.splice(0, n);
  }
}

export class MetricsHistory {
  readonly #xs: number[] = [];
  readonly #charts = CHARTS.map((c) => new ChartSeries(c));
  #last: MetricsScrape | undefined;
  readonly #keepMs: number;
  readonly #maxPoints: number;

  /** Keeps `keepMs` of scrapes (default 1 h plus a margin) and at most `maxPoints`. */
  constructor(opts: { keepMs?: number; maxPoints?: number } = {}) {
    this.#keepMs = opts.keepMs ?? 65 * 60_000;
    this.#maxPoints = opts.maxPoints ?? 2000;
  }

  get size(): number {
    return this.#xs.length;
  }

  /** Adds one scrape (in time order; an older or same-time scrape is ignored). */
  add(scrape: MetricsScrape): void {
    if (this.#last && scrape.at <= this.#last.at) return;
    const values = pointAt(scrape, this.#last);
    const length = this.#xs.length;
    for (const c of this.#charts) c.push(values.get(c.spec.id), length);
    this.#xs.push(scrape.at / 1000);
    this.#last = scrape;
    let drop = 0;
    const oldest = (scrape.at - this.#keepMs) / 1000;
    while (drop < this.#xs.length && (this.#xs[drop]! < oldest || this.#xs.length - drop > this.#maxPoints)) drop++;
    if (drop) {
      this.#xs.splice(0, drop);
      for (const c of this.#charts) c.drop(drop);
    }
  }

  /** Every chart over the last `windowMs` before `nowMs`. */
  window(windowMs: number, nowMs: number): ChartData[] {
    const from = (nowMs - windowMs) / 1000;
    let start = 0;
    while (start < this.#xs.length && this.#xs[start]! < from) start++;
    const xs = this.#xs.slice(start);
    return this.#charts.map((c) => ({
      ...c.spec,
      series: [...c.columns.keys()],
      xs,
      ys: [...c.columns.values()].map((col) => col.slice(start)),
    }));
  }
}
