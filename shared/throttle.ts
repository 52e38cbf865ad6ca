// The one throttle in front of Vault.
//
// Contract:
//   - Every Vault HTTP request (read, write, delete, metadata, login, renew,
//     lookup) is run through `schedule`, and each takes exactly one token.
//   - Tokens follow a token bucket: `burst` tokens at most, refilled at
//     `ratePerSecond`. Over any window of t seconds at most rate*t + burst
//     requests start.
//   - At most `maxConcurrent` requests are in flight at once.
//   - `stop()` rejects everything still queued with an Aborted error and
//     starts nothing new (used when the controller loses its lease).
//
// Bottleneck queues the jobs, bounds concurrency and holds the reservoir.
// Its own refill ("reservoirIncreaseInterval") re-arms from the time of each
// heartbeat, so timer lateness accumulates and the achieved rate drifts below
// the configured one; and a coarse refill can credit tokens earned while the
// bucket was full. Refilling from an exact bucket kept here avoids both (the
// bench measures it: bench/throttle.ts).
import Bottleneck from 'bottleneck';
import { performance } from 'node:perf_hooks';
import { SyncError } from './errors.ts';
import type { Metrics } from './metrics.ts';

export interface ThrottleOptions {
  /** Requests per second; Infinity disables rate limiting (benchmarks only). */
  ratePerSecond: number;
  burst: number;
  maxConcurrent?: number;
  /** Refill tick in ms; smaller is smoother, 10 ms is plenty for <= 1000 req/s. */
  refillMs?: number;
  /** Records the wait for a token and counts the request. */
  metrics?: Pick<Metrics, 'rateLimitWait' | 'rateLimitRequests'>;
}

export interface Throttle {
  schedule<T>(operation: string, fn: () => Promise<T>): Promise<T>;
  /** Requests waiting for a token or a concurrency slot. */
  queued(): number;
  stop(): Promise<void>;
}

export function createThrottle(opts: ThrottleOptions): Throttle {
  if (!(opts.ratePerSecond > 0)) throw new Error(`throttle: rate must be > 0 (got ${opts.ratePerSecond})`);
  if (!(opts.burst >= 1)) throw new Error(`throttle: burst must be >= 1 (got ${opts.burst})`);
  const limited = Number.isFinite(opts.ratePerSecond);
  const limiter = new Bottleneck({
    maxConcurrent: opts.maxConcurrent ?? null,
    ...(limited ? { reservoir: Math.floor(opts.burst) } : {}),
  });
  // Errors from jobs propagate to schedule()'s caller; keep Bottleneck's own
  // "error" event from becoming an unhandled EventEmitter error.
  limiter.on('error', () => {});

  // The exact bucket, advanced from a monotonic clock and charged at every
  // request start. Bottleneck's reservoir is topped up to floor(level) and
  // is charged at the same starts, so it never exceeds the bucket: the
  // starts conform to (rate, burst) exactly, at any refill granularity.
  const burst = Math.floor(opts.burst);
  let level = burst;
  let levelAt = performance.now();
  const advance = () => {
    const now = performance.now();
    level = Math.min(burst, level + ((now - levelAt) / 1000) * opts.ratePerSecond);
    levelAt = now;
  };
  let refill: ReturnType<typeof setInterval> | undefined;
  if (limited) {
    let refilling = false;
    refill = setInterval(() => {
      if (refilling) return;
      refilling = true;
      void limiter.currentReservoir().then(async (current) => {
        advance();
        const add = Math.floor(level + 1e-9) - (current ?? 0);
        if (add > 0) await limiter.incrementReservoir(add);
      }).finally(() => {
        refilling = false;
      });
    }, opts.refillMs ?? 10);
    refill.unref?.();
  }

  let stopped = false;
  return {
    schedule<T>(operation: string, fn: () => Promise<T>): Promise<T> {
      if (stopped) return Promise.reject(new SyncError('Aborted', `Vault ${operation} not started: the throttle is stopped`));
      const queuedAt = performance.now();
      return limiter.schedule(() => {
        if (limited) {
          advance();
          level -= 1;
        }
        opts.metrics?.rateLimitWait.observe({ operation }, (performance.now() - queuedAt) / 1000);
        opts.metrics?.rateLimitRequests.inc({ operation });
        return fn();
      }).catch((err: unknown) => {
        if (err instanceof Bottleneck.BottleneckError) throw new SyncError('Aborted', `Vault ${operation} dropped: the throttle was stopped`);
        throw err;
      });
    },
    queued: () => limiter.counts().QUEUED + limiter.counts().RECEIVED,
    async stop() {
      stopped = true;
      if (refill) clearInterval(refill);
      await limiter.stop({ dropWaitingJobs: true, dropErrorMessage: 'Vault request aborted: the throttle was stopped' });
    },
  };
}
