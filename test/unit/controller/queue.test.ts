// The queue runs on a fake clock: no test here waits for real time, and
// every delay it asserts is exact.
import assert from 'node:assert/strict';
import { SyncError } from '../../../shared/errors.ts';
import { MAX_DELAY_MS, WorkQueue, clampDelay, itemBackoffMs, type HandlerResult, type QueueOptions } from '../../../controller/queue.ts';
import { FakeClock } from '../support/fake-clock.ts';

let clock: FakeClock;
beforeEach(() => {
  clock = new FakeClock();
});

/** Lets fake time pass. */
const sleep = (ms: number) => clock.advance(ms);

async function until(cond: () => boolean, what: string, timeoutMs = 1000): Promise<void> {
  try {
    await clock.runUntil(cond, { stepMs: 1, limitMs: timeoutMs });
  } catch {
    throw new Error(`timed out waiting for ${what}`);
  }
}

interface Gate {
  promise: Promise<void>;
  open: () => void;
}

function gate(): Gate {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

/** A queue whose handler records every call; `behave` decides what each call does. */
function harness(opts: Partial<QueueOptions> & { behave?: (key: string, call: number) => Promise<HandlerResult | void> }) {
  const calls: { key: string; at: number }[] = [];
  const active = new Map<string, number>();
  let maxActive = 0;
  let maxSameKey = 0;
  const q = new WorkQueue({
    clock,
    concurrency: opts.concurrency ?? 1,
    backoff: opts.backoff ?? { baseMs: 2, maxMs: 50 },
    handler: async (key) => {
      const n = calls.filter((c) => c.key === key).length + 1;
      calls.push({ key, at: clock.now() });
      active.set(key, (active.get(key) ?? 0) + 1);
      maxSameKey = Math.max(maxSameKey, active.get(key)!);
      maxActive = Math.max(maxActive, [...active.values()].reduce((a, b) => a + b, 0));
      try {
        return await (opts.behave?.(key, n) ?? Promise.resolve());
      } finally {
        active.set(key, active.get(key)! - 1);
      }
    },
  });
  return {
    q,
    calls,
    runs: (key: string) => calls.filter((c) => c.key === key).length,
    keys: () => calls.map((c) => c.key),
    get maxActive() { return maxActive; },
    get maxSameKey() { return maxSameKey; },
  };
}

describe('itemBackoffMs', () => {
  it('doubles from the base per consecutive failure, up to the cap', () => {
    const b = { baseMs: 5, maxMs: 100 };
    assert.deepEqual([1, 2, 3, 4, 5, 6, 7, 50].map((n) => itemBackoffMs(n, b)), [5, 10, 20, 40, 80, 100, 100, 100]);
  });
  it('never goes below the base, and the default schedule reaches 1000s', () => {
    assert.equal(itemBackoffMs(0, { baseMs: 5, maxMs: 100 }), 5);
    assert.equal(itemBackoffMs(1, { baseMs: 5, maxMs: 1_000_000 }), 5);
    assert.equal(itemBackoffMs(18, { baseMs: 5, maxMs: 1_000_000 }), 655_360);
    assert.equal(itemBackoffMs(19, { baseMs: 5, maxMs: 1_000_000 }), 1_000_000);
    assert.equal(itemBackoffMs(2000, { baseMs: 5, maxMs: 1_000_000 }), 1_000_000);
  });
});

describe('WorkQueue', () => {
  it('deduplicates keys waiting in the queue', async () => {
    const h = harness({});
    h.q.add('a');
    h.q.add('b');
    h.q.add('a');
    h.q.add('a');
    assert.equal(h.q.depth(), 2);
    h.q.start();
    await until(() => h.calls.length === 2 && h.q.inFlight() === 0, 'both keys');
    await sleep(5);
    assert.deepEqual(h.keys(), ['a', 'b']);
    assert.equal(h.q.depth(), 0);
    await h.q.shutdown();
  });

  it('processes keys in the order they were added', async () => {
    const h = harness({});
    h.q.start();
    for (const k of ['c', 'a', 'b']) h.q.add(k);
    await until(() => h.calls.length === 3, 'three keys');
    assert.deepEqual(h.keys(), ['c', 'a', 'b']);
    await h.q.shutdown();
  });

  it('never processes a key twice at once; re-adds during processing run exactly once more afterwards', async () => {
    const first = gate();
    const h = harness({ concurrency: 4, behave: async (_key, n) => { if (n === 1) await first.promise; } });
    h.q.start();
    h.q.add('a');
    await until(() => h.runs('a') === 1, 'first run');
    for (let i = 0; i < 5; i++) h.q.add('a');
    await sleep(5);
    assert.equal(h.runs('a'), 1, 'no second worker may take the key while it is processed');
    assert.equal(h.q.depth(), 0, 'the key is remembered as dirty, not queued');
    assert.equal(h.q.inFlight(), 1);
    first.open();
    await until(() => h.runs('a') === 2 && h.q.inFlight() === 0, 'second run');
    await sleep(10);
    assert.equal(h.runs('a'), 2);
    assert.equal(h.maxSameKey, 1);
    await h.q.shutdown();
  });

  it('a re-add in the microtask gap right after a dequeue does not start a second worker (regression)', async () => {
    for (const gap of [0, 1, 2, 3]) {
      const release = gate();
      const h = harness({ concurrency: 2, behave: async () => { await release.promise; } });
      h.q.start();
      await sleep(1);
      h.q.add('K');
      for (let i = 0; i < gap; i++) await Promise.resolve();
      h.q.add('K');
      await sleep(5);
      assert.equal(h.maxSameKey, 1, `gap of ${gap} microtasks`);
      release.open();
      // Deduplicated while still queued (one run) or marked dirty once taken (one more run): never overlapping.
      await until(() => h.q.inFlight() === 0 && h.q.depth() === 0 && h.runs('K') >= 1, 'settled');
      await sleep(5);
      assert.ok(h.runs('K') <= 2 && h.maxSameKey === 1, `gap ${gap}: ${h.runs('K')} runs, ${h.maxSameKey} at once`);
      await h.q.shutdown();
    }
  });

  it('a key added from inside its own handler runs once more', async () => {
    let q!: WorkQueue;
    const h = harness({ behave: async (key, n) => { if (n === 1) q.add(key); } });
    q = h.q;
    h.q.start();
    h.q.add('a');
    await until(() => h.runs('a') === 2, 'second run');
    await sleep(10);
    assert.equal(h.runs('a'), 2);
    await h.q.shutdown();
  });

  it('respects the concurrency bound and uses all of it across tenants', async () => {
    const h = harness({ concurrency: 4, behave: () => clock.sleep(4) });
    h.q.start();
    for (let i = 0; i < 10; i++) h.q.add(`Deployment/ns${i % 2}/k${i}`);
    await until(() => h.calls.length === 10 && h.q.inFlight() === 0, 'all keys');
    assert.equal(h.maxActive, 4);
    assert.deepEqual(h.keys().sort(), Array.from({ length: 10 }, (_, i) => `Deployment/ns${i % 2}/k${i}`).sort());
    await h.q.shutdown();
  });

  it('keeps a quarter of the workers from any one tenant: a quiet namespace never waits for a worker behind a flood', async () => {
    const started: string[] = [];
    const h = harness({ concurrency: 4, behave: async (key) => { started.push(key); if (key.includes('/noisy/')) await clock.sleep(1000); } });
    h.q.start();
    for (let i = 0; i < 20; i++) h.q.add(`Deployment/noisy/d${i}`);
    await until(() => h.q.inFlight() === 3, 'the flood holds its share');
    assert.equal(h.q.inFlight(), 3, 'one worker stays free');
    h.q.add('Deployment/quiet/app');
    await until(() => started.includes('Deployment/quiet/app'), 'the quiet key starts on the free worker');
    assert.ok(h.maxActive <= 4);
    const done = h.q.shutdown();
    await until(() => h.q.inFlight() === 0, 'the flood drained', 5000);
    await done;
  });

  it('with concurrency 1 processes one key at a time', async () => {
    const h = harness({ concurrency: 1, behave: () => clock.sleep(2) });
    h.q.start();
    for (const k of ['a', 'b', 'c', 'd']) h.q.add(k);
    await until(() => h.calls.length === 4 && h.q.inFlight() === 0, 'all keys');
    assert.equal(h.maxActive, 1);
    await h.q.shutdown();
  });

  it('retries a plain Error with exponential backoff and resets the failure count on success', async () => {
    const h = harness({
      backoff: { baseMs: 5, maxMs: 100 },
      behave: async (_key, n) => {
        if (n <= 3 || n === 5) throw new Error(`boom ${n}`);
      },
    });
    h.q.start();
    h.q.add('a');
    await until(() => h.runs('a') === 4 && h.q.inFlight() === 0, 'four attempts');
    const gaps = h.calls.slice(1).map((c, i) => c.at - h.calls[i]!.at);
    assert.deepEqual(gaps, [5, 10, 20]);
    await sleep(10);
    assert.equal(h.runs('a'), 4, 'no retry after the success');
    // The success reset the count: the next failure waits the base delay again, not 40 ms.
    h.q.add('a');
    await until(() => h.runs('a') === 6 && h.q.inFlight() === 0, 'a failure after the success, then its retry');
    assert.equal(h.calls[5]!.at - h.calls[4]!.at, 5);
    await h.q.shutdown();
  });

  it('counts failures per key: one key failing backs off only that key', async () => {
    const h = harness({
      backoff: { baseMs: 20, maxMs: 1000 },
      behave: async (key, n) => {
        if (key === 'bad' || (key === 'good' && n === 2)) throw new Error('boom');
      },
    });
    h.q.start();
    h.q.add('bad');
    h.q.add('good');
    await until(() => h.runs('bad') === 3 && h.q.inFlight() === 0, 'bad retried twice');
    const bad = h.calls.filter((c) => c.key === 'bad').map((c) => c.at);
    assert.deepEqual([bad[1]! - bad[0]!, bad[2]! - bad[1]!], [20, 40]);
    // good's first failure waits the base delay: bad's count is not good's.
    const start = h.calls.length;
    h.q.add('good');
    await until(() => h.runs('good') === 3, 'good failed once, then retried');
    const good = h.calls.slice(start).filter((c) => c.key === 'good').map((c) => c.at);
    assert.equal(good[1]! - good[0]!, 20);
    await h.q.shutdown();
  });

  it('retries a SyncError that is retryable (by reason or explicitly)', async () => {
    const errors = [new SyncError('Sealed', 'sealed'), new SyncError('PermissionDenied', 'flaky', { retryable: true })];
    for (const error of errors) {
      const h = harness({ behave: async (_key, n) => { if (n === 1) throw error; } });
      h.q.start();
      h.q.add('a');
      await until(() => h.runs('a') === 2 && h.q.inFlight() === 0, `retry of ${error.reason}`);
      await h.q.shutdown();
    }
  });

  it('does not retry a terminal SyncError, and forgets earlier failures', async () => {
    const h = harness({
      backoff: { baseMs: 10, maxMs: 1000 },
      behave: async (_key, n) => {
        if (n === 1 || n === 3 || n === 4) throw new SyncError('Network', 'reset');
        if (n === 2) throw new SyncError('Network', 'not this time', { retryable: false });
      },
    });
    h.q.start();
    h.q.add('a');
    await until(() => h.runs('a') === 2 && h.q.inFlight() === 0, 'terminal attempt');
    await sleep(50);
    assert.equal(h.runs('a'), 2);
    assert.equal(h.q.depth(), 0);
    // Added again after the terminal answer: its failures count from zero (10, 20 ms), not from two (40 ms).
    h.q.add('a');
    await until(() => h.runs('a') === 5 && h.q.inFlight() === 0, 'two retries after the terminal answer');
    const at = h.calls.map((c) => c.at);
    assert.deepEqual([at[3]! - at[2]!, at[4]! - at[3]!], [10, 20]);
    await h.q.shutdown();
  });

  it('terminal errors of every non-retryable reason stay terminal', async () => {
    const h = harness({ concurrency: 2, behave: async (key) => { throw new SyncError(key as never, 'x'); } });
    const reasons = ['InvalidConfig', 'PathDenied', 'OwnershipConflict', 'PermissionDenied'];
    h.q.start();
    for (const r of reasons) h.q.add(r);
    await until(() => h.calls.length === reasons.length && h.q.inFlight() === 0, 'each once');
    await sleep(15);
    assert.equal(h.calls.length, reasons.length);
    await h.q.shutdown();
  });

  it('re-adds the key after requeueAfterMs', async () => {
    const h = harness({ behave: async (_key, n) => (n === 1 ? { requeueAfterMs: 10 } : undefined) });
    h.q.start();
    h.q.add('a');
    await until(() => h.runs('a') === 2, 'periodic requeue');
    assert.equal(h.calls[1]!.at - h.calls[0]!.at, 10);
    await sleep(20);
    assert.equal(h.runs('a'), 2);
    await h.q.shutdown();
  });

  it('requeueAfterMs of 0 runs the key once more right away', async () => {
    const h = harness({ behave: async (_key, n) => (n === 1 ? { requeueAfterMs: 0 } : {}) });
    h.q.start();
    h.q.add('a');
    await until(() => h.runs('a') === 2, 'immediate requeue');
    await sleep(10);
    assert.equal(h.runs('a'), 2);
    await h.q.shutdown();
  });

  it('addAfter: the earliest pending add wins', async () => {
    const h = harness({});
    h.q.start();
    const t0 = clock.now();
    h.q.addAfter('late-first', 40);
    h.q.addAfter('late-first', 5); // replaces the 40 ms timer
    h.q.addAfter('early-first', 10);
    h.q.addAfter('early-first', 40); // ignored
    await until(() => h.runs('late-first') === 1 && h.runs('early-first') === 1, 'both keys');
    const at = (key: string) => h.calls.find((c) => c.key === key)!.at - t0;
    assert.equal(at('late-first'), 5);
    assert.equal(at('early-first'), 10);
    await sleep(50 - (clock.now() - t0));
    assert.equal(h.runs('late-first'), 1, 'the replaced timer must not fire');
    assert.equal(h.runs('early-first'), 1, 'the later add must not fire');
    await h.q.shutdown();
  });

  it('addAfter clamps delays too long for a timer instead of running them at once (reconcile: 600h)', async () => {
    const h = harness({ behave: async (_key, n) => (n === 1 ? { requeueAfterMs: 600 * 3600_000 } : undefined) });
    h.q.start();
    h.q.add('periodic');
    h.q.addAfter('huge', 2 ** 40);
    h.q.addAfter('nan', Number.NaN);
    h.q.addAfter('inf', Infinity);
    await sleep(60_000);
    assert.equal(h.runs('periodic'), 1, 'a 600h requeue must not become a 1 ms loop');
    assert.deepEqual(h.keys(), ['periodic']);
    await sleep(MAX_DELAY_MS);
    assert.deepEqual(h.keys().sort(), ['huge', 'inf', 'nan', 'periodic', 'periodic']);
    await h.q.shutdown();
  });

  it('clampDelay keeps delays in [0, one day]', () => {
    assert.deepEqual([-5, 0, 10, MAX_DELAY_MS + 1, Infinity, Number.NaN].map(clampDelay), [0, 0, 10, MAX_DELAY_MS, MAX_DELAY_MS, MAX_DELAY_MS]);
  });

  it('addAfter with no delay adds at once', () => {
    const h = harness({});
    h.q.addAfter('a', 0);
    h.q.addAfter('b', -5);
    assert.equal(h.q.depth(), 2);
  });

  it('shutdown waits for in-flight work, drops queued keys and pending timers', async () => {
    const release = gate();
    const h = harness({ concurrency: 1, behave: async (key) => { if (key === 'a') await release.promise; } });
    h.q.start();
    h.q.add('a');
    await until(() => h.runs('a') === 1, 'a running');
    h.q.add('b');
    h.q.add('c');
    h.q.add('a'); // dirty: would run again after
    h.q.addAfter('d', 2);
    let done = false;
    const stopped = h.q.shutdown().then(() => (done = true));
    assert.equal(h.q.depth(), 0);
    await sleep(10);
    assert.equal(done, false, 'shutdown must wait for the running handler');
    release.open();
    await stopped;
    assert.equal(h.q.inFlight(), 0);
    h.q.add('e');
    h.q.addAfter('f', 1);
    await sleep(10);
    assert.deepEqual(h.keys(), ['a']);
    assert.equal(h.q.depth(), 0);
  });

  it('shutdown does not retry a handler that fails while stopping', async () => {
    const release = gate();
    const h = harness({ backoff: { baseMs: 1, maxMs: 1 }, behave: async () => { await release.promise; throw new Error('aborted'); } });
    h.q.start();
    h.q.add('a');
    await until(() => h.runs('a') === 1, 'a running');
    const stopped = h.q.shutdown();
    release.open();
    await stopped;
    await sleep(10);
    assert.equal(h.runs('a'), 1);
  });

  it('shutdown of an idle or never-started queue resolves', async () => {
    const idle = harness({ concurrency: 3 });
    idle.q.start();
    await sleep(2);
    await idle.q.shutdown();
    const never = harness({});
    never.q.add('a');
    await never.q.shutdown();
    assert.equal(never.calls.length, 0);
  });
});

describe('WorkQueue.setConcurrency (tuning at run time)', () => {
  it('raises and lowers how many keys run at once without interrupting or losing any', async () => {
    let active = 0;
    let max = 0;
    const gates = new Map<string, Gate>();
    const done: string[] = [];
    const q = new WorkQueue({
      clock, concurrency: 2,
      handler: async (key) => {
        active++;
        max = Math.max(max, active);
        const g = gate();
        gates.set(key, g);
        await g.promise;
        active--;
        done.push(key);
      },
    });
    q.start();
    // One tenant each: the per-tenant share does not limit what this test counts.
    for (let i = 0; i < 12; i++) q.add(`Deployment/ns${i}/k`);
    await until(() => active === 2, 'two at once');
    q.setConcurrency(5);
    await until(() => active === 5, 'five at once after raising');
    assert.equal(max, 5);
    q.setConcurrency(1);
    // Lowering interrupts nothing: the five in flight finish; then one at a time.
    for (const g of [...gates.values()]) g.open();
    await sleep(5);
    assert.equal(done.length, 5);
    max = active;
    for (let i = 0; i < 40 && done.length < 12; i++) {
      for (const g of [...gates.values()]) g.open();
      await sleep(1);
    }
    assert.equal(done.length, 12, 'every key ran');
    assert.equal(max, 1, 'one at a time after lowering');
    assert.throws(() => q.setConcurrency(0), /whole number >= 1/);
    await q.shutdown();
  });
});
