// Leader election on a coordination.k8s.io Lease, with client-go's algorithm:
//   - try to acquire or renew every `retryPeriod`;
//   - a lease held by someone else is taken over only after it has not
//     changed for `leaseDuration`, measured on our own clock from when we
//     last saw it change (never by comparing clocks across machines);
//   - writes carry the resourceVersion we read, so two candidates racing get
//     one 409 Conflict: the loser stays a follower;
//   - a leader that cannot renew within `renewDeadline` has lost: it calls
//     onStoppedLeading at once (the host stops all work and exits non-zero,
//     because nothing fences a deposed leader's writes);
//   - release() on shutdown hands the lease over immediately.
// The lease name defaults to the Go operator's, so the two never lead at once.
import { setTimeout as sleep } from 'node:timers/promises';
import { isKubeError, type KubeHttp } from '../shared/kube/http.ts';
import type { Logger } from '../shared/log.ts';
import { microTime } from './status.ts';

export interface LeaseOptions {
  http: KubeHttp;
  namespace: string;
  name: string;
  identity: string;
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
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

export class LeaderElector {
  readonly #o: LeaseOptions;
  #leading = false;
  #stopped = false;
  #observed: { rv: string | undefined; holder: string | undefined; at: number } | undefined;
  #lastRenew = 0;
  #loop: Promise<void> | undefined;
  #abort = new AbortController();

  constructor(opts: LeaseOptions) {
    this.#o = opts;
  }

  get leading(): boolean {
    return this.#leading;
  }

  /** The holder as last observed (for /state and the extension). */
  get holder(): string | undefined {
    return this.#observed?.holder;
  }

  start(): void {
    this.#loop = this.#run();
  }

  async #run(): Promise<void> {
    const { retryPeriodMs, renewDeadlineMs, log } = this.#o;
    while (!this.#stopped) {
      let ok = false;
      try {
        ok = await this.#tryAcquireOrRenew();
      } catch (err) {
        log?.warn('leader election: lease request failed', { error: err instanceof Error ? err.message : String(err) });
      }
      if (this.#leading && !ok && Date.now() - this.#lastRenew > renewDeadlineMs) {
        this.#leading = false;
        log?.error('leader election: lease lost (not renewed within the renew deadline)');
        this.#o.onStoppedLeading();
        return;
      }
      try {
        // Jitter followers a little, like client-go, so candidates do not stampede.
        await sleep(this.#leading ? retryPeriodMs : retryPeriodMs * (1 + Math.random() * 0.2), undefined, { signal: this.#abort.signal });
      } catch {
        return;
      }
    }
  }

  #path(name?: string): string {
    return `/apis/coordination.k8s.io/v1/namespaces/${this.#o.namespace}/leases${name ? `/${name}` : ''}`;
  }

  async #tryAcquireOrRenew(): Promise<boolean> {
    const { http, name, identity, leaseDurationMs, log } = this.#o;
    const now = new Date();
    const spec = (transitions: number, acquireTime: string) => ({
      holderIdentity: identity,
      leaseDurationSeconds: Math.ceil(leaseDurationMs / 1000),
      acquireTime,
      renewTime: microTime(now),
      leaseTransitions: transitions,
    });
    const current = await http.request<LeaseRecord | undefined>('GET', this.#path(name), { allow404: true });
    if (!current) {
      try {
        await http.request('POST', this.#path(), { body: { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name }, spec: spec(0, microTime(now)) } });
      } catch (err) {
        if (isKubeError(err, 409)) return false; // someone else created it first
        throw err;
      }
      return this.#becameLeader();
    }
    const holder = current.spec.holderIdentity || undefined;
    const rv = current.metadata.resourceVersion;
    if (!this.#observed || this.#observed.rv !== rv) this.#observed = { rv, holder, at: Date.now() };
    const heldByUs = holder === identity;
    const expired = !holder || Date.now() - this.#observed.at > (current.spec.leaseDurationSeconds ?? leaseDurationMs / 1000) * 1000;
    if (!heldByUs && !expired) return false;

    const transitions = (current.spec.leaseTransitions ?? 0) + (heldByUs ? 0 : 1);
    const acquireTime = heldByUs && current.spec.acquireTime ? current.spec.acquireTime : microTime(now);
    try {
      const updated = await http.request<LeaseRecord>('PUT', this.#path(name), {
        body: { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { ...current.metadata }, spec: spec(transitions, acquireTime) },
      });
      this.#observed = { rv: updated.metadata.resourceVersion, holder: identity, at: Date.now() };
    } catch (err) {
      if (isKubeError(err, 409)) {
        log?.debug('leader election: lost a race for the lease');
        return false;
      }
      throw err;
    }
    return heldByUs ? this.#renewed() : this.#becameLeader();
  }

  #renewed(): boolean {
    this.#lastRenew = Date.now();
    return true;
  }

  #becameLeader(): boolean {
    this.#lastRenew = Date.now();
    if (!this.#leading) {
      this.#leading = true;
      this.#o.log?.info('leader election: became leader', { identity: this.#o.identity });
      this.#o.onStartedLeading();
    }
    return true;
  }

  /** Stops campaigning; if leading, gives the lease up so another instance takes over at once. */
  async release(): Promise<void> {
    this.#stopped = true;
    this.#abort.abort();
    await this.#loop;
    if (!this.#leading) return;
    this.#leading = false;
    try {
      const current = await this.#o.http.request<LeaseRecord | undefined>('GET', this.#path(this.#o.name), { allow404: true });
      if (current?.spec.holderIdentity !== this.#o.identity) return;
      await this.#o.http.request('PUT', this.#path(this.#o.name), {
        body: { ...current, spec: { ...current.spec, holderIdentity: '', leaseDurationSeconds: 1, renewTime: microTime(new Date()) } },
      });
      this.#o.log?.info('leader election: lease released');
    } catch (err) {
      this.#o.log?.warn('leader election: could not release the lease', { error: err instanceof Error ? err.message : String(err) });
    }
  }
}
