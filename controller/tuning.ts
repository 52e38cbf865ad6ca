// Retuning a running controller from a ConfigMap (--tuning-configmap):
// the throttle's rate and burst, the batch size, the pause between batches
// and how many resources are reconciled at once.
//
// Contract:
//   - The ConfigMap's keys are the flags' names: rate-limit, rate-limit-burst,
//     batch-size, batch-delay, max-concurrent-reconciles. A key that is absent
//     (or the whole ConfigMap) means the flag's value.
//   - `decideTuning` (pure) reads the data against the settings in force:
//     each valid value that differs is a change; an invalid value is an
//     error naming the key and the fix, and that field keeps its last good
//     value (the other fields still apply); an unknown key is an error too
//     (it catches typos such as "rate-limt").
//   - `TuningWatcher` (the edge) watches exactly that ConfigMap (a list +
//     watch with a metadata.name field selector, shared/kube/reflector.ts),
//     applies every change at once through the appliers (within
//     milliseconds of the watch event; the issue asks for 2 s), and reports
//     each change and each error with a log line, a metric and an Event on
//     the ConfigMap. Queued work is untouched: the throttle keeps its
//     tokens and its bound across the switch, the queue keeps its keys.
//   - Events are emitted only while `mayReport()` (the leader), so two
//     replicas do not report the same change twice; every replica applies.
import { parseGoDuration } from '../shared/duration.ts';
import type { KubeHttp } from '../shared/kube/http.ts';
import { Reflector, type Projected } from '../shared/kube/reflector.ts';
import type { Logger } from '../shared/log.ts';
import type { ControllerMetrics } from './metrics.ts';
import type { EventSpec } from './status.ts';

export interface Tuning {
  rateLimit: number;
  rateLimitBurst: number;
  batchSize: number;
  batchDelayMs: number;
  maxConcurrentReconciles: number;
}

export type TuningField = keyof Tuning;

interface FieldSpec {
  key: string;
  /** Metric label (bounded). */
  label: string;
  parse: (raw: string) => number | undefined;
  fix: string;
  show: (v: number) => string;
}

const wholeNumber = (min: number, max: number) => (raw: string) => {
  const n = Number(raw.trim());
  return /^\d+$/.test(raw.trim()) && n >= min && n <= max ? n : undefined;
};

export const TUNING_FIELDS: Record<TuningField, FieldSpec> = {
  rateLimit: {
    key: 'rate-limit', label: 'rate_limit',
    parse: (raw) => {
      const n = Number(raw.trim());
      return raw.trim() !== '' && Number.isFinite(n) && n > 0 && n <= 1_000_000 ? n : undefined;
    },
    fix: 'set Vault requests per second, a number above 0 such as "10" or "2.5"',
    show: (v) => `${v}/s`,
  },
  rateLimitBurst: { key: 'rate-limit-burst', label: 'rate_limit_burst', parse: wholeNumber(1, 100_000), fix: 'set a whole number of requests of at least 1, such as "20"', show: String },
  batchSize: { key: 'batch-size', label: 'batch_size', parse: wholeNumber(1, 10_000), fix: 'set a whole number of operations of at least 1, such as "5"', show: String },
  batchDelayMs: {
    key: 'batch-delay', label: 'batch_delay',
    parse: (raw) => {
      const ms = parseGoDuration(raw.trim());
      return ms !== undefined && ms >= 0 && ms <= 3_600_000 ? ms : undefined;
    },
    fix: 'set a Go duration between 0s and 1h, such as "200ms" or "1s"',
    show: (v) => `${v}ms`,
  },
  maxConcurrentReconciles: { key: 'max-concurrent-reconciles', label: 'max_concurrent_reconciles', parse: wholeNumber(1, 1024), fix: 'set a whole number between 1 and 1024, such as "16"', show: String },
};

const FIELD_BY_KEY = new Map(Object.entries(TUNING_FIELDS).map(([field, spec]) => [spec.key, field as TuningField]));

export interface TuningChange {
  field: TuningField;
  key: string;
  from: number;
  to: number;
}

export interface TuningProblem {
  /** The ConfigMap key at fault. */
  key: string;
  field?: TuningField;
  message: string;
  fix: string;
}

export interface TuningDecision {
  next: Tuning;
  changes: TuningChange[];
  problems: TuningProblem[];
}

/**
 * What a ConfigMap's data means against the settings in force. `data`
 * undefined: the ConfigMap is absent, so every field returns to its flag.
 */
export function decideTuning(current: Tuning, flags: Tuning, data: Readonly<Record<string, string>> | undefined): TuningDecision {
  const next: Tuning = { ...current };
  const problems: TuningProblem[] = [];
  for (const [field, spec] of Object.entries(TUNING_FIELDS) as [TuningField, FieldSpec][]) {
    const raw = data?.[spec.key];
    if (raw === undefined) {
      next[field] = flags[field];
      continue;
    }
    const value = spec.parse(raw);
    if (value === undefined) {
      problems.push({ key: spec.key, field, message: `${spec.key}: "${raw.length > 40 ? `${raw.slice(0, 40)}…` : raw}" is not valid; keeping ${spec.show(current[field])}`, fix: spec.fix });
      continue; // the last good value stays
    }
    next[field] = value;
  }
  for (const key of Object.keys(data ?? {})) {
    if (!FIELD_BY_KEY.has(key)) {
      problems.push({ key, message: `${key}: unknown key, ignored`, fix: `use one of ${[...FIELD_BY_KEY.keys()].join(', ')}` });
    }
  }
  const changes = (Object.keys(TUNING_FIELDS) as TuningField[])
    .filter((f) => next[f] !== current[f])
    .map((f) => ({ field: f, key: TUNING_FIELDS[f].key, from: current[f], to: next[f] }));
  return { next, changes, problems };
}

