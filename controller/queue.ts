// The workqueue, with client-go's guarantees:
//   - keys are deduplicated: a key waiting in the queue is there once;
//   - a key is never processed by two workers at once; adding a key while it
//     is being processed makes it run once more afterwards, not twice;
//   - a failed key is retried with per-key exponential backoff
//     (base * 2^failures, capped), reset by the next success; a terminal
//     failure is recorded and not retried;
//   - at most `concurrency` keys are processed at once; `setConcurrency`
//     changes that while running (more workers start at once; surplus ones
//     stop after their current key, so nothing in flight is interrupted);
//   - fair across tenants (namespaces, the key's second segment): waiting
//     keys are grouped by tenant and tenants take turns; and no tenant
//     holds more than concurrency - reserve workers (reserve = a quarter),
//     so a namespace with long reconciles (hundreds of references) can never
//     occupy every worker while another namespace's rotation waits (the
//     share follows `setConcurrency`);
//   - `shutdown()` stops taking work and waits for what is in flight.
//   - delays (backoff, requeueAfter, addAfter) are clamped to MAX_DELAY_MS:
//     a delay too long for a timer (e.g. `reconcile: 600h`) must never turn
//     into an immediate re-run.
// The handler resolves with an optional requeue delay (periodic reconcile).
// Time comes from an injected Clock (tests use a fake one).
import { systemClock, type Clock, type Timer } from '../shared/clock.ts';
import { isSyncError } from '../shared/errors.ts';
import type { Logger } from '../shared/log.ts';
import { backoffDelay, type BackoffPolicy } from '../shared/retry.ts';
import type { ControllerMetrics } from './metrics.ts';

/** The longest delay the queue schedules: one day. */
export const MAX_DELAY_MS = 24 * 3600_000;

export interface HandlerResult {
  requeueAfterMs?: number;
}

export interface QueueOptions {
  concurrency: number;
  handler: (key: string) => Promise<HandlerResult | void>;
  /** Per-key retry backoff (client-go's item exponential: 5 ms doubling to 1000 s, no jitter). */
  backoff?: { baseMs: number; maxMs: number };
  metrics?: ControllerMetrics;
  log?: Logger;
  clock?: Clock;
  /** The tenant a key belongs to (default: its namespace, the second "/" segment). */
  tenantOf?: (key: string) => string;
}

const namespaceOf = (key: string) => key.split('/')[1] ?? '';

/** Per-key backoff delay after `failures` consecutive failures (1-based). */
export function itemBackoffMs(failures: number, backoff: { baseMs: number; maxMs: number }): number {
  const policy: BackoffPolicy = { ...backoff, jitter: 'none' };
  return backoffDelay(policy, Math.max(1, failures));
}

/** A delay the queue can schedule: non-negative, finite, at most MAX_DELAY_MS (NaN counts as too long). */
export function clampDelay(ms: number): number {
  if (Number.isNaN(ms)) return MAX_DELAY_MS;
  return Math.min(MAX_DELAY_MS, Math.max(0, ms));
}

export class WorkQueue {
  readonly #o: QueueOptions;
  readonly #backoff: { baseMs: number; maxMs: number };
  /** Waiting keys per tenant, tenants in turn order (a served tenant moves to the back). */
  readonly #queue = new Map<string, string[]>();
  #depth = 0;
  /** Keys in flight per tenant. */
  readonly #held = new Map<string, number>();
  readonly #queued = new Map<string, number>(); // key -> enqueue time
  readonly #processing = new Set<string>();
  readonly #dirty = new Set<string>();
  readonly #failures = new Map<string, number>();
  readonly #timers = new Map<string, { at: number; timer: Timer }>();
  readonly #clock: Clock;
  #wake: (() => void) | undefined;
  #shuttingDown = false;
  #workers: Promise<void>[] = [];
  #started = false;
  /** Workers running now (above `concurrency` for a moment after it was lowered). */
  #live = 0;

  constructor(opts: QueueOptions) {
    this.#o = opts;
    this.#backoff = opts.backoff ?? { baseMs: 5, maxMs: 1_000_000 };
    this.#clock = opts.clock ?? systemClock;
  }

  depth(): number {
    return this.#depth;
  }

  #tenant(key: string): string {
    return (this.#o.tenantOf ?? namespaceOf)(key);
  }

