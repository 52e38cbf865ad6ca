// The adaptive rate: how fast to send to Vault, given what Vault answers.
// Pure: every method takes the time (monotonic ms) and returns a decision;
// rate-governor.ts applies decisions to the throttle.
//
// Contract:
//   - The effective rate is never above the configured rate, never below
//     `minRate`.
//   - Backpressure (a 429, an overload 503, a timeout) lowers it at once, at
//     most once per hold period (1 s, or the server's Retry-After when
//     longer); an answer to a request sent before the last decrease says
//     nothing new (it was sent at the old rate).
//       throttled / overloaded: to 90 % of what Vault accepted from us in the
//         last second (its quota, or our share of it), but at most to 90 %
//         of the current rate and never below a quarter of it; halving when
//         nothing was accepted;
//       timeout: to half (a timeout says nothing about how much was accepted).
//   - A refusal also asks for a pause (`pauseMs`): Vault's quota counts in
//     fixed windows and refuses everything until the window ends, so each
//     refusal of a request sent since the last pause began pauses all
//     sending for 250 ms, for 1 s once refusals have gone on for a second
//     (a longer window, or an overloaded server), back to 250 ms after an
//     accepted answer to a request sent since; the server's Retry-After,
//     when it sends one, is the pause. The throttle starts one request
//     alone after a pause; `sentSincePause` tells the governor which
//     answers are to it.
//   - The burst shrinks with the rate, and while a ceiling is known to what
//     fits under it next to the rate (a fixed window takes rate + burst).
//   - Recovery is gradual and time-based (`tick`), after the hold: back
//     towards the ceiling (the rate Vault accepted; exponential approach,
//     time constant 1 s), stopping at 97 % of it; a plateau there for 8 s
//     (doubling, up to 64 s, while each probe is refused within a minute of
//     the last cut); then probing above it, 10 % more per second, up to the configured
//     rate, where the memory of the ceiling is dropped.
//   - `setConfigured` retunes the ceiling: a lower one takes effect at once;
//     a higher one only raises what is allowed, recovery gets there.
//
// Why this shape. Vault's (and OpenBao's) rate-limit quota is a fixed
// window per client address: `rate` requests per `interval`, all of them
// available again at each window boundary (vault/quotas and go-limiter's
// memorystore; a request refused costs the server nothing). Halving on
// every 429 (plain AIMD) averages 75 % of the quota. Measuring what was
// accepted in the last second converges in one or two steps from any
// configured rate (at the first refusal the window holds exactly the quota,
// the second before it at most as much again; the hold puts the second
// step past the first window, so it is exact). Pausing on a refusal
// instead of sending into a closed window, probing it with one request,
// and a plateau just below the ceiling (CUBIC's idea, around its "W_max")
// keep refusals to one or two per probe;
// the multiplicative probe finds room quickly when a client sharing the
// quota goes quiet or the quota is raised (measured: bench/backpressure.ts).

export type Backpressure = 'throttled' | 'overloaded' | 'timeout';

export interface RateDecision {
  rate: number;
  burst: number;
  /** The decision differs from the previous one. */
  changed: boolean;
  /** Send nothing for this long (a refusal: Vault's window is closed). */
  pauseMs?: number;
}

export interface AdaptiveRateOptions {
  configuredRate: number;
  configuredBurst: number;
  now: number;
  /** Lowest effective rate (default 2 % of the configured one, at least 0.2/s). */
  minRate?: number;
}

export const HOLD_MS = 1000;
/**
 * The pause after a refusal while Vault's window has been closed for less
 * than a window (WINDOW_MS): a one-second window reopens within it, and the
 * throttle's single probe after each pause costs one refusal at most. A
 * window closed longer (a longer quota interval, an overloaded server) gets
 * PAUSE_LONG_MS: a probe a second.
 */
export const PAUSE_MS = 250;
export const PAUSE_LONG_MS = 1000;
/**
 * Idle this long (nothing in flight), the next burst starts with one request
 * alone (the throttle's listen): a window's length, after which
 * another client sharing the quota may have filled the one we send into.
 */
