// The one throttle in front of Vault.
//
// Contract:
//   - Every Vault HTTP request (read, write, delete, metadata, login, renew,
//     lookup) is run through `schedule`, and each takes exactly one token.
//   - Tokens follow a token bucket: `burst` tokens at most, refilled at the
//     current rate. Over any window of t seconds at most rate*t + burst
//     requests start (background ones included).
//   - Fair across tenants: waiting foreground requests are grouped by the
//     tenant (namespace) they run for (tenant.ts) and tenants take turns,
//     one request each; within a tenant, requests start in the order they
//     were scheduled. A quarter of the burst is a reserve that only light
//     tenants (one request waiting) may spend: a tenant with a backlog runs
//     at the full rate but never drains the bucket, so a quiet namespace's
//     next request starts at once even while a flood binds the throttle.
//   - Two lanes. Foreground is the sync's critical path. Background
//     (bookkeeping such as ownership markers) only ever takes a token the
//     bucket would otherwise waste: when no foreground request is waiting
//     and the bucket has stayed full for as long as it takes to refill it
//     (burst / rate), so refill has been overflowing, not just paused
//     between two bursts of work. While the throttle binds (someone is
//     waiting), background never starts.
//   - At most `maxConcurrent` requests are in flight at once; background
//     requests only take a free slot nobody in the foreground is waiting for.
//   - `setRate` / `setBurst` retune a running throttle: tokens accrued so far
//     are kept (capped at the new burst), so the bound holds across a switch.
//     The adaptive rate (adaptive-rate.ts, applied by rate-governor.ts) and
//     the tuning ConfigMap retune through these two.
//   - `drain()` empties the bucket (the adaptive rate does on backpressure).
//   - `pause(ms)` starts nothing for ms (the server's Retry-After: it refuses
//     everything until then); tokens keep accruing, capped at the burst, so
//     the bound still holds. When it ends, one request starts alone: a
//     probe of whether Vault's window has reopened. The rest wait until
//     `settle()` says it was answered without a refusal (or PROBE_HOLD_MS
//     passes, or a new pause begins): a window still closed then costs one
//     refusal, not a burst of them.
//   - `listen(idleMs)` (the adaptive rate turns it on, with pause/settle):
//       - the same single probe when a request is about to start while none
//         is in flight and none started or finished for idleMs, the
//         process's first included: a burst into a window someone sharing
//         the quota has filled costs one refusal, not the burst; a burst
//         Vault accepts waits one round trip;
//       - at most IN_FLIGHT_MS of the rate in flight (at least MAX_GROUP):
//         a fixed window that fills refuses everything in flight at that
//         moment, so a saved-up burst starts as answers make room, not all
//         at once. Three controllers starting together against one quota
//         each had up to 11 refusals in the first window without it.
//   - `stop()` rejects everything still waiting with an Aborted error and
//     starts nothing new (used when the controller loses its lease).
//   - Gathering (`gatherMs`, off unless set): a tenant with a backlog is
//     served in groups, as many tokens as accrue in gatherMs (at most
//     MAX_GROUP, at most what lies above the reserve, at most what waits),
//     rather than one per refill tick. The rate, the bound and the light
//     tenants' path are unchanged; each group's requests start together, so
//     their answers and the work after them share the process's wake-ups.
//     Measured in the controller at the default throttle (README,
//     Performance): about a quarter less CPU per synced resource at 500 ms.
//     MAX_GROUP keeps groups small where the rate is high: there wake-ups
//     are frequent anyway, and groups of 15 (60 req/s) met a real
//     rate-limit quota's window more often (bench:backpressure: 5.1 %
//     answered 429, 3.3 % with groups of 5). After a `drain()`
//     (backpressure) the throttle serves one at a time until the bucket
//     next fills, so that recovering from a cut never waits for a group to
//     accrue on top of the reserve.
//
// Why not Bottleneck (the library first chosen for this): measured side by
// side in bench/core.ts (figures in the README's Performance section),
// Bottleneck starts at most ~415 jobs/s on a 2-core machine (each job takes several setTimeout(0) hops through its
// datastore), a tenth of what one OpenBao accepts; its reservoir refill
// re-arms from each heartbeat, so the rate drifts low; and topping its
// reservoir up from outside races its asynchronous registration and
// over-grants. This file is the exact bucket plus a FIFO concurrency gate.
import { systemClock, type Clock, type Timer } from './clock.ts';
import { SyncError } from './errors.ts';
import { currentTenant } from './tenant.ts';
import type { Metrics } from './metrics.ts';

