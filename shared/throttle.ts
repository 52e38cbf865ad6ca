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
// Bottleneck queues the jobs, bounds concurrency and drops waiting work on
// stop. The token gate is an exact bucket kept here, advanced from a
// monotonic clock: Bottleneck's own reservoir refill re-arms from each
// heartbeat (timer lateness accumulates, so the rate drifts low), and
// reading its reservoir to top it up races with its asynchronous
// registration (which over-grants). Both were measured; see bench/core.ts.
//
// With ratePerSecond = Infinity (benchmarks measuring the writer's own
// overhead) and no concurrency bound, requests bypass Bottleneck entirely:
// its per-job event-loop hops cap it near 450 jobs/s on a 2-core machine.
import Bottleneck from 'bottleneck';
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

/** An exact token bucket with a FIFO line of waiters. */
export class TokenBucket {
  readonly #rate: number;
  readonly #burst: number;
  readonly #now: () => number;
  #level: number;
  #at: number;
  #line: { resolve: () => void; reject: (err: Error) => void }[] = [];
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
      // Timers never fire early by more than rounding; a late one only delays
      // the head, the level keeps accruing from the clock meanwhile.
      const ms = Math.max(1, Math.ceil((1 - this.#level) / this.#rate));
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        this.#pump();
      }, ms);
    }
  }
}

export function createThrottle(opts: ThrottleOptions): Throttle {
  if (!(opts.ratePerSecond > 0)) throw new Error(`throttle: rate must be > 0 (got ${opts.ratePerSecond})`);
  if (!(opts.burst >= 1)) throw new Error(`throttle: burst must be >= 1 (got ${opts.burst})`);
  const limited = Number.isFinite(opts.ratePerSecond);
  const bucket = limited ? new TokenBucket(opts.ratePerSecond, Math.floor(opts.burst)) : undefined;
  const limiter = limited || opts.maxConcurrent ? new Bottleneck({ maxConcurrent: opts.maxConcurrent ?? null }) : undefined;
  // Errors from jobs propagate to schedule()'s caller; keep Bottleneck's own
  // "error" event from becoming an unhandled EventEmitter error.
  limiter?.on('error', () => {});

  let stopped = false;
  const aborted = (operation: string) => new SyncError('Aborted', `Vault ${operation} not started: the throttle was stopped`);

  return {
    async schedule<T>(operation: string, fn: () => Promise<T>): Promise<T> {
      if (stopped) throw aborted(operation);
      const queuedAt = performance.now();
      const run = async () => {
        await bucket?.acquire();
        if (stopped) throw aborted(operation);
        opts.onStart?.(operation);
        opts.metrics?.rateLimitWait.observe({ operation }, (performance.now() - queuedAt) / 1000);
        opts.metrics?.rateLimitRequests.inc({ operation });
        return fn();
      };
      if (!limiter) return run();
      try {
        return await limiter.schedule(run);
      } catch (err) {
        if (err instanceof Bottleneck.BottleneckError) throw aborted(operation);
        throw err;
      }
    },
    queued: () => (bucket?.waiting ?? 0) + (limiter ? limiter.counts().QUEUED + limiter.counts().RECEIVED : 0),
    async stop() {
      stopped = true;
      bucket?.cancelAll(aborted('request'));
      await limiter?.stop({ dropWaitingJobs: true, dropErrorMessage: 'Vault request aborted: the throttle was stopped' });
    },
  };
}