export const PROBE_AFTER_IDLE_MS = 1000;
const WINDOW_MS = 1000;
/** Time constant of the approach back to just below the ceiling. */
const RECOVERY_TAU_MS = 1000;
/** Just below the ceiling: where the approach stops and the plateau holds. */
const PLATEAU_SHARE = 0.97;
/** How long the rate stays on the plateau before probing above the ceiling, at first. */
export const PLATEAU_MS = 8000;
/**
 * A cut within this long of the previous one doubles the plateau (up to
 * PLATEAU_MAX_MS): the probe found no room, so probe less often. Several
 * clients under one quota each probe on their own, and every probe that
 * overfills the shared window is refused for all of them; doubling spaces
 * their probes out (measured: three controllers, test/integration/controller/
 * backpressure.test.ts). A quiet spell this long resets it.
 */
const REPEAT_CUT_MS = 60_000;
export const PLATEAU_MAX_MS = 64_000;
/** Probing grows the rate by 10 % per second (doubling in about 7 s). */
const PROBE_GROWTH_PER_S = Math.log(1.1);

/**
 * When Vault accepted our requests over the last second (answer times, in
 * order). Exact, not slotted: a grid of 100 ms slots counted 0.9 to 1 s and
 * read a 20/s quota as 18 (then the plateau sat 10 % below the quota).
 * Holds as many times as Vault accepts in a second.
 */
class AcceptedLog {
  #times: number[] = [];
  #head = 0;

  add(now: number): void {
    this.#prune(now);
    this.#times.push(now);
  }

  /** Accepted within the last second. */
  count(now: number): number {
    this.#prune(now);
    return this.#times.length - this.#head;
  }

