// The adaptive rate: how fast to send to Vault, given what Vault answers.
// Pure: every method takes the time (monotonic ms) and returns a decision;
// rate-governor.ts applies decisions to the throttle.
//
// Contract:
//   - The effective rate is never above the configured rate, never below
//     `minRate`.
//   - Backpressure (a 429, an overload 503, a timeout) lowers it at once.
//     An answer to a request sent before the last decrease says nothing new
//     (it was sent at the old rate) and is ignored, and decreases are at
//     least 200 ms apart (answers arrive in clusters).
//       throttled / overloaded: to 95 % of what Vault accepted from us in the
//         last second (its quota or capacity, as measured), but at most
//         to 90 % of the current rate and never below a quarter of it;
//       timeout: to half (a timeout says nothing about how much was accepted).
//     The burst shrinks in proportion (a bucket holds as many seconds of
//     traffic as configured), so an idle controller does not open with a
//     burst its quota refuses.
//   - Recovery is gradual and time-based (`tick`), and waits a hold period
//     after each decrease (1 s, or the server's Retry-After when longer):
//     back towards the rate
//     where backpressure began within a few seconds (exponential approach,
//     time constant 1.5 s), then probing above it slowly (2 % of it per
//     second, growing by that much again every 10 s without backpressure),
//     up to the configured rate, where the memory of the ceiling is dropped.
//   - `setConfigured` retunes the ceiling: a lower one takes effect at once;
//     a higher one only raises what is allowed, recovery gets there.
//
// Why this shape (AIMD with a measured ceiling, as TCP congestion control
// does with its "W_max"): Vault's rate-limit quota is a token bucket per
// client address (rate per interval, bucket = rate). Halving on every 429
// (plain AIMD) averages 75 % of the quota; cutting to the accepted rate
// converges in one step from any configured rate, and probing slowly near
// the ceiling keeps 429s to a few per probe cycle (measured: bench/backpressure.ts).

export type Backpressure = 'throttled' | 'overloaded' | 'timeout';

export interface RateDecision {
  rate: number;
  burst: number;
  /** The decision differs from the previous one. */
  changed: boolean;
}

export interface AdaptiveRateOptions {
  configuredRate: number;
  configuredBurst: number;
  now: number;
  /** Lowest effective rate (default 2 % of the configured one, at least 0.2/s). */
  minRate?: number;
}

export const HOLD_MS = 1000;
/** Least time between two decreases. */
export const MIN_SPACING_MS = 200;
const WINDOW_MS = 1000;
const SLOTS = 10;
const RECOVERY_TAU_MS = 1500;
const PROBE_SHARE = 0.02;
const PROBE_GROWTH_MS = 10_000;

/** Answers per 100 ms slot over the last second: O(1) per answer at any rate. */
class AnswerWindow {
  readonly #counts = new Array<number>(SLOTS).fill(0);
  #slot = 0;
  #at = 0;

