// Retry with exponential backoff and full jitter. Pure schedule + an
// injectable sleep, so tests check the schedule without waiting.
//
// Only errors that are SyncErrors with `retryable` set are retried; anything
// else (terminal SyncErrors, programming errors) is rethrown at once.
import { setTimeout as sleepMs } from 'node:timers/promises';
import { isSyncError, SyncError } from './errors.ts';

export interface BackoffPolicy {
  /** Delay ceiling of the first retry, ms. */
  baseMs: number;
  /** Largest delay ceiling, ms. */
  maxMs: number;
  /** Total tries including the first. */
  maxAttempts: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 200, maxMs: 30_000, maxAttempts: 8 };

/** Ceiling of the delay before retry number `retry` (1-based): base * 2^(retry-1), capped. */
export function backoffCeiling(policy: BackoffPolicy, retry: number): number {
  return Math.min(policy.maxMs, policy.baseMs * 2 ** (retry - 1));
}

/** Full jitter: uniformly random in [0, ceiling], which spreads retries of many callers apart. */
export function backoffDelay(policy: BackoffPolicy, retry: number, random: () => number = Math.random): number {
  return Math.floor(random() * backoffCeiling(policy, retry));
}

export interface RetryHooks {
  /** Narrows which retryable errors this loop retries (default: all of them). */
  retryIf?: (err: SyncError) => boolean;
  /** A floor under the delay for this error (e.g. the server's Retry-After), ms. */
  minDelayMs?: (err: SyncError) => number | undefined;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  random?: () => number;
  onRetry?: (err: SyncError, attempt: number, delayMs: number) => void;
  signal?: AbortSignal;
}

export async function withRetry<T>(fn: (attempt: number) => Promise<T>, policy: BackoffPolicy, hooks: RetryHooks = {}): Promise<T> {
  const sleep = hooks.sleep ?? ((ms: number, signal?: AbortSignal) => sleepMs(ms, undefined, { signal }));
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (err) {
      if (!isSyncError(err) || !err.retryable || (hooks.retryIf && !hooks.retryIf(err)) || attempt >= policy.maxAttempts || hooks.signal?.aborted) throw err;
      const delay = Math.max(backoffDelay(policy, attempt, hooks.random), hooks.minDelayMs?.(err) ?? 0);
      hooks.onRetry?.(err, attempt, delay);
      try {
        await sleep(delay, hooks.signal);
      } catch {
        throw new SyncError('Aborted', `retry abandoned after attempt ${attempt}: shutting down`, { cause: err });
      }
    }
  }
}
