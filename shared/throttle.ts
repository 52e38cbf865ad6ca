// The one throttle in front of Vault.
//
// Contract:
//   - Every Vault HTTP request (read, write, delete, metadata, login, renew,
//     lookup) is run through `schedule`, and each takes exactly one token.
//   - Tokens follow a token bucket: `burst` tokens at most, refilled at
//     `ratePerSecond`. Over any window of t seconds at most rate*t + burst
//     requests start. Requests start in the order they were scheduled.
//   - At most `maxConcurrent` requests are in flight at once.
//   - `stop()` rejects everything still waiting with an Aborted error and
//     starts nothing new (used when the controller loses its lease).
//
// Why not Bottleneck (the library first chosen for this): measured side by
// side in bench/core.ts, Bottleneck starts at most ~450 jobs/s on a 2-core
// machine (each job takes several setTimeout(0) hops through its datastore),
// a sixth of what one OpenBao accepts; its reservoir refill re-arms from each
// heartbeat, so the rate drifts low; and topping its reservoir up from
// outside races its asynchronous registration and over-grants. This file is
// the exact bucket plus a FIFO concurrency gate, and nothing else.
import { performance } from 'node:perf_hooks';
import { SyncError } from './errors.ts';
import type { Metrics } from './metrics.ts';

export interface ThrottleOptions {
  /** Requests per second; Infinity disables rate limiting (benchmarks only). */
  ratePerSecond: number;
  burst: number;
  maxConcurrent?: number;
  /** Instrumentation: called as each request starts (benchmarks record start times). */
  onStart?: (operation: string) => void;
  /** Records the wait for a token and counts the request. */
  metrics?: Pick<Metrics, 'rateLimitWait' | 'rateLimitRequests'>;
}

export interface Throttle {
  schedule<T>(operation: string, fn: () => Promise<T>): Promise<T>;
  /** Requests waiting for a token or a concurrency slot. */
  queued(): number;
  stop(): Promise<void>;
}

interface Waiter {
  resolve: () => void;
  reject: (err: Error) => void;
}

/** An exact token bucket with a FIFO line of waiters, advanced from a monotonic clock. */
export class TokenBucket {
  readonly #rate: number;
  readonly #burst: number;
  readonly #now: () => number;
  #level: number;
  #at: number;
  #line: Waiter[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(ratePerSecond: number, burst: number, now: () => number = () => performance.now()) {
    this.#rate = ratePerSecond / 1000;
    this.#burst = burst;
    this.#now = now;
    this.#level = burst;
    this.#at = now();
  }

  get waiting(): number {
    return this.#line.length;
  }

  acquire(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#line.push({ resolve, reject });
      this.#pump();
    });
  }

  cancelAll(err: Error): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    for (const w of this.#line.splice(0)) w.reject(err);
  }

  #pump(): void {
    const now = this.#now();
    this.#level = Math.min(this.#burst, this.#level + (now - this.#at) * this.#rate);
    this.#at = now;
    while (this.#line.length > 0 && this.#level >= 1) {
      this.#level -= 1;
      this.#line.shift()!.resolve();
    }
    if (this.#line.length > 0 && !this.#timer) {
      // A late timer only delays the head; the level keeps accruing from the clock.
      const ms = Math.max(1, Math.ceil((1 - this.#level) / this.#rate));
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        this.#pump();
      }, ms);
    }
  }
}

/** At most `limit` holders at once, granted in arrival order. */
export class Semaphore {
  readonly #limit: number;
  #held = 0;
  #line: Waiter[] = [];

  constructor(limit: number) {
    this.#limit = limit;
  }

  get waiting(): number {
    return this.#line.length;
  }

  acquire(): Promise<void> {
    if (this.#held < this.#limit && this.#line.length === 0) {
      this.#held++;
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => this.#line.push({ resolve, reject }));
  }

  release(): void {
    const next = this.#line.shift();
    if (next) next.resolve(); // the slot passes straight to the next in line
    else this.#held--;
  }

  cancelAll(err: Error): void {
    for (const w of this.#line.splice(0)) w.reject(err);
  }
}

export function createThrottle(opts: ThrottleOptions): Throttle {
  if (!(opts.ratePerSecond > 0)) throw new Error(`throttle: rate must be > 0 (got ${opts.ratePerSecond})`);
  if (!(opts.burst >= 1)) throw new Error(`throttle: burst must be >= 1 (got ${opts.burst})`);
  const bucket = Number.isFinite(opts.ratePerSecond) ? new TokenBucket(opts.ratePerSecond, Math.floor(opts.burst)) : undefined;
  const slots = opts.maxConcurrent ? new Semaphore(opts.maxConcurrent) : undefined;
  let stopped = false;
  const aborted = (operation: string) => new SyncError('Aborted', `Vault ${operation} not started: the throttle was stopped`);

  return {
    async schedule<T>(operation: string, fn: () => Promise<T>): Promise<T> {
      if (stopped) throw aborted(operation);
      const queuedAt = performance.now();
      try {
        await slots?.acquire();
      } catch {
        throw aborted(operation);
      }
      try {
        try {
          await bucket?.acquire();
        } catch {
          throw aborted(operation);
        }
        if (stopped) throw aborted(operation);
        opts.onStart?.(operation);
        opts.metrics?.rateLimitWait.observe({ operation }, (performance.now() - queuedAt) / 1000);
        opts.metrics?.rateLimitRequests.inc({ operation });
        return await fn();
      } finally {
        slots?.release();
      }
    },
    queued: () => (bucket?.waiting ?? 0) + (slots?.waiting ?? 0),
    async stop() {
      stopped = true;
      bucket?.cancelAll(aborted('request'));
      slots?.cancelAll(aborted('request'));
    },
  };
}
