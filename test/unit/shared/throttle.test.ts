import assert from 'node:assert/strict';
import { SyncError } from '../../../shared/errors.ts';
import { createThrottle, PROBE_HOLD_MS, type Lane } from '../../../shared/throttle.ts';
import { FakeClock } from '../support/fake-clock.ts';
import { withTenant } from '../../../shared/tenant.ts';

/** Largest excess of any window of starts over rate*t + burst (piecewise rates allowed). */
function worstExcess(starts: readonly number[], allowed: (a: number, b: number) => number): number {
  let worst = -Infinity;
  for (let i = 0; i < starts.length; i++) {
    for (let j = i; j < starts.length; j++) worst = Math.max(worst, j - i + 1 - allowed(starts[i]!, starts[j]!));
  }
  return worst;
}

function recorder(clock: FakeClock) {
  const starts: { at: number; name: string; lane: Lane }[] = [];
  return { starts, run: (name: string, lane: Lane = 'foreground') => async () => void starts.push({ at: clock.now(), name, lane }) };
}

describe('throttle (token bucket and concurrency gate)', () => {
  it('lets a burst through at once, then holds the rate, never above rate*t + burst', async () => {
    const clock = new FakeClock();
    const rate = 50;
    const burst = 10;
    const throttle = createThrottle({ ratePerSecond: rate, burst, clock });
    const rec = recorder(clock);
    const all = Promise.all(Array.from({ length: 40 }, (_, i) => throttle.schedule('write', rec.run(`r${i}`))));
    await clock.runUntil(() => rec.starts.length === 40);
    await all;
    const at = rec.starts.map((s) => s.at / 1000);
    // One tenant with a backlog: the burst less the light tenants' reserve (a quarter) starts at once.
    const reserve = Math.floor(burst / 4);
    assert.equal(at[burst - reserve - 1], 0, 'the burst starts at once');
    assert.ok(at[burst - reserve]! > 0, 'the request after the burst waits');
    // Then the full rate: the 32 requests beyond the burst at 50/s need 0.64 s, less the first refill.
    assert.ok(at.at(-1)! > 0.6 && at.at(-1)! <= 0.64 + 1e-9, `last start at ${at.at(-1)}`);
    const steady = at.filter((t) => t > 0);
    assert.ok(Math.abs((steady.length - 1) / (steady.at(-1)! - steady[0]!) - rate) < 0.5, 'the backlogged tenant still gets the full rate');
    assert.ok(worstExcess(at, (a, b) => rate * (b - a) + burst) <= 1e-9);
    await throttle.stop();
  });

  it('bounds concurrency', async () => {
    const throttle = createThrottle({ ratePerSecond: Infinity, burst: 1, maxConcurrent: 3 });
    let running = 0;
    let peak = 0;
    await Promise.all(Array.from({ length: 12 }, () => throttle.schedule('read', async () => {
      peak = Math.max(peak, ++running);
      await new Promise((r) => setImmediate(r));
      running--;
    })));
    assert.equal(peak, 3);
    await throttle.stop();
  });

  it('passes results and errors through', async () => {
    const throttle = createThrottle({ ratePerSecond: 100, burst: 5 });
    assert.equal(await throttle.schedule('read', async () => 42), 42);
    await assert.rejects(throttle.schedule('read', async () => { throw new SyncError('Sealed', 'x'); }), (e: unknown) => e instanceof SyncError && e.reason === 'Sealed');
    await throttle.stop();
  });

  it('stop() rejects what is still queued with Aborted and refuses new work', async () => {
    const clock = new FakeClock();
    const throttle = createThrottle({ ratePerSecond: 1, burst: 1, clock });
    await throttle.schedule('write', async () => {});
    const queued = throttle.schedule('write', async () => 'never');
    const queuedBg = throttle.schedule('write_metadata', async () => 'never', { lane: 'background' });
    await throttle.stop();
    await assert.rejects(queued, (e: unknown) => e instanceof SyncError && e.reason === 'Aborted');
    await assert.rejects(queuedBg, (e: unknown) => e instanceof SyncError && e.reason === 'Aborted');
    await assert.rejects(throttle.schedule('write', async () => 1), (e: unknown) => e instanceof SyncError && e.reason === 'Aborted');
  });

  it('background requests never take a token a waiting foreground request needs', async () => {
    const clock = new FakeClock();
    const rate = 40;
    const burst = 4;
    const throttle = createThrottle({ ratePerSecond: rate, burst, clock });
    const rec = recorder(clock);
    const work: Promise<void>[] = [];
    // Background first, foreground later: foreground still goes first.
    for (let i = 0; i < 3; i++) work.push(throttle.schedule('write_metadata', rec.run(`b${i}`, 'background'), { lane: 'background' }));
    for (let i = 0; i < 12; i++) work.push(throttle.schedule('write', rec.run(`f${i}`)));
    await clock.runUntil(() => rec.starts.length === 15);
    await Promise.all(work);
    await throttle.stop();
    // Foreground first, even scheduled later: background waits for the bucket to be full for a whole refill.
    assert.deepEqual(rec.starts.slice(0, 12).map((s) => s.name), Array.from({ length: 12 }, (_, i) => `f${i}`));
    // The bucket refills to full, then must stay full a whole refill (burst/rate = 100 ms) of overflow.
    const lastFg = rec.starts[11]!.at;
    assert.ok(rec.starts[12]!.at - lastFg >= (burst * 1000) / rate + 1000 / rate, `first background at ${rec.starts[12]!.at} vs last foreground ${lastFg}`);
    // One at a time: each background token is one the full bucket would have wasted.
    assert.ok(rec.starts[13]!.at - rec.starts[12]!.at >= 1000 / rate - 1);
    // Across both lanes the bucket bound holds.
    assert.ok(worstExcess(rec.starts.map((s) => s.at / 1000), (a, b) => rate * (b - a) + burst) <= 1e-9);
  });

  it('a foreground request arriving while background waits on its quiet-period timer starts as soon as a token is there', async () => {
    // The timer armed for background (refill + a whole quiet refill: seconds at
    // 10/s) must not hold back foreground that needs only the next token: that
    // stalled convergence for ~2 s at a time while markers were pending.
    const clock = new FakeClock();
    const rate = 10;
    const burst = 20;
    const throttle = createThrottle({ ratePerSecond: rate, burst, clock });
    const rec = recorder(clock);
    const first = Array.from({ length: burst }, (_, i) => throttle.schedule('write', rec.run(`f${i}`)));
    await clock.runUntil(() => rec.starts.length === burst, { stepMs: 5 });
    await Promise.all(first); // the bucket is (nearly) empty now: the last ones waited for tokens
    const bg = throttle.schedule('write_metadata', rec.run('b0', 'background'), { lane: 'background' });
    await clock.advance(50); // the background timer is armed, seconds away
    const scheduledAt = clock.now();
    const late = throttle.schedule('write', rec.run('late'));
    await clock.runUntil(() => rec.starts.some((s) => s.name === 'late'), { limitMs: 10_000, stepMs: 5 });
    const at = rec.starts.find((s) => s.name === 'late')!.at;
    assert.ok(at - scheduledAt <= 1000 / rate + 5, `the next token comes within ${1000 / rate} ms; foreground started ${at - scheduledAt} ms after it was scheduled`);
    await late;
    await clock.runUntil(() => rec.starts.some((s) => s.name === 'b0'), { limitMs: 20_000, stepMs: 10 });
    await bg;
    await throttle.stop();
  });

  it('background waits behind a busy concurrency gate, foreground does not wait behind background', async () => {
    const throttle = createThrottle({ ratePerSecond: Infinity, burst: 1, maxConcurrent: 1 });
    const order: string[] = [];
    let release!: () => void;
    const first = throttle.schedule('write', () => new Promise<void>((r) => (release = () => { order.push('f0'); r(); })));
    await new Promise((r) => setImmediate(r));
    const bg = throttle.schedule('write_metadata', async () => void order.push('b0'), { lane: 'background' });
    const fg = throttle.schedule('write', async () => void order.push('f1'));
    release();
    await Promise.all([first, bg, fg]);
    assert.deepEqual(order, ['f0', 'f1', 'b0']);
    await throttle.stop();
  });

  it('retunes rate and burst while running without exceeding the bound across the switch', async () => {
    const clock = new FakeClock();
    const throttle = createThrottle({ ratePerSecond: 100, burst: 5, clock });
    const rec = recorder(clock);
    const work = Array.from({ length: 40 }, (_, i) => throttle.schedule('write', rec.run(`r${i}`)));
    await clock.advance(150);
    throttle.setRate(25);
    throttle.setBurst(2);
    assert.equal(throttle.rate(), 25);
    await clock.runUntil(() => rec.starts.length === 40);
    await Promise.all(work);
    await throttle.stop();
    const at = rec.starts.map((s) => s.at / 1000);
    const sw = 0.15;
    const allowed = (a: number, b: number) => (b <= sw ? 100 * (b - a) : a >= sw ? 25 * (b - a) : 100 * (sw - a) + 25 * (b - sw)) + 5;
    assert.ok(worstExcess(at, allowed) <= 1e-9);
    const after = at.filter((s) => s > sw + 0.05);
    const observed = (after.length - 1) / (after.at(-1)! - after[0]!);
    assert.ok(Math.abs(observed - 25) < 0.5, `rate after the switch ${observed}`);
  });

  it('after a pause one request starts alone: a new pause before its answer holds the rest; PROBE_HOLD_MS without an answer releases them', async () => {
    const clock = new FakeClock();
    const throttle = createThrottle({ ratePerSecond: 20, burst: 8, clock });
    const rec = recorder(clock);
    const work = Array.from({ length: 6 }, (_, i) => throttle.schedule('write', rec.run(`r${i}`)));
    await clock.advance(0);
    assert.equal(rec.starts.length, 6, 'unpaused: the burst starts');
    const more = Array.from({ length: 6 }, (_, i) => throttle.schedule('write', rec.run(`s${i}`)));
    throttle.pause(250);
    await clock.advance(250);
    assert.equal(rec.starts.length, 7, 'the probe');
    throttle.pause(500); // the probe was refused: the window is still closed
    await clock.advance(499);
    assert.equal(rec.starts.length, 7, 'held while paused again');
    await clock.advance(1);
    assert.equal(rec.starts.length, 8, 'the next probe, alone');
    await clock.advance(PROBE_HOLD_MS - 1);
    assert.equal(rec.starts.length, 8, 'held while its answer is awaited');
    await clock.advance(1);
    assert.ok(rec.starts.length > 8, 'no answer within PROBE_HOLD_MS: the rest go');
    await clock.runUntil(() => rec.starts.length === 12);
    await Promise.all([...work, ...more]);
    const settled = rec.starts.map((s) => s.at);
    assert.ok(worstExcess(settled.map((t) => t / 1000), (a, b) => 20 * (b - a) + 8) <= 1e-9);
    await throttle.stop();
  });

  it('listen: the first request, and the first after an idle spell with nothing in flight, start alone; busy, nothing waits for an answer', async () => {
    const clock = new FakeClock();
    const throttle = createThrottle({ ratePerSecond: 100, burst: 8, clock });
    throttle.listen(1000);
    const rec = recorder(clock);
    let answer!: () => void;
    const slow = (name: string) => async () => {
      rec.starts.push({ at: clock.now(), name, lane: 'foreground' });
      await new Promise<void>((r) => (answer = r));
    };
    const first = [throttle.schedule('write', slow('a0')), ...Array.from({ length: 4 }, (_, i) => throttle.schedule('write', rec.run(`a${i + 1}`)))];
    await clock.advance(0);
    assert.deepEqual(rec.starts.map((s) => s.name), ['a0'], 'cold: one alone');
    throttle.settle();
    await clock.advance(0);
    assert.equal(rec.starts.length, 5, 'its answer came: the rest of the burst');
    await clock.advance(500);
    const busy = throttle.schedule('write', rec.run('b0'));
    await clock.advance(0);
    assert.equal(rec.starts.length, 6, 'a request in flight (a0): no probe, however long since the last start');
    answer();
    await Promise.all([...first, busy]);
    await clock.advance(999);
    const warm = throttle.schedule('write', rec.run('c0'));
    await clock.advance(0);
    assert.equal(rec.starts.length, 7, 'idle for less than a second: no probe');
    await warm;
    await clock.advance(1000);
    const later = Array.from({ length: 3 }, (_, i) => throttle.schedule('write', rec.run(`d${i}`)));
    await clock.advance(0);
    assert.equal(rec.starts.length, 8, 'idle for a second: one alone again');
    throttle.settle();
    await clock.advance(0);
    await Promise.all(later);
    assert.equal(rec.starts.length, 10);
    await throttle.stop();
  });

  it('listening: at most 5 in flight (100 ms of the rate, at least 5) while a burst is spent, each answer making room; the same tokens in all', async () => {
    const clock = new FakeClock();
    const throttle = createThrottle({ ratePerSecond: 10, burst: 20, clock });
    throttle.listen(1000);
    const answers: (() => void)[] = [];
    let started = 0;
    const work = Array.from({ length: 16 }, () => throttle.schedule('write', () => new Promise<void>((r) => {
      started++;
      answers.push(r);
    })));
    await clock.advance(0);
    assert.equal(started, 1, 'the probe alone');
    throttle.settle(); // the governor: its answer came, not a refusal
    answers.shift()!();
    await clock.advance(0);
    assert.equal(started, 6, 'five in flight');
    await clock.advance(50);
    assert.equal(started, 6, 'tokens in the bucket, but no slot: nothing starts');
    assert.equal(clock.pending, 0, 'and no timer spins: an answer wakes the throttle');
    answers.shift()!();
    answers.shift()!();
    await clock.advance(0);
    assert.equal(started, 8, 'two answers, two more');
    while (answers.length > 0) {
      answers.shift()!();
      await clock.advance(0);
    }
    assert.equal(started, 15, 'the burst down to the reserve');
    await clock.advance(49);
    assert.equal(started, 15, 'the 16th waits for a token: no more than the burst was spent');
    await clock.runUntil(() => started === 16);
    answers.shift()!();
    await Promise.all(work);
    await throttle.stop();
  });

  it('a pause ending with only background work waiting: background keeps its rule, the next foreground request is the probe', async () => {
    const clock = new FakeClock();
    const throttle = createThrottle({ ratePerSecond: 10, burst: 2, clock });
    const rec = recorder(clock);
    throttle.pause(100);
    const bg = throttle.schedule('marker', rec.run('bg', 'background'), { lane: 'background' });
    await clock.advance(100 + 200); // a full bucket for one refill (burst / rate)
    assert.deepEqual(rec.starts.map((s) => s.name), ['bg'], 'background started under its own rule');
    const fg = Array.from({ length: 2 }, (_, i) => throttle.schedule('write', rec.run(`f${i}`)));
    await clock.advance(0);
    assert.deepEqual(rec.starts.map((s) => s.name), ['bg', 'f0'], 'the probe');
    throttle.settle();
    await clock.runUntil(() => rec.starts.length === 3);
    await Promise.all([bg, ...fg]);
    await throttle.stop();
  });

  it('pause(ms) starts nothing until it ends and drain() empties the bucket; the bound holds through both', async () => {
    const clock = new FakeClock();
    const throttle = createThrottle({ ratePerSecond: 10, burst: 4, clock });
    const rec = recorder(clock);
    throttle.pause(1000);
    throttle.pause(200); // never shortens a pause
    const work = Array.from({ length: 8 }, (_, i) => throttle.schedule('write', rec.run(`r${i}`)));
    await clock.advance(999);
    assert.equal(rec.starts.length, 0, 'paused');
    await clock.advance(1);
    assert.equal(rec.starts.length, 1, 'one request alone when the pause ends');
    throttle.settle();
    await clock.advance(0);
    assert.equal(rec.starts.length, 3, 'its answer settles the probe: the rest of the burst (less the light tenants\' reserve) starts');
    throttle.drain();
    assert.equal(throttle.tokens(), 0);
    await clock.advance(99);
    assert.equal(rec.starts.length, 3, 'drained: the next token comes one refill period later');
    await clock.runUntil(() => rec.starts.length === 8);
    await Promise.all(work);
    const at = rec.starts.map((s) => s.at / 1000);
    assert.ok(worstExcess(at, (a, b) => 10 * (b - a) + 4) <= 1e-9);
    await throttle.stop();
  });

  it('keeps a reserve for light tenants: a quiet namespace\'s request starts at once while a flood binds the throttle', async () => {
    const clock = new FakeClock();
    const throttle = createThrottle({ ratePerSecond: 10, burst: 20, clock });
    const rec = recorder(clock);
    const work: Promise<void>[] = [];
    for (let i = 0; i < 200; i++) work.push(withTenant('noisy', () => throttle.schedule('write', rec.run(`noisy${i}`))));
    await clock.advance(5000); // the flood binds: the bucket sits at the reserve
    const asked = clock.now();
    work.push(withTenant('quiet', () => throttle.schedule('write', rec.run('quiet'))));
    await clock.advance(1);
    const quiet = rec.starts.find((s) => s.name === 'quiet');
    assert.ok(quiet && quiet.at - asked <= 1, `the quiet request waited ${quiet ? quiet.at - asked : 'forever'} ms`);
    await throttle.stop();
    await Promise.allSettled(work);
  });

  it('gives tenants turns: a flood from one namespace delays another by one turn, not by the flood', async () => {
    const clock = new FakeClock();
    const throttle = createThrottle({ ratePerSecond: 10, burst: 1, clock });
    const rec = recorder(clock);
    const work: Promise<void>[] = [];
    for (let i = 0; i < 50; i++) work.push(withTenant('noisy', () => throttle.schedule('write', rec.run(`noisy${i}`))));
    await clock.advance(250);
    for (let i = 0; i < 3; i++) work.push(withTenant('quiet', () => throttle.schedule('write', rec.run(`quiet${i}`))));
    await clock.runUntil(() => rec.starts.length === 53);
    await Promise.all(work);
    await throttle.stop();
    const names = rec.starts.map((s) => s.name);
    const quiet = names.map((n, i) => (n.startsWith('quiet') ? i : -1)).filter((i) => i >= 0);
    // The quiet namespace's three requests alternate with the flood instead of waiting behind 47 of them.
    assert.ok(quiet[0]! <= 5 && quiet[2]! <= 9, `quiet requests started at positions ${quiet}`);
    assert.deepEqual(names.filter((n) => n.startsWith('noisy')), Array.from({ length: 50 }, (_, i) => `noisy${i}`), 'FIFO within a tenant');
  });

  it('gathering: a backlog starts in groups of what accrues in gatherMs, at the same rate and bound; a quiet tenant still starts at once', async () => {
    const clock = new FakeClock();
    const rate = 10;
    const burst = 20;
    const throttle = createThrottle({ ratePerSecond: rate, burst, clock, gatherMs: 500 });
    const rec = recorder(clock);
    const work: Promise<void>[] = [];
    for (let i = 0; i < 100; i++) work.push(withTenant('noisy', () => throttle.schedule('write', rec.run(`noisy${i}`))));
    await clock.advance(3000);
    const asked = clock.now();
    work.push(withTenant('quiet', () => throttle.schedule('write', rec.run('quiet'))));
    await clock.advance(1);
    const quiet = rec.starts.find((s) => s.name === 'quiet');
    assert.ok(quiet && quiet.at - asked <= 1, `the quiet request waited ${quiet ? quiet.at - asked : 'forever'} ms`);
    await clock.runUntil(() => rec.starts.length === 101);
    await Promise.all(work);
    await throttle.stop();
    const noisy = rec.starts.filter((s) => s.name.startsWith('noisy')).map((s) => s.at);
    // After the first burst (20 less the reserve of 5), starts come in groups of 5, 500 ms apart.
    const groups = new Map<number, number>();
    for (const at of noisy.slice(burst - 5)) groups.set(at, (groups.get(at) ?? 0) + 1);
    const sizes = [...groups.values()];
    assert.ok(sizes.filter((n) => n === 5).length >= sizes.length - 2, `group sizes ${sizes.join(',')}`);
    const times = [...groups.keys()];
    const gaps = times.slice(1).map((t, i) => t - times[i]!);
    // 500 ms apart; one gap is 600 ms: the quiet request spent a token of the reserve, which refills first.
    assert.ok(gaps.filter((g) => g > 501).length <= 1 && Math.max(...gaps) <= 601, `gaps ${gaps.join(",")} ms`);
    // The same rate as one at a time: 100 + 1 requests, 15 free, the rest at 10/s.
    assert.ok(noisy.at(-1)! <= ((101 - (burst - 5)) / rate) * 1000 + 1, `last start at ${noisy.at(-1)} ms`);
    const all = rec.starts.map((s) => s.at / 1000).sort((a, b) => a - b);
    assert.ok(worstExcess(all, (a, b) => rate * (b - a) + burst) <= 1e-9, 'never above rate*t + burst');
  });

  it('gathering off (the default): a backlog starts one request per refill tick', async () => {
    const clock = new FakeClock();
    const throttle = createThrottle({ ratePerSecond: 10, burst: 20, clock });
    const rec = recorder(clock);
    const work = Array.from({ length: 30 }, (_, i) => throttle.schedule('write', rec.run(`r${i}`)));
    await clock.runUntil(() => rec.starts.length === 30);
    await Promise.all(work);
    await throttle.stop();
    const after = rec.starts.slice(15).map((s) => s.at);
    assert.equal(new Set(after).size, after.length, 'no two backlog starts at the same instant');
  });

  it('gathering pauses after drain() (backpressure): one at a time until the bucket is full again', async () => {
    const clock = new FakeClock();
    const throttle = createThrottle({ ratePerSecond: 10, burst: 20, clock, gatherMs: 500 });
    const rec = recorder(clock);
    const work = Array.from({ length: 100 }, (_, i) => throttle.schedule('write', rec.run(`r${i}`)));
    await clock.advance(2000); // the burst, then groups
    throttle.drain();
    const drainedAt = clock.now();
    await clock.advance(3000);
    const after = rec.starts.filter((s) => s.at > drainedAt).map((s) => s.at);
    assert.ok(after.length >= 20, `${after.length} started after the drain`);
    assert.equal(new Set(after).size, after.length, 'one start per refill tick after the drain');
    // The first start after the drain waits for the reserve and one token (600 ms), not for a group (1 s).
    assert.ok(after[0]! - drainedAt <= 601, `first start ${after[0]! - drainedAt} ms after the drain`);
    await throttle.stop();
    await Promise.allSettled(work);
  });
});
