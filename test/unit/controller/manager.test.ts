// The controller's lifecycle state machine on a fake clock, with its parts
// replaced by recorders: readiness, the fence, SIGTERM within a bound, and
// lease loss.
import assert from 'node:assert/strict';
import { Manager, type Elector, type ManagerDeps } from '../../../controller/manager.ts';
import { createLogger } from '../../../shared/log.ts';
import { FakeClock } from '../support/fake-clock.ts';

const DRAIN = 10_000;

function parts(clock: FakeClock, opts: { election?: boolean } = {}) {
  const log: string[] = [];
  const said = (what: string) => log.push(`${clock.now()} ${what}`);
  let synced = false;
  let authenticated = false;
  let vaultAborted = false;
  let logins = 0;
  let finishInFlight: (() => void) | undefined;
  const inFlight = { busy: false };
  let callbacks: { onStartedLeading: () => void; onStoppedLeading: () => void } | undefined;
  const elector: Elector & { act: boolean; lead: boolean } = {
    act: false,
    lead: false,
    get leading() { return this.lead; },
    holder: 'someone',
    mayAct() { return this.lead && this.act; },
    start: () => said('elector.start'),
    release: async () => void said('elector.release'),
  };
  const deps: ManagerDeps = {
    identity: 'me',
    log: createLogger({ level: 'error', write: () => {} }),
    clock,
    drainTimeoutMs: DRAIN,
    abortWaitMs: 5000,
    cache: {
      start: async () => {
        said('cache.start');
        synced = true;
      },
      stop: async () => void said('cache.stop'),
      health: () => ({ synced, healthy: synced, watches: [] }),
      counts: () => ({}),
    },
    queue: {
      start: () => said('queue.start'),
      shutdown: () => {
        said('queue.shutdown');
        if (!inFlight.busy || vaultAborted) return Promise.resolve();
        return new Promise<void>((resolve) => (finishInFlight = () => {
          if (!inFlight.busy) return;
          inFlight.busy = false;
          said('inflight.done');
          resolve();
        }));
      },
    },
    vault: {
      authenticated: () => authenticated,
      ensureLogin: async () => {
        logins++;
      },
      abort: async () => {
        said('vault.abort');
        vaultAborted = true;
        // Queued Vault work fails fast once aborted: the in-flight reconcile ends.
        finishInFlight?.();
      },
    },
    leaderGauge: { set: (v) => said(`leader=${v}`) },
    closeListeners: () => said('listeners.close'),
    ...(opts.election ? { elector: (cb) => ((callbacks = cb), elector) } : {}),
  };
  return {
    deps, log, elector, inFlight,
    get callbacks() { return callbacks!; },
    setAuthenticated: (v: boolean) => void (authenticated = v),
    get vaultAborted() { return vaultAborted; },
    get logins() { return logins; },
    finish: () => finishInFlight?.(),
  };
}

/** A manager with leader election that has just become leader. */
async function leader(clock: FakeClock) {
  const p = parts(clock, { election: true });
  const m = new Manager(p.deps);
  m.start();
  p.elector.lead = p.elector.act = true;
  p.callbacks.onStartedLeading();
  await clock.advance(0);
  return { p, m };
}