export type Lane = 'foreground' | 'background';

export interface ThrottleOptions {
  /** Requests per second; Infinity disables rate limiting (benchmarks only). */
  ratePerSecond: number;
  burst: number;
  maxConcurrent?: number;
  /** Instrumentation: called as each request starts (benchmarks record start times). */
  onStart?: (operation: string, lane: Lane) => void;
  /** Records the wait for a token and counts the request. */
  metrics?: Pick<Metrics, 'rateLimitWait' | 'rateLimitRequests'>;
  clock?: Clock;
  /** Serve a backlog in groups of the tokens that accrue in this many ms (0: one at a time). */
  gatherMs?: number;
}

export interface Throttle {
  schedule<T>(operation: string, fn: () => Promise<T>, opts?: { lane?: Lane }): Promise<T>;
  /** Requests waiting for a token or a concurrency slot (foreground and background). */
  queued(): number;
  /** Tokens in the bucket now (Infinity when unlimited). */
  tokens(): number;
  /** The rate tokens refill at now, requests/s. */
  rate(): number;
  /** The bucket size now. */
  burst(): number;
  setRate(ratePerSecond: number): void;
  setBurst(burst: number): void;
  /** Starts nothing for `ms` (extends a pause already running, never shortens it), then one request alone. */
  pause(ms: number): void;
  /** The request that started alone after a pause was answered, and not refused: the rest may start. */
  settle(): void;
  /** From now on: a probe after `idleMs` with nothing in flight, and a bound on requests in flight (see the contract). */
  listen(idleMs: number): void;
  /** Empties the bucket (tokens accrue again from now). */
  drain(): void;
  stop(): Promise<void>;
}

interface Waiter {
  resolve: () => void;
  reject: (err: Error) => void;
}

/**
 * Who spent tokens lately: a tenant that took `reserve` tokens within the
 * last refill window is heavy. Keeps at most `reserve` times per tenant.
 */
