// The controller's lifecycle: readiness, leadership, the fence, and shutdown,
// as one state machine. main.ts builds the parts; this decides when they run.
//
//   starting ──(caches start in every instance)──> standby (a follower, or
//   before the first lease) ──onStartedLeading──> working ──SIGTERM──> stopping ──> stopped
//                                                    └──lease lost──> stopping (exit 1)
//
// Contract:
//   - ready(): caches synced and watches healthy; the leader (or a single
//     instance without election) also needs a valid Vault login. A standby
//     follower is ready with its caches alone, so a rollout can proceed.
//   - mayWrite() is the fence. It is true only from the start of work until
//     shutdown closes it (in-flight work drains through it); with leader
//     election, also only while the elector's mayAct() holds (the last renewal was sent less
//     than leaseDuration - margin ago). The host passes it to the Vault
//     client (checked right before each request is sent) and to the
//     Kubernetes writes of the reconciler, so a deposed or frozen-and-resumed
//     leader sends nothing. vaultFence() is the same check for the Vault
//     client, counting what it refused.
//   - Working: wait for the caches, run `prepare` (the intent journal's
//     load: retried every `loginRetryMs` until it succeeds, since no
//     reconcile may run before it), keep a Vault login (retried every 5 s,
//     so readiness recovers without traffic), start the queue.
//   - shutdown(reason, code) runs once: stop taking work; let in-flight work
//     finish for at most `drainTimeoutMs`; then close the fence and abort
//     queued Vault work (the throttle's backlog must not outlast the pod's
//     grace period); wait at most `abortWaitMs` more for the workers; release
//     the lease; stop the watches; close the listeners. `done` resolves
//     with the exit code (the highest asked for).
//   - Lease lost: the fence closes and queued Vault work is aborted at
//     once, then shutdown with exit code 1 (a fresh process campaigns again).
//   - mayRecord() guards the reconciler's Kubernetes status and ledger
//     patches: open like mayWrite(), and still open after a graceful
//     shutdown closed the Vault fence, while the lease is held (what landed
//     in Vault must be recorded); closed once the lease is lost.
// Time comes from an injected Clock.
import { systemClock, type Clock, type Timer } from '../shared/clock.ts';
import type { Logger } from '../shared/log.ts';
import type { WatchHealthSummary } from './cluster-cache.ts';

/** What the manager needs of the leader elector (controller/lease.ts). */
export interface Elector {
  readonly leading: boolean;
  readonly holder: string | undefined;
  mayAct(): boolean;
  start(): void;
  release(): Promise<void>;
}

export interface ManagerDeps {
  cache: { start(): Promise<void>; stop(): Promise<void>; health(): WatchHealthSummary; counts(): unknown };
  queue: { start(): void; shutdown(): Promise<void> };
  /** The Vault side of the engine, narrowed to what the lifecycle needs. */
  vault: {
    authenticated(): boolean;
    ensureLogin(): Promise<void>;
    /** Aborts retries and everything queued in the throttle; nothing new starts. */
    abort(): Promise<void>;
  };
  /** Builds the elector with the manager's callbacks; absent without --leader-elect. */
  elector?: (callbacks: { onStartedLeading: () => void; onStoppedLeading: () => void }) => Elector;
  identity: string;
  leaderGauge?: { set(value: number): void };
  /** Runs once work starts, after the caches synced and before the first reconcile (retried until it succeeds). */
  prepare?: () => Promise<void>;
  /** Closes the HTTP listeners, last. */
  closeListeners?: () => void;
  drainTimeoutMs: number;
  abortWaitMs?: number;
  loginRetryMs?: number;
  clock?: Clock;
  log: Logger;
}

export type Phase = 'standby' | 'working' | 'stopping' | 'stopped';

export interface Readiness {
  ready: boolean;
  checks: Record<string, boolean | string>;
}

