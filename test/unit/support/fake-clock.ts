// A Clock driven by hand: time moves only when a test calls `advance`, and
// timers fire in due order as it passes them. `random` is a seeded sequence.
// Between timers `advance` yields to pending promise continuations, so code
// awaiting a sleep or a grant runs at the moment its timer fired.
import { sleepOn, type Clock, type Timer } from '../../../shared/clock.ts';

interface Pending {
  at: number;
  seq: number;
  fn: () => void;
}

export class FakeClock implements Clock {
  #now: number;
  #wallOffset: number;
  #seq = 0;
  #timers: Pending[] = [];
  #seed: number;

  constructor(opts: { start?: number; wallStart?: number; seed?: number } = {}) {
    this.#now = opts.start ?? 0;
    this.#wallOffset = (opts.wallStart ?? Date.UTC(2026, 0, 1)) - this.#now;
    this.#seed = opts.seed ?? 42;
  }

  now(): number {
    return this.#now;
  }

  wallNow(): number {
    return this.#now + this.#wallOffset;
  }

  setTimer(fn: () => void, ms: number): Timer {
    const entry: Pending = { at: this.#now + Math.max(0, Math.min(ms, 2 ** 31 - 1)), seq: this.#seq++, fn };
    this.#timers.push(entry);
    return { cancel: () => void (this.#timers = this.#timers.filter((t) => t !== entry)) };
  }

  sleep = sleepOn((fn, ms) => this.setTimer(fn, ms));

  random(): number {
    // mulberry32: small, deterministic, good enough for jitter.
    let t = (this.#seed += 0x6d2b79f5);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Timers not yet fired. */
  get pending(): number {
    return this.#timers.length;
  }

  /** Moves time forward by `ms`, firing every timer that falls due, in order. */
  async advance(ms: number): Promise<void> {
    const until = this.#now + ms;
    await settle();
    for (;;) {
      const next = this.#timers.filter((t) => t.at <= until).sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (!next) break;
      this.#timers = this.#timers.filter((t) => t !== next);
      // Overdue timers (after a jump) fire late, at the current time: time never runs backwards.
      this.#now = Math.max(this.#now, next.at);
      next.fn();
      await settle();
    }
    this.#now = until;
    await settle();
  }

  /**
   * Moves time forward without firing anything, as when the process was
   * frozen (SIGSTOP, a long pause): overdue timers fire on the next advance.
   */
  jump(ms: number): void {
    this.#now += ms;
  }

  /** Advances in steps until `done()` holds or `limitMs` passes; resolves with the time taken. */
  async runUntil(done: () => boolean, opts: { stepMs?: number; limitMs?: number } = {}): Promise<number> {
    const start = this.#now;
    const limit = opts.limitMs ?? 3_600_000;
    while (!done()) {
      if (this.#now - start >= limit) throw new Error(`fake clock: condition not met within ${limit} ms`);
      await this.advance(opts.stepMs ?? 1);
    }
    return this.#now - start;
  }
}

/** Lets every queued promise continuation and stream hand-over run (promise hops around one event-loop turn). */
export async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await Promise.resolve();
  // Node streams hand data over on process.nextTick, which runs only once the
  // promise queue is empty: one turn of the event loop lets them through.
  await new Promise((resolve) => setImmediate(resolve));
  for (let i = 0; i < 20; i++) await Promise.resolve();
}
