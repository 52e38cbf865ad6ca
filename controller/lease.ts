// Leader election on a coordination.k8s.io Lease, with client-go's algorithm,
// plus a fence.
//
// Contract:
//   - Try to acquire or renew every `retryPeriod` (followers jittered by up
//     to 20 %, so candidates do not stampede).
//   - A lease held by someone else is taken over only after it has not
//     changed for `leaseDuration`, measured on our own clock from when we
//     last saw it change (never by comparing clocks across machines).
//   - Writes carry the resourceVersion we read, so two candidates racing get
//     one 409 Conflict: the loser stays a follower.
//   - Every lease request has a timeout below `renewDeadline` (half of it,
//     and never past the renew deadline itself while leading), so a hung
//     apiserver cannot hold the loop.
//   - A leader that has not renewed within `renewDeadline` has lost: a timer
//     fires at the deadline whether or not a request is still pending, and
//     onStoppedLeading is called once. The elector then stops; the host
//     exits, and a fresh process campaigns again.
//   - The fence: `mayAct()` is true only while leading and before
//     `sent + leaseDuration - fenceMargin`, where `sent` is when the last
//     successful acquire/renew was *sent* (monotonic clock). The apiserver
//     stored that renewal no earlier than it was sent, and other candidates
//     wait `leaseDuration` from when they saw it, so a leader that checks
//     mayAct() right before each Vault request never writes after its lease
//     can have expired, even when its own process was frozen (SIGSTOP, a
//     long GC pause) and none of its timers could run.
//   - release() on shutdown hands the lease over immediately.
// Time (now, timers, jitter) comes from an injected Clock.
// The lease name defaults to the Go operator's, so the two never lead at once.
import { systemClock, type Clock, type Timer } from '../shared/clock.ts';
import { isKubeError, type KubeHttp } from '../shared/kube/http.ts';
import type { Logger } from '../shared/log.ts';
import { backoffDelay, type BackoffPolicy } from '../shared/retry.ts';
import { microTime } from './status.ts';

export interface LeaseOptions {
  http: Pick<KubeHttp, 'request'>;
  namespace: string;
  name: string;
  identity: string;
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
  /** Subtracted from the lease for the fence (default: half the gap between lease duration and renew deadline). */
  fenceMarginMs?: number;
  clock?: Clock;
  log?: Logger;
  onStartedLeading: () => void;
  onStoppedLeading: () => void;
}

interface LeaseRecord {
  metadata: { name: string; namespace: string; resourceVersion?: string };
  spec: {
    holderIdentity?: string;
    leaseDurationSeconds?: number;
    acquireTime?: string;
    renewTime?: string;
    leaseTransitions?: number;
  };
}

/** The default fence margin: halfway between the renew deadline and the lease's end. */
export function defaultFenceMarginMs(leaseDurationMs: number, renewDeadlineMs: number): number {
  return Math.max(0, (leaseDurationMs - renewDeadlineMs) / 2);
}

export class LeaderElector {
  readonly #o: LeaseOptions;
  readonly #clock: Clock;
  readonly #leaderPeriod: BackoffPolicy;
  readonly #followerPeriod: BackoffPolicy;
  readonly #fenceMarginMs: number;
  #leading = false;
  #stopped = false;
  #observed: { rv: string | undefined; holder: string | undefined; at: number } | undefined;
  /** When the last successful acquire/renew was sent (monotonic ms). */
  #renewSentAt = 0;
  #deadline: Timer | undefined;
  #loop: Promise<void> | undefined;
  #abort = new AbortController();

  constructor(opts: LeaseOptions) {
    this.#o = opts;
    this.#clock = opts.clock ?? systemClock;
    // The retry period as a backoff policy that never grows: constant for the leader, jittered for followers.
    this.#leaderPeriod = { baseMs: opts.retryPeriodMs, maxMs: opts.retryPeriodMs, factor: 1, jitter: 'none' };
    this.#followerPeriod = { ...this.#leaderPeriod, jitter: { spread: 0.2 } };
    this.#fenceMarginMs = opts.fenceMarginMs ?? defaultFenceMarginMs(opts.leaseDurationMs, opts.renewDeadlineMs);
  }

  get leading(): boolean {
    return this.#leading;
  }

  /** The holder as last observed (for /state and the extension). */
  get holder(): string | undefined {
    return this.#observed?.holder;
  }

  /** The fence: true while leading and the lease cannot have expired yet on anyone's clock. */
  mayAct(): boolean {
    return this.#leading && this.#clock.now() < this.#renewSentAt + this.#o.leaseDurationMs - this.#fenceMarginMs;
  }

  start(): void {
    this.#loop = this.#run();
  }

