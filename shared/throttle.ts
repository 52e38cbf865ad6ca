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
// Bottleneck queues the jobs and holds the reservoir. Its own reservoir
// refill ("increase interval") re-arms from the time of each heartbeat, so
// timer lateness accumulates and the achieved rate drifts several percent
// below the configured one; refilling from a monotonic clock here keeps the
// bucket exact (the bench measures it: bench/throttle.ts).
import Bottleneck from 'bottleneck';
import { performance } from 'node:perf_hooks';
import { SyncError } from './errors.ts';

export interface ThrottleOptions {
  /** Requests per second; Infinity disables rate limiting (benchmarks only). */
  ratePerSecond: number;
  burst: number;
  maxConcurrent?: number;
  /** Refill tick in ms; smaller is smoother, 10 ms is plenty for <= 1000 req/s. */
  refillMs?: number;
  /** Called once per request with the time it waited for a token. */
  onScheduled?: (operation: string, waitSeconds: number) => void;
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

  let refill: ReturnType<typeof setInterval> | undefined;
  if (limited) {
    const burst = Math.floor(opts.burst);
    let last = performance.now();
    let fraction = 0;
    let refilling = false;
    refill = setInterval(() => {
      if (refilling) return;
      refilling = true;
      const now = performance.now();
      const earned = ((now - last) / 1000) * opts.ratePerSecond;
      last = now;
      void limiter.currentReservoir().then(async (current) => {
        const room = burst - (current ?? 0);
        // A full bucket discards what it would have earned, as a token bucket must.
        fraction = Math.min(fraction + earned, Math.max(room, 0));
        const whole = Math.floor(fraction);
        if (whole > 0) {
          fraction -= whole;
          await limiter.incrementReservoir(whole);
        }
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
        opts.onScheduled?.(operation, (performance.now() - queuedAt) / 1000);
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
