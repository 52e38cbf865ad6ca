// The one backoff policy of the project, and retry built on it.
//
// Contract:
//   - A BackoffPolicy is data: the delay before retry n (1-based) has the
//     ceiling min(maxMs, baseMs * factor^(n-1)), then jitter is applied:
//       'full'  uniform in [0, ceiling]            (many callers spread apart; Vault requests)
//       'equal' uniform in [ceiling/2, ceiling]    (never hammers, still spreads; watches)
//       'none'  exactly the ceiling                (deterministic per-key backoff; the workqueue)
//       { spread: s } ceiling * (1 + s * uniform)  (a constant period stretched a little; lease followers)
//   - `backoffDelay` is the only implementation of that formula; `Backoff`
//     is the same schedule as a counter for loops that keep their own state
//     (reflector, lease), `withRetry` for one call retried in place.
//   - Randomness and sleeping come from a Clock (injected time), so tests
//     check the schedule without waiting.
//   - withRetry retries only SyncErrors with `retryable` set; anything else
//     (terminal SyncErrors, programming errors) is rethrown at once.
import { systemClock, type Clock } from './clock.ts';
import { isSyncError, SyncError } from './errors.ts';

export type Jitter = 'full' | 'equal' | 'none' | { spread: number };

export interface BackoffPolicy {
  /** Delay ceiling of the first retry, ms. */
  baseMs: number;
  /** Largest delay ceiling, ms. */
  maxMs: number;
  /** Total tries including the first (withRetry only; loops that retry forever leave it out). */
  maxAttempts?: number;
  /** Growth per retry (default 2; 1 keeps the delay constant). */
  factor?: number;
  /** Default 'full'. */
  jitter?: Jitter;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 200, maxMs: 30_000, maxAttempts: 8 };

/** Ceiling of the delay before retry number `retry` (1-based): base * factor^(retry-1), capped. */
export function backoffCeiling(policy: BackoffPolicy, retry: number): number {
  return Math.min(policy.maxMs, policy.baseMs * (policy.factor ?? 2) ** Math.max(0, retry - 1));
}

/** The delay before retry number `retry` (1-based), jittered as the policy says. */
export function backoffDelay(policy: BackoffPolicy, retry: number, random: () => number = Math.random): number {
  const ceiling = backoffCeiling(policy, retry);
  const jitter = policy.jitter ?? 'full';
  if (jitter === 'none') return ceiling;
  if (jitter === 'full') return Math.floor(random() * ceiling);
  if (jitter === 'equal') return Math.floor(ceiling / 2 + (random() * ceiling) / 2);
  return Math.floor(ceiling * (1 + jitter.spread * random()));
}

/** A policy's schedule as a counter: `next()` after each failure, `reset()` after a success. */
export class Backoff {
  readonly #policy: BackoffPolicy;
  readonly #random: () => number;
  #failures = 0;

  constructor(policy: BackoffPolicy, random: () => number = Math.random) {
    this.#policy = policy;
    this.#random = random;
  }

  /** Consecutive failures so far. */
  get failures(): number {
    return this.#failures;
  }

  /** Counts one more failure and returns the delay before the next try. */
  next(): number {
    this.#failures++;
    return backoffDelay(this.#policy, this.#failures, this.#random);
  }

  reset(): void {
    this.#failures = 0;
  }
}

export interface RetryHooks {
  /** Narrows which retryable errors this loop retries (default: all of them). */
  retryIf?: (err: SyncError) => boolean;
  /** A floor under the delay for this error (e.g. the server's Retry-After), ms. */
  minDelayMs?: (err: SyncError) => number | undefined;
  /** Time source for sleeping and jitter (default: the system clock). */
  clock?: Pick<Clock, 'sleep' | 'random'>;
  /** Overrides clock.sleep (kept for callers that inject only a sleep). */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Overrides clock.random. */
  random?: () => number;
  onRetry?: (err: SyncError, attempt: number, delayMs: number) => void;
  signal?: AbortSignal;
}

export async function withRetry<T>(fn: (attempt: number) => Promise<T>, policy: BackoffPolicy, hooks: RetryHooks = {}): Promise<T> {
  const clock = hooks.clock ?? systemClock;
  const sleep = hooks.sleep ?? ((ms: number, signal?: AbortSignal) => clock.sleep(ms, signal));
  const random = hooks.random ?? (() => clock.random());
  const maxAttempts = policy.maxAttempts ?? DEFAULT_BACKOFF.maxAttempts!;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (err) {
      if (!isSyncError(err) || !err.retryable || (hooks.retryIf && !hooks.retryIf(err)) || attempt >= maxAttempts || hooks.signal?.aborted) throw err;
      const delay = Math.max(backoffDelay(policy, attempt, random), hooks.minDelayMs?.(err) ?? 0);
      hooks.onRetry?.(err, attempt, delay);
      try {
        await sleep(delay, hooks.signal);
      } catch {
        throw new SyncError('Aborted', `retry abandoned after attempt ${attempt}: shutting down`, { cause: err });
      }
    }
  }
}