class RecentUse {
  readonly #times = new Map<string, number[]>();
  heavy(tenant: string, now: number, reserve: number, windowMs: number): boolean {
    const t = this.#times.get(tenant);
    return reserve > 0 && t !== undefined && t.length >= reserve && now - t[t.length - reserve]! < windowMs;
  }
  record(tenant: string, now: number, reserve: number, windowMs: number): void {
    let t = this.#times.get(tenant);
    if (!t) this.#times.set(tenant, (t = []));
    t.push(now);
    if (t.length > Math.max(1, reserve)) t.shift();
    // Forget tenants idle for a window: the map stays as small as the set of active namespaces.
    if (this.#times.size > 64) for (const [k, v] of this.#times) if (now - v[v.length - 1]! >= windowMs) this.#times.delete(k);
  }
}

/** FIFO per tenant; tenants served round-robin (a Map keeps insertion order: a served tenant moves to the back). */
class FairLine {
  readonly #queues = new Map<string, Waiter[]>();
  #size = 0;
  get length(): number {
    return this.#size;
  }
  push(tenant: string, w: Waiter & { tenant?: string }): void {
    w.tenant = tenant;
    let q = this.#queues.get(tenant);
    if (!q) this.#queues.set(tenant, (q = []));
    q.push(w);
    this.#size++;
  }
  shift(): Waiter | undefined {
    const next = this.#queues.keys().next();
    return next.done ? undefined : this.#serve(next.value);
  }
  /** The tenant whose turn it is. */
  get head(): string | undefined {
    const next = this.#queues.keys().next();
    return next.done ? undefined : next.value;
  }
  /** The first waiting tenant, in turn order, that passes `ok`. */
  find(ok: (tenant: string) => boolean): string | undefined {
    for (const tenant of this.#queues.keys()) if (ok(tenant)) return tenant;
    return undefined;
  }
  /** Serves one request of `tenant` and moves the tenant to the back. */
  serve(tenant: string): Waiter {
    return this.#serve(tenant);
  }
  #serve(tenant: string): Waiter {
    const q = this.#queues.get(tenant)!;
    const w = q.shift()!;
    this.#queues.delete(tenant);
    if (q.length > 0) this.#queues.set(tenant, q);
    this.#size--;
    return w;
  }
  drain(): Waiter[] {
    const all = [...this.#queues.values()].flat();
    this.#queues.clear();
    this.#size = 0;
    return all;
  }
}

/** Two lines: background is served only when foreground is empty. */
class Lines {
  readonly fg = new FairLine();
  readonly bg: Waiter[] = [];
  /** Set once closed: every later waiter is rejected with it at once. */
  closed: Error | undefined;
  get size(): number {
    return this.fg.length + this.bg.length;
  }
  push(lane: Lane, w: Waiter): void {
    if (this.closed) return w.reject(this.closed);
    if (lane === 'background') this.bg.push(w);
    else this.fg.push(currentTenant(), w);
  }
  rejectAll(err: Error): void {
    this.closed = err;
    for (const w of [...this.fg.drain(), ...this.bg.splice(0)]) w.reject(err);
  }
}

/** The largest group gathering starts at once (the default batch size). */
const MAX_GROUP = 5;
/**
 * How long the rest wait for the answer to the probe after a pause. Vault
 * answers a refusal in milliseconds; a probe that takes longer (a slow
 * write, a lost answer) must not hold the throttle for a request timeout.
 */
export const PROBE_HOLD_MS = 1000;
/** While listening, requests in flight are at most what the rate starts in this long (at least MAX_GROUP). */
const IN_FLIGHT_MS = 100;

/** An exact token bucket with two lines of waiters, advanced from a monotonic clock. */
export class TokenBucket {
  #rate: number;
  #burst: number;
  readonly #clock: Clock;
  #level: number;
  #at: number;
  /** Since when the bucket has been full (undefined while it is not). */
  #fullSince: number | undefined;
  readonly #recent = new RecentUse();
  readonly #lines = new Lines();
  #timer: Timer | undefined;
  /** When #timer fires (monotonic ms). */
  #timerDue = Infinity;
  /** Nothing starts before this time (monotonic ms). */
  #pausedUntil = -Infinity;
  readonly #gatherMs: number;
  /** Set by drain(), cleared once the bucket is full again: no gathering while Vault pushes back. */
  #gatherHeld = false;
  /** After a pause (or idle): 'due' until one request has started alone, 'out' (since #probeAt) until settle(). */
  #probe: 'none' | 'due' | 'out' = 'none';
  #probeAt = -Infinity;
  /** listen()'s idle time (undefined: not listening); requests in flight, and when one last started or finished. */
  #idleProbeMs: number | undefined;
  #inFlight = 0;
  #busyAt = -Infinity;

  constructor(ratePerSecond: number, burst: number, clock: Clock = systemClock, gatherMs = 0) {
    this.#rate = ratePerSecond / 1000;
    this.#burst = burst;
    this.#clock = clock;
    this.#gatherMs = gatherMs;
    this.#level = burst;
    this.#at = clock.now();
    this.#fullSince = this.#at;
  }

  /** Tokens kept for light tenants: a quarter of the burst (none below a burst of 4). */
  get #reserve(): number {
    return Math.floor(this.#burst / 4);
  }