/** Where each setting goes in the running controller (wired in main.ts). */
export interface TuningAppliers {
  /** Rate and burst move together: the governor retunes the throttle in one step. */
  throttle(rate: number, burst: number): void;
  batchSize(n: number): void;
  batchDelay(ms: number): void;
  concurrency(n: number): void;
}

interface ConfigMapView extends Projected {
  data?: Record<string, string>;
}

export interface TuningWatcherOptions {
  http: KubeHttp;
  namespace: string;
  name: string;
  /** The flags' values: what an absent key or ConfigMap means. */
  flags: Tuning;
  apply: TuningAppliers;
  /** Emits an Event on the ConfigMap (the StatusWriter's, deduplicated). */
  event: (subject: { kind: 'ConfigMap'; namespace: string; name: string }, uid: string | undefined, spec: EventSpec) => Promise<void>;
  /** Only the leader reports Events; every replica applies. */
  mayReport: () => boolean;
  metrics?: ControllerMetrics;
  log?: Logger;
}

export class TuningWatcher {
  readonly #o: TuningWatcherOptions;
  readonly #reflector: Reflector<ConfigMapView>;
  #current: Tuning;

  constructor(o: TuningWatcherOptions) {
    this.#o = o;
    this.#current = { ...o.flags };
    this.#reflector = new Reflector<ConfigMapView>({
      name: `configmap/${o.namespace}/${o.name}`,
      http: o.http,
      path: `/api/v1/namespaces/${o.namespace}/configmaps`,
      fieldSelector: `metadata.name=${o.name}`,
      project: (obj) => ({ metadata: { name: obj?.metadata?.name, namespace: obj?.metadata?.namespace, resourceVersion: obj?.metadata?.resourceVersion, uid: obj?.metadata?.uid }, data: obj?.data ?? {} }),
      onChange: (_type, _key, next) => this.#onChange(next),
      log: o.log,
    });
  }

  /** The settings in force now. */
  get current(): Tuning {
    return { ...this.#current };
  }

  /** Resolves after the first list (the ConfigMap's settings, if it exists, are then in force). */
  start(): Promise<void> {
    return this.#reflector.start();
  }

  stop(): Promise<void> {
    return this.#reflector.stop();
  }

  #onChange(cm: ConfigMapView | undefined): void {
    const { log, metrics } = this.#o;
    const d = decideTuning(this.#current, this.#o.flags, cm?.data);
    const subject = { kind: 'ConfigMap' as const, namespace: this.#o.namespace, name: this.#o.name };
    const version = cm?.metadata.resourceVersion;
    const report = (spec: EventSpec) => {
      if (this.#o.mayReport()) void this.#o.event(subject, cm?.metadata.uid, spec);
    };
    for (const p of d.problems) {
      metrics?.tuningChanges.inc({ field: p.field ? TUNING_FIELDS[p.field].label : 'unknown', result: 'rejected' });
      log?.warn('tuning ConfigMap value rejected', { configMap: `${subject.namespace}/${subject.name}`, key: p.key, problem: p.message, fix: p.fix, resourceVersion: version });
      report({ reason: 'InvalidTuning', type: 'Warning', action: 'Tune', note: `ConfigMap ${subject.namespace}/${subject.name}: ${p.message}; fix: ${p.fix}` });
    }
    if (d.changes.length === 0) return;
    this.#apply(d);
    for (const c of d.changes) {
      const spec = TUNING_FIELDS[c.field];
      metrics?.tuningChanges.inc({ field: spec.label, result: 'applied' });
      const source = cm ? `ConfigMap ${subject.namespace}/${subject.name} (resourceVersion ${version})` : `the flag (ConfigMap ${subject.namespace}/${subject.name} is gone)`;
      log?.info('tuning applied', { key: c.key, from: c.from, to: c.to, source });
      report({ reason: 'TuningApplied', type: 'Normal', action: 'Tune', note: `${c.key}: ${spec.show(c.from)} -> ${spec.show(c.to)}, from ${source}` });
    }
  }

  #apply(d: TuningDecision): void {
    const { apply } = this.#o;
    const changed = new Set(d.changes.map((c) => c.field));
    if (changed.has('rateLimit') || changed.has('rateLimitBurst')) apply.throttle(d.next.rateLimit, d.next.rateLimitBurst);
    if (changed.has('batchSize')) apply.batchSize(d.next.batchSize);
    if (changed.has('batchDelayMs')) apply.batchDelay(d.next.batchDelayMs);
    if (changed.has('maxConcurrentReconciles')) apply.concurrency(d.next.maxConcurrentReconciles);
    this.#current = d.next;
  }
}
