// The edge between what Vault answers and how fast the throttle sends:
// request outcomes from the Vault client go in, the adaptive rate's
// decisions (adaptive-rate.ts, pure) come out as throttle.setRate /
// setBurst / pause calls, metrics and log lines.
//
// Contract:
//   - `observe(outcome)` is called by the Vault client once per request that
//     left the throttle. Backpressure is a 429, an overload 503 or a timeout;
//     a 429 from sys/health is a standby saying what it is (Vault's default
//     health answer for a standby), not throttling, and is ignored.
//   - A decrease also empties the throttle's bucket: tokens saved at the old
//     rate would be spent at once, on a server whose budget is gone.
//   - A refusal pauses the whole throttle (the decision's pauseMs: the
//     server's Retry-After when it sent one): Vault's quota counts per
//     client address in fixed windows, so it refuses every request from this
//     process until the window ends, not only the one that was answered.
//     After the pause the throttle sends one request alone; any answer to a
//     request sent since the pause began that asks for no new pause (an
//     accepted one, a timeout, an error) settles it and lets the rest go.
//     With `adaptive` on, the throttle listens (throttle.ts): it also probes
//     so after an idle spell (PROBE_AFTER_IDLE_MS), the process's start
//     included, and bounds the requests in flight.
//   - While the rate is below the configured one, a timer (unref) ticks the
//     recovery every 250 ms; it stops once the configured rate is reached.
//   - `setConfigured` retunes the ceiling at run time (the tuning ConfigMap).
//   - With `adaptive: false` only `setConfigured` changes the throttle.
import { systemClock, type Clock, type Timer } from './clock.ts';
import type { ErrorReason } from './errors.ts';
import type { Logger } from './log.ts';
import type { Metrics } from './metrics.ts';
import { AdaptiveRate, PROBE_AFTER_IDLE_MS, type AdaptiveState, type Backpressure, type RateDecision } from './adaptive-rate.ts';
import type { Throttle } from './throttle.ts';

export interface RequestOutcome {
  operation: string;
  /** Path after /v1/. */
  path: string;
  /** HTTP status when Vault answered; undefined for no answer (network, timeout). */
  status?: number;
  /** The failure's reason (classify.ts); undefined on success. */
  reason?: ErrorReason;
  retryAfterMs?: number;
  /** When the request left the throttle (monotonic ms, the client's clock). */
  sentAt?: number;
}

const TICK_MS = 250;

/** Which backpressure an outcome is, if any. */
export function backpressureOf(o: RequestOutcome): Backpressure | undefined {
  if (o.path === 'sys/health' || o.path.startsWith('sys/health?')) return undefined;
  if (o.reason === 'RateLimited') return 'throttled';
  if (o.reason === 'Overloaded') return 'overloaded';
  if (o.reason === 'Timeout') return 'timeout';
  return undefined;
}

export interface ThrottleStatus extends AdaptiveState {
  adaptive: boolean;
  tokens: number;
  queued: number;
}

export class RateGovernor {
  readonly #throttle: Throttle;
  readonly #clock: Clock;
  readonly #metrics: Metrics | undefined;
  readonly #log: Logger | undefined;
  readonly #adaptive: boolean;
  readonly #rate: AdaptiveRate;
  #timer: Timer | undefined;
  #stopped = false;

  constructor(o: { throttle: Throttle; configuredRate: number; configuredBurst: number; adaptive?: boolean; clock?: Clock; metrics?: Metrics; log?: Logger }) {
    this.#throttle = o.throttle;
    this.#clock = o.clock ?? systemClock;
    this.#metrics = o.metrics;
    this.#log = o.log;
    this.#adaptive = o.adaptive ?? true;
    this.#rate = new AdaptiveRate({ configuredRate: o.configuredRate, configuredBurst: o.configuredBurst, now: this.#clock.now() });
    if (this.#adaptive) this.#throttle.listen(PROBE_AFTER_IDLE_MS);
    this.#metrics?.rateLimitConfigured.set(o.configuredRate);
    this.#metrics?.rateLimitBurst.set(o.configuredBurst);
  }

  observe(o: RequestOutcome): void {
    if (!this.#adaptive || this.#stopped) return;
    const now = this.#clock.now();
    const kind = backpressureOf(o);
    const sentSincePause = this.#rate.sentSincePause(o.sentAt ?? now);
    if (!kind) {
      if (o.status !== undefined) this.#rate.answered(now, o.sentAt ?? now);
      if (sentSincePause) this.#throttle.settle();
      return;
    }
    const before = this.#rate.state.rate;
    const d = this.#rate.backpressure(kind, now, { sentAt: o.sentAt, retryAfterMs: o.retryAfterMs });
    if (d.pauseMs) this.#throttle.pause(d.pauseMs);
    else if (sentSincePause) this.#throttle.settle();
    if (!d.changed) return;
    // The server's budget is spent: tokens saved up at the old rate would only buy more refusals.
    this.#throttle.drain();
    this.#metrics?.rateLimitDecreases.inc({ signal: kind });
    this.#log?.info('vault pushed back: lowering the request rate', { signal: kind, status: o.status, operation: o.operation, from: round(before), to: round(d.rate), burst: d.burst, retryAfterMs: o.retryAfterMs });
    this.#apply(d);
  }

  /** A new configured rate and burst, at run time. */
  setConfigured(rate: number, burst: number): void {
    this.#metrics?.rateLimitConfigured.set(rate);
    this.#metrics?.rateLimitBurst.set(burst);
    this.#apply(this.#rate.setConfigured(rate, burst, this.#clock.now()), true);
  }

  status(): ThrottleStatus {
    return { ...this.#rate.state, adaptive: this.#adaptive, tokens: this.#throttle.tokens(), queued: this.#throttle.queued() };
  }

  stop(): void {
    this.#stopped = true;
    this.#timer?.cancel();
    this.#timer = undefined;
  }

  #apply(d: RateDecision, always = false): void {
    if (d.changed || always) {
      this.#throttle.setRate(d.rate);
      this.#throttle.setBurst(d.burst);
    }
    this.#schedule();
  }

  #schedule(): void {
    if (this.#timer || this.#stopped || !this.#adaptive) return;
    const s = this.#rate.state;
    if (s.rate >= s.configuredRate) return;
    this.#timer = this.#clock.setTimer(() => {
      this.#timer = undefined;
      const d = this.#rate.tick(this.#clock.now());
      if (d.changed && d.rate >= this.#rate.state.configuredRate) this.#log?.info('vault request rate back at the configured rate', { rate: round(d.rate) });
      this.#apply(d);
    }, TICK_MS, { unref: true });
  }
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}