  /**
   * The level at which a backlog (a heavy tenant) is served again: the
   * reserve plus one group, the tokens gatherMs accrues, at most MAX_GROUP,
   * at most what lies above the reserve and at most what waits.
   */
  #heavyFrom(waiting: number): number {
    const group = this.#gatherHeld ? 1 : Math.min(Math.floor(this.#rate * this.#gatherMs), MAX_GROUP, this.#burst - this.#reserve, waiting);
    return this.#reserve + Math.max(1, group);
  }

  /** How long the bucket must stay full before background work may spend from it: one full refill. */
  get #quietMs(): number {
    return this.#burst / this.#rate;
  }

  get waiting(): number {
    return this.#lines.size;
  }

  get level(): number {
    this.#accrue();
    return this.#level;
  }

  get ratePerSecond(): number {
    return this.#rate * 1000;
  }

  get burst(): number {
    return this.#burst;
  }

  acquire(lane: Lane = 'foreground'): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#lines.push(lane, { resolve, reject });
      this.#pump();
    });
  }

  setRate(ratePerSecond: number): void {
    this.#accrue(); // tokens earned at the old rate stay earned
    this.#rate = ratePerSecond / 1000;
    this.#rearm();
  }

  setBurst(burst: number): void {
    this.#accrue();
    this.#burst = burst;
    this.#level = Math.min(this.#level, burst);
    this.#rearm();
  }

  drain(): void {
    this.#accrue();
    this.#level = Math.min(this.#level, 0);
    this.#fullSince = undefined;
    this.#gatherHeld = true;
  }

  pause(ms: number): void {
    const until = this.#clock.now() + ms;
    this.#probe = 'due';
    if (!(until > this.#pausedUntil)) return;
    this.#pausedUntil = until;
    this.#rearm();
  }

  settle(): void {
    if (this.#probe !== 'out') return;
    this.#probe = 'none';
    this.#rearm();
  }

  listen(idleMs: number): void {
    this.#idleProbeMs = idleMs;
  }

  get #listening(): boolean {
    return this.#idleProbeMs !== undefined;
  }

  get #inFlightCap(): number {
    return this.#listening ? Math.max(MAX_GROUP, Math.ceil(this.#rate * IN_FLIGHT_MS)) : Infinity;
  }

  /** A request that took a token has finished (answered or not). */
  finished(): void {
    this.#inFlight--;
    this.#busyAt = this.#clock.now();
    if (this.#inFlight === this.#inFlightCap - 1 && this.#lines.size > 0) this.#rearm(); // a slot is free: what waits for one may start
  }

  cancelAll(err: Error): void {
    this.#disarm();
    this.#lines.rejectAll(err);
  }

  #accrue(): void {
    const now = this.#clock.now();
    const raw = this.#level + (now - this.#at) * this.#rate;
    if (raw >= this.#burst && this.#fullSince === undefined) this.#fullSince = now - (raw - this.#burst) / this.#rate;
    if (raw >= this.#burst) this.#gatherHeld = false;
    this.#level = Math.min(this.#burst, raw);
    this.#at = now;
  }

  #take(): void {
    this.#level -= 1;
    this.#fullSince = undefined;
    this.#inFlight++;
    this.#busyAt = this.#clock.now();
  }

  /** Starts the next foreground request of `tenant`: a token, and the tenant's use recorded. */
  #start(tenant: string, now: number): void {
    this.#take();
    this.#recent.record(tenant, now, this.#reserve, this.#quietMs);
    this.#lines.fg.serve(tenant).resolve();
  }

  #rearm(): void {
    this.#disarm();
    this.#pump();
  }

  #disarm(): void {
    this.#timer?.cancel();
    this.#timer = undefined;
    this.#timerDue = Infinity;
  }

  /**
   * Wakes #pump in `ms`, unless a wake-up is already due sooner. A timer armed
   * for background (seconds away: a refill plus a quiet refill) must not hold
   * back foreground that arrived since and needs only the next token, nor the
   * end of a pause.
   */
  #wakeIn(ms: number): void {
    const due = this.#clock.now() + ms;
    if (this.#timer && this.#timerDue <= due) return;
    this.#disarm();
    this.#timerDue = due;
    this.#timer = this.#clock.setTimer(() => {
      this.#timer = undefined;
      this.#timerDue = Infinity;
      this.#pump();
    }, ms);
  }

  /**
   * After a pause (or, listening, an idle spell): starts one request alone,
   * then nothing until settle() or PROBE_HOLD_MS. True while that holds the
   * rest back.
   */
  #probing(now: number, light: (tenant: string) => boolean): boolean {
    const { fg } = this.#lines;
    if (this.#probe === 'out') {
      // An answer this slow (a lost one, a slow write) must not hold the throttle: the rate alone then.
      const left = this.#probeAt + PROBE_HOLD_MS - now;
      if (left <= 0) {
        this.#probe = 'none';
        return false;
      }
      if (this.#lines.size > 0) this.#wakeIn(Math.ceil(left));
      return true;
    }
    // Background keeps its own rule (only tokens that would overflow); the next foreground request is the probe.
    if (fg.length === 0) return false;
    if (this.#level < 1) {
      this.#wakeIn(Math.max(1, Math.ceil((1 - this.#level) / this.#rate)));
      return true;
    }
    this.#probe = 'out';
    this.#probeAt = now;
    this.#start(fg.find(light) ?? fg.head!, now);
    if (this.#lines.size > 0) this.#wakeIn(PROBE_HOLD_MS);
    return true;
  }

  #pump(): void {
    this.#accrue();
    const { fg, bg } = this.#lines;
    const paused = this.#pausedUntil - this.#clock.now();
    if (paused > 0) {
      if (this.#lines.size > 0) this.#wakeIn(Math.ceil(paused));
      return;
    }
    // A heavy tenant (it spent a reserve's worth within a refill window) may not dig into the
    // reserve; a light one may, so a quiet namespace's rotation never waits behind a flood for a token.
    const now = this.#clock.now();
    const light = (tenant: string) => !this.#recent.heavy(tenant, now, this.#reserve, this.#quietMs);
    if (this.#listening && this.#probe === 'none' && this.#inFlight === 0 && now - this.#busyAt >= this.#idleProbeMs!) this.#probe = 'due';
    if (this.#probe !== 'none' && this.#probing(now, light)) return;
    // A group starts once it has accrued, then runs down to the reserve.
    const heavyFrom = this.#heavyFrom(fg.length);
    const group = this.#level >= heavyFrom;
    // Listening to Vault: a bounded number in flight; each answer frees a slot (finished() pumps).
    let cap = this.#inFlightCap - this.#inFlight;
    for (;;) {
      if (fg.length === 0 || this.#level < 1 || cap <= 0) break;
      const tenant = group && this.#level >= this.#reserve + 1 ? fg.head! : fg.find(light);
      if (tenant === undefined) break;
      this.#start(tenant, now);
      cap--;
    }
    // Background only takes what would overflow: nobody waits, and the bucket has been full a whole refill.
    const quietFor = () => (this.#fullSince === undefined ? -Infinity : this.#clock.now() - this.#fullSince);
    if (fg.length === 0 && bg.length > 0 && cap > 0 && quietFor() >= this.#quietMs) {
      this.#take();
      bg.shift()!.resolve();
      cap--;
    }
    // No slot in flight: an answer (finished()) wakes the pump, not a timer.
    if (this.#lines.size === 0 || cap <= 0) return;
    // A late timer only delays the head; the level keeps accruing from the clock.
    const ms = fg.length > 0
      ? Math.max(1, Math.ceil(((fg.find(light) !== undefined ? 1 : this.#heavyFrom(fg.length)) - this.#level) / this.#rate))
      : Math.max(1, Math.ceil(Math.max(0, (this.#burst - this.#level) / this.#rate) + this.#quietMs - Math.max(0, quietFor())));
    this.#wakeIn(ms);
  }
}

/** At most `limit` holders at once; foreground in arrival order, background only when no foreground waits. */
export class Semaphore {
  #limit: number;
  #held = 0;
  readonly #lines = new Lines();

  constructor(limit: number) {
    this.#limit = limit;
  }

  get waiting(): number {
    return this.#lines.size;
  }

  acquire(lane: Lane = 'foreground'): Promise<void> {
    if (this.#lines.closed) return Promise.reject(this.#lines.closed);
    const free = this.#held < this.#limit && this.#lines.fg.length === 0 && (lane === 'foreground' || this.#lines.bg.length === 0);
    if (free) {
      this.#held++;
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => this.#lines.push(lane, { resolve, reject }));
  }

  release(): void {
    this.#held--;
    this.#grant();
  }

  setLimit(limit: number): void {
    this.#limit = limit;
    this.#grant();
  }

  cancelAll(err: Error): void {
    this.#lines.rejectAll(err);
  }

  #grant(): void {
    while (this.#held < this.#limit) {
      const next = this.#lines.fg.shift() ?? this.#lines.bg.shift();
      if (!next) return;
      this.#held++;
      next.resolve();
    }
  }
}

export function createThrottle(opts: ThrottleOptions): Throttle {
  if (!(opts.ratePerSecond > 0)) throw new Error(`throttle: rate must be > 0 (got ${opts.ratePerSecond})`);
  if (!(opts.burst >= 1)) throw new Error(`throttle: burst must be >= 1 (got ${opts.burst})`);
  const clock = opts.clock ?? systemClock;
  const now = () => clock.now();
  const bucket = Number.isFinite(opts.ratePerSecond) ? new TokenBucket(opts.ratePerSecond, Math.floor(opts.burst), clock, opts.gatherMs ?? 0) : undefined;
  const slots = opts.maxConcurrent ? new Semaphore(opts.maxConcurrent) : undefined;
  let stopped = false;
  const aborted = (operation: string) => new SyncError('Aborted', `Vault ${operation} not started: the throttle was stopped`);

  return {
    async schedule<T>(operation: string, fn: () => Promise<T>, scheduleOpts: { lane?: Lane } = {}): Promise<T> {
      const lane = scheduleOpts.lane ?? 'foreground';
      if (stopped) throw aborted(operation);
      const queuedAt = now();
      try {
        await slots?.acquire(lane);
      } catch {
        throw aborted(operation);
      }
      try {
        try {
          if (stopped) throw aborted(operation);
          await bucket?.acquire(lane);
        } catch {
          throw aborted(operation);
        }
        try {
          if (stopped) throw aborted(operation);
          opts.onStart?.(operation, lane);
          opts.metrics?.rateLimitWait.observe({ operation }, (now() - queuedAt) / 1000);
          opts.metrics?.rateLimitRequests.inc({ operation });
          return await fn();
        } finally {
          bucket?.finished();
        }
      } finally {
        slots?.release();
      }
    },
    queued: () => (bucket?.waiting ?? 0) + (slots?.waiting ?? 0),
    tokens: () => bucket?.level ?? Infinity,
    rate: () => bucket?.ratePerSecond ?? Infinity,
    burst: () => bucket?.burst ?? Infinity,
    setRate(ratePerSecond: number) {
      if (!(ratePerSecond > 0) || !Number.isFinite(ratePerSecond)) throw new Error(`throttle: rate must be a finite number > 0 (got ${ratePerSecond})`);
      bucket?.setRate(ratePerSecond);
    },
    setBurst(burst: number) {
      if (!(burst >= 1)) throw new Error(`throttle: burst must be >= 1 (got ${burst})`);
      bucket?.setBurst(Math.floor(burst));
    },
    pause(ms: number) {
      if (ms > 0 && Number.isFinite(ms)) bucket?.pause(ms);
    },
    settle() {
      bucket?.settle();
    },
    listen(idleMs: number) {
      bucket?.listen(idleMs);
    },
    drain() {
      bucket?.drain();
    },
    async stop() {
      stopped = true;
      bucket?.cancelAll(aborted('request'));
      slots?.cancelAll(aborted('request'));
    },
  };
}
