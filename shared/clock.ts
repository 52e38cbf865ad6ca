// Time, injected. Every module that waits, schedules or reads the time takes
// a Clock, so tests drive time by hand (test/unit/support/fake-clock.ts)
// instead of sleeping, and production passes `systemClock`.
//
// Contract:
//   - `now()` is monotonic milliseconds (performance.now()): use it for
//     intervals, deadlines and rates; it never jumps with NTP.
//   - `wallNow()` is epoch milliseconds (Date.now()): use it only for what
//     is shown to people or stored (timestamps in annotations, Events).
//   - `setTimer(fn, ms, {unref})` runs fn once after ms; the returned handle
//     cancels it. Delays are clamped to what timers can hold (2^31-1 ms).
//     An `unref` timer does not keep the process alive on its own.
//   - `sleep(ms, signal)` resolves after ms, or rejects with the signal's
//     reason when aborted first.
//   - `random()` is uniform in [0, 1) (jitter).
import { performance } from 'node:perf_hooks';

export interface Timer {
  cancel(): void;
}

export interface Clock {
  now(): number;
  wallNow(): number;
  setTimer(fn: () => void, ms: number, opts?: { unref?: boolean }): Timer;
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
  random(): number;
}

function abortReason(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new Error('aborted');
}

/** Builds `sleep` on top of a clock's timers (shared by the system and fake clocks). */
export function sleepOn(setTimer: Clock['setTimer']): Clock['sleep'] {
  return (ms, signal) => new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(abortReason(signal));
    const onAbort = () => {
      timer.cancel();
      reject(abortReason(signal!));
    };
    const timer = setTimer(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

// setTimeout clamps anything above 2^31-1 ms to 1 ms (with a warning): clamp ourselves.
const MAX_TIMER_MS = 2 ** 31 - 1;

function systemTimer(fn: () => void, ms: number, opts: { unref?: boolean } = {}): Timer {
  const handle = setTimeout(fn, Math.min(MAX_TIMER_MS, Math.max(0, ms)));
  if (opts.unref) handle.unref?.();
  return { cancel: () => clearTimeout(handle) };
}

export const systemClock: Clock = {
  now: () => performance.now(),
  wallNow: () => Date.now(),
  setTimer: systemTimer,
  sleep: sleepOn(systemTimer),
  random: () => Math.random(),
};