  #advance(now: number): void {
    const slot = Math.floor(now / (WINDOW_MS / SLOTS));
    if (slot - this.#slot >= SLOTS) this.#counts.fill(0);
    else for (let s = this.#slot + 1; s <= slot; s++) this.#counts[s % SLOTS] = 0;
    if (slot > this.#slot) this.#slot = slot;
    this.#at = now;
  }

  add(now: number): void {
    this.#advance(Math.max(now, this.#at));
    this.#counts[this.#slot % SLOTS]!++;
  }

  /** Answers in the last second. */
  count(now: number): number {
    this.#advance(Math.max(now, this.#at));
    return this.#counts.reduce((a, b) => a + b, 0);
  }
}

export interface AdaptiveState {
  configuredRate: number;
  configuredBurst: number;
  rate: number;
  burst: number;
  /** The rate where backpressure began, while recovering towards it. */
  ceiling: number | undefined;
  /** The last backpressure that lowered the rate, and when (monotonic ms). */
  lastSignal: { kind: Backpressure; at: number } | undefined;
}

export class AdaptiveRate {
  #configured: number;
  #configuredBurst: number;
  #rate: number;
  #burst: number;
  #ceiling: number | undefined;
  #holdUntil = -Infinity;
  #lastCut = -Infinity;
  #probeSince: number | undefined;
  #lastTick: number;
  #lastSignal: AdaptiveState['lastSignal'];
  #minRate: number | undefined;
  readonly #answers = new AnswerWindow();

  constructor(o: AdaptiveRateOptions) {
    this.#configured = o.configuredRate;
    this.#configuredBurst = o.configuredBurst;
    this.#rate = o.configuredRate;
    this.#burst = o.configuredBurst;
    this.#lastTick = o.now;
    this.#minRate = o.minRate;
  }

  get state(): AdaptiveState {
    return {
      configuredRate: this.#configured, configuredBurst: this.#configuredBurst, rate: this.#rate, burst: this.#burst,
      ceiling: this.#ceiling, lastSignal: this.#lastSignal,
    };
  }

  get #floor(): number {
    return Math.min(this.#configured, this.#minRate ?? Math.max(0.2, this.#configured * 0.02));
  }

  /** Vault answered, and the answer was not backpressure. */
  answered(now: number): void {
    this.#answers.add(now);
  }

  /**
   * Vault pushed back on a request sent at `sentAt` (monotonic ms; unknown:
   * counted as sent now). `retryAfterMs` is the server's Retry-After.
   */
  backpressure(kind: Backpressure, now: number, opts: { sentAt?: number; retryAfterMs?: number } = {}): RateDecision {
    const { retryAfterMs } = opts;
    const hold = Math.max(HOLD_MS, retryAfterMs ?? 0);
    if ((opts.sentAt ?? now) < this.#lastCut || now - this.#lastCut < MIN_SPACING_MS) {
      // Old news, or part of the same cluster of answers. Only the server's own Retry-After extends the hold.
      if (retryAfterMs !== undefined) this.#holdUntil = Math.max(this.#holdUntil, now + retryAfterMs);
      return this.#decision(this.#rate, this.#burst);
    }
    const before = this.#rate;
    const accepted = this.#answers.count(now);
    let target: number;
    if (kind === 'timeout') {
      target = before * 0.5;
      this.#ceiling = Math.max(this.#ceiling ?? 0, before * 0.9);
    } else {
      target = accepted > 0 ? Math.min(before * 0.9, accepted * 0.95) : before * 0.9;
      // Where Vault's limit appears to be: what it accepted, or the rate we sent at if that was less.
      this.#ceiling = accepted > 0 ? Math.min(before, accepted) : before * 0.9;
    }
    const rate = Math.max(this.#floor, before * 0.25, target);
    this.#ceiling = Math.max(this.#ceiling, rate);
    this.#holdUntil = now + hold;
    this.#lastCut = now;
    this.#probeSince = undefined;
    this.#lastTick = now;
    this.#lastSignal = { kind, at: now };
    return this.#decision(rate, this.#burstFor(rate));
  }

  /** Gradual recovery; call it periodically (the governor does, every 250 ms while lowered). */
  tick(now: number): RateDecision {
    const dt = Math.min(5000, Math.max(0, now - this.#lastTick));
    this.#lastTick = now;
    if (now < this.#holdUntil || this.#rate >= this.#configured) return this.#decision(this.#rate, this.#burst);
    const ceiling = Math.min(this.#ceiling ?? this.#configured, this.#configured);
    let rate = this.#rate;
    if (rate < ceiling * 0.97) {
      rate += (ceiling - rate) * (1 - Math.exp(-dt / RECOVERY_TAU_MS));
      rate = Math.max(rate, Math.min(ceiling, this.#rate + this.#floor * (dt / 1000)));
    } else {
      this.#probeSince ??= now;
      // Relative to the ceiling, with a floor tied to the configured rate: a ceiling learned while
      // little was being sent must not make the way back take minutes.
      const slope = Math.max(0.05, ceiling * PROBE_SHARE, this.#configured * PROBE_SHARE / 2) * (1 + (now - this.#probeSince) / PROBE_GROWTH_MS);
      rate += slope * (dt / 1000);
    }
    if (rate >= this.#configured) {
      rate = this.#configured;
      this.#ceiling = undefined;
      this.#probeSince = undefined;
    }
    return this.#decision(rate, this.#burstFor(rate));
  }

  /** A new configured rate and burst (the tuning ConfigMap, at run time). */
  setConfigured(rate: number, burst: number, now: number): RateDecision {
    const wasAtCeiling = this.#rate >= this.#configured;
    this.#configured = rate;
    this.#configuredBurst = burst;
    this.#lastTick = now;
    // Not lowered: follow the new ceiling. Lowered: keep what Vault taught us, capped by the new ceiling.
    const next = wasAtCeiling ? rate : Math.min(this.#rate, rate);
    if (next >= rate) {
      this.#ceiling = undefined;
      this.#probeSince = undefined;
    }
    return this.#decision(next, this.#burstFor(next));
  }

  #burstFor(rate: number): number {
    return Math.max(1, Math.min(this.#configuredBurst, Math.round((this.#configuredBurst * rate) / this.#configured)));
  }

  #decision(rate: number, burst: number): RateDecision {
    const clamped = Math.min(this.#configured, Math.max(this.#floor, rate));
    const changed = clamped !== this.#rate || burst !== this.#burst;
    this.#rate = clamped;
    this.#burst = burst;
    return { rate: clamped, burst, changed };
  }
}