describe('Manager (fake clock)', () => {
  let clock: FakeClock;
  beforeEach(() => {
    clock = new FakeClock();
  });

  it('without leader election: works at once, the fence is open, and readiness needs the Vault login', async () => {
    const p = parts(clock);
    const m = new Manager(p.deps);
    assert.equal(m.mayWrite(), false, 'nothing is written before work starts');
    m.start();
    await clock.advance(0);
    assert.equal(m.phase, 'working');
    assert.equal(m.mayWrite(), true);
    assert.ok(p.log.some((l) => l.endsWith('queue.start')));
    assert.deepEqual(m.ready(), { ready: false, checks: { cachesSynced: true, watchesHealthy: true, leader: true, vaultLogin: false } });
    p.setAuthenticated(true);
    assert.equal(m.ready().ready, true);
    assert.equal(m.leaderIdentity(), 'me');
  });

  it('runs prepare before the first reconcile, retrying every 5 s; not ready until it succeeds', async () => {
    const p = parts(clock);
    let attempts = 0;
    const m = new Manager({
      ...p.deps,
      prepare: async () => {
        p.log.push(`${clock.now()} prepare ${++attempts}`);
        if (attempts < 3) throw new Error('configmaps "vault-sync-operator-intents" is forbidden');
      },
    });
    m.start();
    p.setAuthenticated(true);
    await clock.advance(0);
    assert.ok(!p.log.some((l) => l.endsWith('queue.start')), 'no reconcile before prepare succeeded');
    assert.deepEqual(m.ready(), { ready: false, checks: { cachesSynced: true, watchesHealthy: true, leader: true, vaultLogin: true, prepared: false } });
    await clock.advance(10_000);
    assert.deepEqual(p.log.filter((l) => /prepare|queue.start/.test(l)), ['0 prepare 1', '5000 prepare 2', '10000 prepare 3', '10000 queue.start']);
    assert.equal(m.ready().ready, true);
  });

  it('keeps trying to log in to Vault every 5 s while working and unauthenticated', async () => {
    const p = parts(clock);
    const m = new Manager(p.deps);
    m.start();
    await clock.advance(0);
    assert.equal(p.logins, 1);
    await clock.advance(15_000);
    assert.equal(p.logins, 4);
    p.setAuthenticated(true);
    await clock.advance(15_000);
    assert.equal(p.logins, 4);
  });

  it('a standby follower is ready with its caches alone and writes nothing', async () => {
    const p = parts(clock, { election: true });
    const m = new Manager(p.deps);
    m.start();
    await clock.advance(0);
    assert.equal(m.phase, 'standby');
    assert.deepEqual(m.ready(), { ready: true, checks: { cachesSynced: true, watchesHealthy: true, leader: false } });
    assert.equal(m.mayWrite(), false);
    assert.ok(!p.log.some((l) => l.endsWith('queue.start')));
    assert.equal(m.leaderIdentity(), 'someone');
  });

  it('as leader the fence follows the elector: open only while the lease cannot have expired', async () => {
    const { p, m } = await leader(clock);
    assert.equal(m.phase, 'working');
    assert.equal(m.mayWrite(), true);
    p.elector.act = false; // e.g. the process was frozen past its lease
    assert.equal(m.mayWrite(), false);
    assert.equal(m.mayRecord(), false);
  });

  it('SIGTERM: in-flight work that finishes inside the drain bound is not aborted; lease released, then watches, then listeners', async () => {
    const { p, m } = await leader(clock);
    p.inFlight.busy = true;
    void m.shutdown('SIGTERM', 0);
    assert.equal(m.ready().ready, false, 'not ready while stopping');
    await clock.advance(3000);
    assert.equal(p.vaultAborted, false);
    assert.equal(m.mayWrite(), true, 'in-flight work drains through the open fence');
    p.finish();
    assert.equal(await m.done, 0);
    const order = p.log.map((l) => l.split(' ')[1]);
    assert.deepEqual(order.slice(order.indexOf('queue.shutdown')), ['queue.shutdown', 'inflight.done', 'vault.abort', 'elector.release', 'leader=0', 'cache.stop', 'listeners.close']);
  });

  it('SIGTERM behind a throttle backlog: queued Vault work is aborted at the drain bound, and the lease is released right after', async () => {
    const { p, m } = await leader(clock);
    p.inFlight.busy = true; // never finishes on its own
    const t0 = clock.now();
    void m.shutdown('SIGTERM', 0);
    await clock.advance(DRAIN - 1);
    assert.equal(p.vaultAborted, false);
    await clock.advance(1);
    assert.equal(p.vaultAborted, true);
    assert.equal(m.mayWrite(), false, 'no more Vault writes');
    assert.equal(m.mayRecord(), true, 'but what landed may still be recorded while the lease is held');
    assert.equal(await m.done, 0);
    const release = p.log.find((l) => l.endsWith('elector.release'))!;
    assert.equal(Number(release.split(' ')[0]) - t0, DRAIN, 'released exactly at the bound');
  });

  it('workers that ignore the abort do not hold shutdown past abortWaitMs', async () => {
    const p = parts(clock);
    p.deps.vault.abort = async () => void p.log.push(`${clock.now()} vault.abort (ignored)`);
    const m = new Manager(p.deps);
    m.start();
    await clock.advance(0);
    p.inFlight.busy = true;
    void m.shutdown('SIGTERM', 0);
    let done = false;
    void m.done.then(() => (done = true));
    await clock.advance(DRAIN + 5000 - 1);
    assert.equal(done, false);
    await clock.advance(1);
    assert.equal(done, true);
  });

  it('lease lost: the fence closes and the backlog is aborted at once, exit code 1, no drain wait', async () => {
    const { p, m } = await leader(clock);
    p.inFlight.busy = true;
    p.elector.lead = false;
    p.callbacks.onStoppedLeading();
    assert.equal(m.mayWrite(), false);
    assert.equal(m.mayRecord(), false, 'a deposed leader records nothing either');
    assert.equal(m.vaultFence(), false);
    assert.equal(p.vaultAborted, true, 'aborted synchronously with the loss');
    void m.shutdown('SIGTERM', 0); // a later SIGTERM only joins
    assert.equal(await m.done, 1);
    assert.equal(clock.now(), 0, 'no time spent draining');
  });
});