export class Manager {
  readonly #d: ManagerDeps;
  readonly #clock: Clock;
  readonly #elector: Elector | undefined;
  #phase: Phase = 'standby';
  /** Set once work must stop reaching Vault (shutdown past the drain bound, or lease lost). */
  #fenceClosed = false;
  /** Set when the lease was lost: not even status records may go out. */
  #deposed = false;
  #worked = false;
  /** `prepare` has succeeded (true when there is none). */
  #prepared: boolean;
  #refused = 0;
  #cacheReady: Promise<void> | undefined;
  #loginTimer: Timer | undefined;
  #exitCode = 0;
  #stopping: Promise<void> | undefined;
  #resolveDone!: (code: number) => void;
  /** Resolves with the exit code once shutdown finished. */
  readonly done: Promise<number>;

  constructor(deps: ManagerDeps) {
    this.#d = deps;
    this.#clock = deps.clock ?? systemClock;
    this.#prepared = deps.prepare === undefined;
    this.done = new Promise((resolve) => (this.#resolveDone = resolve));
    this.#elector = deps.elector?.({
      onStartedLeading: () => void this.#startWork(),
      onStoppedLeading: () => this.#leaseLost(),
    });
  }

  get phase(): Phase {
    return this.#phase;
  }

  /** Leading (always true without leader election, until shutdown). */
  leading(): boolean {
    return this.#elector ? this.#elector.leading : this.#phase !== 'stopped';
  }

  /** The lease holder as last observed, or this instance without leader election. */
  leaderIdentity(): string | undefined {
    return this.#elector ? this.#elector.holder : this.#d.identity;
  }

  /**
   * The fence as the Vault client asks it, right before each request: mayWrite(),
   * counting refusals (logged when the fence first closes on work, and at shutdown).
   */
  vaultFence(): boolean {
    if (this.mayWrite()) return true;
    if (++this.#refused === 1) {
      this.#d.log.warn('fence closed: refusing Vault requests', { why: this.#fenceClosed ? 'stopping' : this.#worked ? 'the leader lease may have expired' : 'not leading' });
    }
    return false;
  }