  async #run(): Promise<void> {
    const { log } = this.#o;
    while (!this.#stopped) {
      try {
        await this.#tryAcquireOrRenew();
      } catch (err) {
        if (this.#stopped) return;
        log?.warn('leader election: lease request failed', { error: err instanceof Error ? err.message : String(err) });
      }
      if (this.#stopped) return;
      // The deadline timer normally fires first; this catches a clock that jumped past it.
      if (this.#leading && this.#clock.now() - this.#renewSentAt >= this.#o.renewDeadlineMs) return this.#lose();
      try {
        const period = this.#leading ? this.#leaderPeriod : this.#followerPeriod;
        await this.#clock.sleep(backoffDelay(period, 1, () => this.#clock.random()), this.#abort.signal);
      } catch {
        return;
      }
    }
  }

  /** Time one lease request may take: half the renew deadline, and never past the deadline while leading. */
  #requestTimeoutMs(): number {
    const half = this.#o.renewDeadlineMs / 2;
    if (!this.#leading) return half;
    const left = this.#renewSentAt + this.#o.renewDeadlineMs - this.#clock.now();
    return Math.max(1, Math.min(half, left));
  }

  #path(name?: string): string {
    return `/apis/coordination.k8s.io/v1/namespaces/${this.#o.namespace}/leases${name ? `/${name}` : ''}`;
  }

  #request<T>(method: string, path: string, body?: unknown, allow404 = false): Promise<T> {
    return this.#o.http.request<T>(method, path, { body, allow404, timeoutMs: this.#requestTimeoutMs(), signal: this.#abort.signal });
  }

  async #tryAcquireOrRenew(): Promise<void> {
    const { name, identity, leaseDurationMs, log } = this.#o;
    const now = microTime(new Date(this.#clock.wallNow()));
    const spec = (transitions: number, acquireTime: string) => ({
      holderIdentity: identity,
      leaseDurationSeconds: Math.ceil(leaseDurationMs / 1000),
      acquireTime,
      renewTime: now,
      leaseTransitions: transitions,
    });
    const current = await this.#request<LeaseRecord | undefined>('GET', this.#path(name), undefined, true);
    if (!current) {
      const sentAt = this.#clock.now();
      try {
        await this.#request('POST', this.#path(), { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name }, spec: spec(0, now) });
      } catch (err) {
        if (isKubeError(err, 409)) return; // someone else created it first
        throw err;
      }
      return this.#held(sentAt);
    }
    const holder = current.spec.holderIdentity || undefined;
    const rv = current.metadata.resourceVersion;
    if (!this.#observed || this.#observed.rv !== rv) this.#observed = { rv, holder, at: this.#clock.now() };
    const heldByUs = holder === identity;
    const expired = !holder || this.#clock.now() - this.#observed.at > (current.spec.leaseDurationSeconds ?? leaseDurationMs / 1000) * 1000;
    if (!heldByUs && !expired) return;

    const transitions = (current.spec.leaseTransitions ?? 0) + (heldByUs ? 0 : 1);
    const acquireTime = heldByUs && current.spec.acquireTime ? current.spec.acquireTime : now;
    const sentAt = this.#clock.now();
    try {
      const updated = await this.#request<LeaseRecord>('PUT', this.#path(name), {
        apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { ...current.metadata }, spec: spec(transitions, acquireTime),
      });
      this.#observed = { rv: updated.metadata.resourceVersion, holder: identity, at: this.#clock.now() };
    } catch (err) {
      if (isKubeError(err, 409)) {
        log?.debug('leader election: lost a race for the lease');
        return;
      }
      throw err;
    }
    this.#held(sentAt);
  }

  /** A write of ours (sent at `sentAt`) succeeded: we lead until the renew deadline, and may act until the fence. */
  #held(sentAt: number): void {
    if (this.#stopped) return;
    this.#renewSentAt = sentAt;
    this.#deadline?.cancel();
    const left = sentAt + this.#o.renewDeadlineMs - this.#clock.now();
    this.#deadline = this.#clock.setTimer(() => this.#lose(), left);
    if (!this.#leading) {
      this.#leading = true;
      this.#o.log?.info('leader election: became leader', { identity: this.#o.identity });
      this.#o.onStartedLeading();
    }
  }

  #lose(): void {
    if (!this.#leading || this.#stopped) return;
    this.#leading = false;
    this.#stopped = true;
    this.#deadline?.cancel();
    this.#abort.abort();
    this.#o.log?.error('leader election: lease lost (not renewed within the renew deadline)');
    this.#o.onStoppedLeading();
  }

  /** Stops campaigning; if leading, gives the lease up so another instance takes over at once. */
  async release(): Promise<void> {
    this.#stopped = true;
    this.#deadline?.cancel();
    this.#abort.abort();
    await this.#loop;
    if (!this.#leading) return;
    this.#leading = false;
    const timeoutMs = this.#o.renewDeadlineMs / 2;
    try {
      const current = await this.#o.http.request<LeaseRecord | undefined>('GET', this.#path(this.#o.name), { allow404: true, timeoutMs });
      if (current?.spec.holderIdentity !== this.#o.identity) return;
      await this.#o.http.request('PUT', this.#path(this.#o.name), {
        timeoutMs,
        body: { ...current, spec: { ...current.spec, holderIdentity: '', leaseDurationSeconds: 1, renewTime: microTime(new Date(this.#clock.wallNow())) } },
      });
      this.#o.log?.info('leader election: lease released');
    } catch (err) {
      this.#o.log?.warn('leader election: could not release the lease', { error: err instanceof Error ? err.message : String(err) });
    }
  }
}