  /** Most workers one tenant may hold: all but a quarter, kept for the others. */
  get #perTenant(): number {
    const c = this.#o.concurrency;
    return c <= 1 ? c : c - Math.max(1, Math.floor(c / 4));
  }

  inFlight(): number {
    return this.#processing.size;
  }

  add(key: string): void {
    if (this.#shuttingDown) return;
    if (this.#processing.has(key)) {
      this.#dirty.add(key);
      return;
    }
    if (this.#queued.has(key)) return;
    this.#queued.set(key, this.#clock.now());
    const tenant = this.#tenant(key);
    const line = this.#queue.get(tenant);
    if (line) line.push(key);
    else this.#queue.set(tenant, [key]);
    this.#depth++;
    this.#o.metrics?.queueAdds.inc();
    this.#o.metrics?.queueDepth.set(this.#depth);
    this.#wake?.();
  }

  /** Adds the key after `ms` (clamped to MAX_DELAY_MS); an earlier pending add wins. */
  addAfter(key: string, ms: number): void {
    if (this.#shuttingDown) return;
    const delay = clampDelay(ms);
    if (delay === 0) return this.add(key);
    const at = this.#clock.now() + delay;
    const existing = this.#timers.get(key);
    if (existing && existing.at <= at) return;
    existing?.timer.cancel();
    const timer = this.#clock.setTimer(() => {
      this.#timers.delete(key);
      this.add(key);
    }, delay, { unref: true });
    this.#timers.set(key, { at, timer });
  }

  start(): void {
    this.#started = true;
    this.#grow();
  }

  /** Keys processed at once from now on (tuning at run time). */
  setConcurrency(n: number): void {
    if (!(Number.isInteger(n) && n >= 1)) throw new Error(`concurrency must be a whole number >= 1 (got ${n})`);
    this.#o.concurrency = n;
    if (!this.#started || this.#shuttingDown) return;
    this.#grow();
    // Idle workers retire (a lower count) or find a tenant's share grown (a higher one).
    this.#wake?.();
  }

  #grow(): void {
    while (this.#live < this.#o.concurrency) {
      this.#live++;
      this.#workers.push(this.#work());
    }
  }

  async shutdown(): Promise<void> {
    this.#shuttingDown = true;
    for (const { timer } of this.#timers.values()) timer.cancel();
    this.#timers.clear();
    this.#queue.clear();
    this.#depth = 0;
    this.#queued.clear();
    this.#wake?.();
    await Promise.all(this.#workers);
  }

  /** The next key in turn order whose tenant has a worker to spare, taken off its line. */
  #take(): string | undefined {
    for (const [tenant, line] of this.#queue) {
      if ((this.#held.get(tenant) ?? 0) >= this.#perTenant) continue;
      const key = line.shift()!;
      this.#queue.delete(tenant);
      if (line.length > 0) this.#queue.set(tenant, line);
      this.#depth--;
      this.#held.set(tenant, (this.#held.get(tenant) ?? 0) + 1);
      return key;
    }
    return undefined;
  }

  /** The next key, or undefined when this worker should stop (shutdown, or a lowered concurrency). */
  async #next(): Promise<string | undefined> {
    while (!this.#shuttingDown) {
      // A lowered concurrency retires workers between keys, never during one
      // (counted here, in the same step as the check, so two workers never both retire for one slot).
      if (this.#live > this.#o.concurrency) {
        this.#live--;
        return undefined;
      }
      const key = this.#take();
      if (key !== undefined) {
        const since = this.#queued.get(key);
        this.#queued.delete(key);
        // Marked in the same step that dequeues it: an add() in between would
        // otherwise find the key nowhere and start it in a second worker.
        this.#processing.add(key);
        this.#o.metrics?.queueDepth.set(this.#depth);
        if (since !== undefined) this.#o.metrics?.queueLatency.observe((this.#clock.now() - since) / 1000);
        return key;
      }
      await new Promise<void>((resolve) => {
        const previous = this.#wake;
        this.#wake = () => {
          this.#wake = undefined;
          previous?.();
          resolve();
        };
      });
    }
    this.#live--;
    return undefined;
  }

  async #work(): Promise<void> {
    for (;;) {
      const key = await this.#next();
      if (key === undefined) return;
      this.#o.metrics?.inFlight.set(this.#processing.size);
      const started = this.#clock.now();
      try {
        const result = await this.#o.handler(key);
        this.#failures.delete(key);
        if (result?.requeueAfterMs !== undefined) this.addAfter(key, result.requeueAfterMs);
      } catch (err) {
        const terminal = isSyncError(err) && !err.retryable;
        if (terminal) {
          this.#failures.delete(key);
        } else {
          const failures = (this.#failures.get(key) ?? 0) + 1;
          this.#failures.set(key, failures);
          const delay = itemBackoffMs(failures, this.#backoff);
          this.#o.metrics?.queueRetries.inc();
          this.#o.log?.debug('requeue with backoff', { key, failures, delayMs: delay });
          this.addAfter(key, delay);
        }
      } finally {
        this.#o.metrics?.workDuration.observe((this.#clock.now() - started) / 1000);
        this.#processing.delete(key);
        const tenant = this.#tenant(key);
        const held = (this.#held.get(tenant) ?? 1) - 1;
        if (held > 0) this.#held.set(tenant, held);
        else this.#held.delete(tenant);
        // A freed slot may unblock a tenant that was at its share.
        this.#wake?.();
        this.#o.metrics?.inFlight.set(this.#processing.size);
        if (this.#dirty.delete(key)) this.add(key);
      }
    }
  }
}