  #prune(now: number): void {
    const t = this.#times;
    while (this.#head < t.length && t[this.#head]! <= now - WINDOW_MS) this.#head++;
    if (this.#head > 64 && this.#head * 2 > t.length) {
      this.#times = t.slice(this.#head);
      this.#head = 0;
    }
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
  /** When Vault's window was first found closed, in the current run of refusals; when the last pause began. */
  #closedSince: number | undefined;
  #pausedAt = -Infinity;
  /** When the rate reached the plateau below the ceiling (undefined while approaching it). */
  #plateauSince: number | undefined;
  #plateauMs = PLATEAU_MS;
  #lastTick: number;
  #lastSignal: AdaptiveState['lastSignal'];
  #minRate: number | undefined;
  readonly #accepted = new AcceptedLog();

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

  /**
   * A request sent at `sentAt` left after the last refusal's pause began: its
   * answer tells whether Vault's window has reopened (an older one's does not).
   */
  sentSincePause(sentAt: number): boolean {
    return sentAt >= this.#pausedAt;
  }

  /** Vault answered a request sent at `sentAt` (default: now), and the answer was not backpressure. */
  answered(now: number, sentAt = now): void {
    this.#accepted.add(now);
    if (this.sentSincePause(sentAt)) this.#closedSince = undefined;
  }

  /**
   * Vault pushed back on a request sent at `sentAt` (monotonic ms; unknown:
   * counted as sent now). `retryAfterMs` is the server's Retry-After.
   */
  backpressure(kind: Backpressure, now: number, opts: { sentAt?: number; retryAfterMs?: number } = {}): RateDecision {
    const { retryAfterMs } = opts;
    const sentAt = opts.sentAt ?? now;
    let pauseMs: number | undefined;
    if (kind !== 'timeout' && sentAt >= this.#pausedAt) {
      this.#closedSince ??= now;
      pauseMs = now - this.#closedSince < WINDOW_MS ? PAUSE_MS : PAUSE_LONG_MS;
      this.#pausedAt = now;
    }
    if (retryAfterMs !== undefined && retryAfterMs > 0) {
      pauseMs = Math.max(pauseMs ?? 0, retryAfterMs);
      this.#pausedAt = now;
    }
    if (sentAt < this.#lastCut || now < this.#holdUntil) {
      // Old news, or within the hold: the window that refused us is the one we already lowered for.
      if (retryAfterMs !== undefined) this.#holdUntil = Math.max(this.#holdUntil, now + retryAfterMs);
      return { ...this.#decision(this.#rate, this.#burst), ...(pauseMs ? { pauseMs } : {}) };
    }
    const before = this.#rate;
    const accepted = this.#accepted.count(now);
    let target: number;
    if (kind === 'timeout') {
      target = before * 0.5;
      this.#ceiling = Math.max(this.#ceiling ?? 0, before * 0.9);
    } else if (accepted > 0) {
      // 90 % of what Vault accepted: below its limit with room for uneven arrivals.
      target = Math.min(before * 0.9, accepted * 0.9);
      this.#ceiling = Math.min(before, accepted);
    } else {
      target = before * 0.5;
      this.#ceiling = before * 0.75;
    }
    const rate = Math.max(this.#floor, before * 0.25, target);
    this.#ceiling = Math.max(this.#ceiling, rate);
    this.#holdUntil = now + Math.max(HOLD_MS, retryAfterMs ?? 0);
    this.#plateauMs = now - this.#lastCut < REPEAT_CUT_MS ? Math.min(PLATEAU_MAX_MS, this.#plateauMs * 2) : PLATEAU_MS;
    this.#lastCut = now;
    this.#plateauSince = undefined;
    this.#lastTick = now;
    this.#lastSignal = { kind, at: now };
    return { ...this.#decision(rate, this.#burstFor(rate)), ...(pauseMs ? { pauseMs } : {}) };
  }

  /** Gradual recovery; call it periodically (the governor does, every 250 ms while lowered). */
  tick(now: number): RateDecision {
    const dt = Math.min(5000, Math.max(0, now - this.#lastTick));
    this.#lastTick = now;
    if (now < this.#holdUntil || this.#rate >= this.#configured) return this.#decision(this.#rate, this.#burst);
    const ceiling = Math.min(this.#ceiling ?? this.#configured, this.#configured);
    const plateau = ceiling * PLATEAU_SHARE;
    let rate = this.#rate;
    if (this.#plateauSince === undefined && rate >= plateau) this.#plateauSince = now;
    if (this.#plateauSince === undefined) {
      // Back towards the ceiling, fast, stopping just below it.
      rate += (ceiling - rate) * (1 - Math.exp(-dt / RECOVERY_TAU_MS));
      rate = Math.max(rate, this.#rate + this.#floor * (dt / 1000));
      if (rate >= plateau) {
        rate = plateau;
        this.#plateauSince = now;
      }
    } else if (this.#plateauSince !== undefined && now - this.#plateauSince < this.#plateauMs) {
      // Hold just below the limit Vault showed: no refusals while it stays where it was.
    } else {
      // Probe above it: has the quota been raised, or has another client sharing it gone quiet?
      rate *= Math.exp(PROBE_GROWTH_PER_S * (dt / 1000));
      rate = Math.max(rate, this.#rate + this.#floor * (dt / 1000));
    }
    if (rate >= this.#configured) {
      rate = this.#configured;
      this.#ceiling = undefined;
      this.#plateauSince = undefined;
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
      this.#plateauSince = undefined;
    }
    return this.#decision(next, this.#burstFor(next));
  }

  #burstFor(rate: number): number {
    const scaled = Math.round((this.#configuredBurst * rate) / this.#configured);
    // Under a known ceiling, a window takes rate + burst: keep the burst to the room left.
    const room = this.#ceiling === undefined ? Infinity : Math.floor(this.#ceiling - rate);
    return Math.max(1, Math.min(this.#configuredBurst, scaled, room));
  }

  #decision(rate: number, burst: number): RateDecision {
    const clamped = Math.min(this.#configured, Math.max(this.#floor, rate));
    const changed = clamped !== this.#rate || burst !== this.#burst;
    this.#rate = clamped;
    this.#burst = burst;
    return { rate: clamped, burst, changed };
  }
}