  /** The fence: may this instance send a write (to Vault, or a status write to Kubernetes) right now? */
  mayWrite(): boolean {
    // Still open while stopping: in-flight work drains until the fence closes.
    if (this.#fenceClosed || !this.#worked) return false;
    return this.#elector ? this.#elector.mayAct() : true;
  }

  /**
   * May this instance still record what it already did (status and ledger
   * patches on Kubernetes)? Like mayWrite(), but it stays open after a
   * graceful shutdown closed the Vault fence, for as long as the lease is
   * held: a reconcile whose Vault work was aborted must still record the
   * writes that did land, or its successor finds them unowned. A deposed
   * leader (lease lost, or possibly expired) records nothing.
   */
  mayRecord(): boolean {
    if (!this.#worked || this.#deposed) return false;
    return this.#elector ? this.#elector.mayAct() : true;
  }

  ready(): Readiness {
    const watches = this.#d.cache.health();
    const leading = this.leading();
    const checks: Record<string, boolean | string> = { cachesSynced: watches.synced, watchesHealthy: watches.healthy, leader: leading };
    // A standby follower is ready: it only needs its caches. The leader also needs Vault.
    const vaultOk = this.#d.vault.authenticated();
    if (leading) checks.vaultLogin = vaultOk;
    // A leader that cannot prepare (say, no RBAC for the intent journal) reconciles nothing: not ready, so a rollout stops there.
    if (leading && this.#d.prepare) checks.prepared = this.#prepared;
    return { ready: this.#phase !== 'stopping' && this.#phase !== 'stopped' && watches.synced && watches.healthy && (!leading || (vaultOk && this.#prepared)), checks };
  }

  /** Starts the caches, then campaigns (or works at once without leader election). */
  start(): void {
    // Caches start in every instance, so a follower that takes over is ready at once.
    this.#cacheReady = this.#d.cache.start();
    if (this.#elector) this.#elector.start();
    else void this.#startWork();
  }

  async #startWork(): Promise<void> {
    if (this.#phase !== 'standby') return;
    this.#phase = 'working';
    this.#worked = true;
    this.#d.leaderGauge?.set(1);
    await this.#cacheReady;
    if (this.#phase !== 'working') return;
    for (let attempt = 1; this.#d.prepare; attempt++) {
      try {
        await this.#d.prepare();
        this.#prepared = true;
        break;
      } catch (err) {
        this.#d.log.warn('cannot prepare to work; retrying', { attempt, error: err instanceof Error ? err.message : String(err) });
        await this.#clock.sleep(this.#d.loginRetryMs ?? 5000);
        if (this.#phase !== 'working') return;
      }
    }
    this.#keepLoggedIn();
    this.#d.queue.start();
    this.#d.log.info('reconciling', { resources: this.#d.cache.counts() });
  }

  // While working, keep a Vault login: readiness needs it, and a login that
  // failed at start must not wait for the next sync to be retried.
  #keepLoggedIn(): void {
    if (this.#phase !== 'working') return;
    if (!this.#d.vault.authenticated() && this.mayWrite()) {
      void this.#d.vault.ensureLogin().catch((err) => this.#d.log.warn('vault login failed; retrying', { error: err instanceof Error ? err.message : String(err) }));
    }
    this.#loginTimer = this.#clock.setTimer(() => this.#keepLoggedIn(), this.#d.loginRetryMs ?? 5000, { unref: true });
  }

  #leaseLost(): void {
    // Nothing may reach Vault (or record in Kubernetes) from here on: close the fence and drop the backlog now, then stop.
    this.#deposed = true;
    this.#closeFence();
    this.#d.leaderGauge?.set(0);
    void this.shutdown('leader lease lost', 1);
  }

  #closeFence(): void {
    if (this.#fenceClosed) return;
    this.#fenceClosed = true;
    void this.#d.vault.abort();
  }

  /** Stops everything once; later calls only raise the exit code. Resolves when stopped. */
  shutdown(reason: string, code: number): Promise<void> {
    this.#exitCode = Math.max(this.#exitCode, code);
    this.#stopping ??= this.#stop(reason);
    return this.#stopping;
  }

  /** True when `work` has not settled within `ms` (it keeps running either way). */
  async #late(work: Promise<unknown>, ms: number): Promise<boolean> {
    const giveUp = new AbortController();
    const late = await Promise.race([
      work.then(() => false, () => false),
      this.#clock.sleep(ms, giveUp.signal).then(() => true, () => false),
    ]);
    giveUp.abort();
    return late;
  }

  async #stop(reason: string): Promise<void> {
    const { log, queue, cache } = this.#d;
    const wasWorking = this.#phase === 'working';
    this.#phase = 'stopping';
    log.info('shutting down', { reason });
    this.#loginTimer?.cancel();
    const drained = queue.shutdown(); // takes nothing new; resolves when in-flight work is done
    if (wasWorking && !this.#fenceClosed && (await this.#late(drained, this.#d.drainTimeoutMs))) {
      log.warn('shutdown: in-flight work did not finish within the drain bound; aborting queued Vault requests', { drainTimeoutMs: this.#d.drainTimeoutMs });
    }
    this.#closeFence();
    if (await this.#late(drained, this.#d.abortWaitMs ?? 5000)) log.warn('shutdown: workers still busy after the abort; stopping anyway');
    log.debug('shutdown: queue drained');
    await this.#elector?.release();
    this.#d.leaderGauge?.set(0);
    log.debug('shutdown: vault work stopped, lease released');
    await cache.stop();
    log.debug('shutdown: watches stopped');
    this.#d.closeListeners?.();
    if (this.#refused > 0) log.info('shutdown: the fence refused Vault requests', { refused: this.#refused });
    this.#phase = 'stopped';
    this.#resolveDone(this.#exitCode);
  }
}
