// The adaptive rate, pure and through the governor, against a simulated
// Vault rate-limit quota on a fake clock. The simulated quota is what
// OpenBao's is (vault/quotas and go-limiter's memorystore): a fixed window
// per client address, `rate` requests per second, all available again at
// each window boundary.
// The same behaviour runs against a real quota in
// test/integration/controller/backpressure.test.ts.
import assert from 'node:assert/strict';
import { AdaptiveRate, HOLD_MS, PAUSE_MS, PAUSE_LONG_MS, PLATEAU_MS } from '../../../shared/adaptive-rate.ts';
import { backpressureOf, RateGovernor } from '../../../shared/rate-governor.ts';
import { createThrottle } from '../../../shared/throttle.ts';
import { FakeClock } from '../support/fake-clock.ts';

/** Vault's quota: `rate` requests per fixed one-second window, all available again at each boundary (go-limiter's memorystore). */
class SimulatedQuota {
  readonly rate: number;
  readonly #phase: number;
  #window = -1;
  #left = 0;
  constructor(rate: number, phase = 370) {
    this.rate = rate;
    this.#phase = phase;
  }
  take(now: number): boolean {
    const window = Math.floor((now + this.#phase) / 1000);
    if (window !== this.#window) {
      this.#window = window;
      this.#left = this.rate;
    }
    if (this.#left < 1) return false;
    this.#left -= 1;
    return true;
  }
}

/**
 * `clients` controllers, each with its own throttle and governor, sharing one
 * quota, each keeping `backlog` requests waiting (saturated) for `seconds`.
 * A 429 is retried after 200 ms (the client's backoff floor, roughly).
 */
async function run(opts: { quota: number; configured: number; burst?: number; clients?: number; seconds: number; adaptive?: boolean; backlog?: number }) {
  const clock = new FakeClock();
  const quota = new SimulatedQuota(opts.quota);
  let accepted = 0;
  let rejected = 0;
  const governors: RateGovernor[] = [];
  const throttles: ReturnType<typeof createThrottle>[] = [];
  const stop = opts.seconds * 1000;
  const workers: Promise<void>[] = [];
  for (let c = 0; c < (opts.clients ?? 1); c++) {
    const throttle = createThrottle({ ratePerSecond: opts.configured, burst: opts.burst ?? 20, clock });
    const governor = new RateGovernor({ throttle, configuredRate: opts.configured, configuredBurst: opts.burst ?? 20, adaptive: opts.adaptive ?? true, clock });
    governors.push(governor);
    throttles.push(throttle);
    for (let w = 0; w < (opts.backlog ?? 40); w++) {
      workers.push((async () => {
        while (clock.now() < stop) {
          const ok = await throttle.schedule('write', async () => {
            const sentAt = clock.now();
            await clock.sleep(5); // the request's round trip
            const allowed = quota.take(clock.now());
            governor.observe({ sentAt, operation: 'write', path: 'secret/data/x', status: allowed ? 200 : 429, ...(allowed ? {} : { reason: 'RateLimited' as const }) });
            return allowed;
          });
          if (ok) accepted++;
          else {
            rejected++;
            await clock.sleep(200);
          }
        }
      })().catch(() => undefined)); // a stopped throttle rejects what still waits: that ends the worker
    }
  }
  await clock.advance(stop);
  for (const g of governors) g.stop();
  await Promise.all(throttles.map((t) => t.stop())); // what still waits for a token is rejected
  await clock.advance(1000); // requests and retry pauses in flight finish: the workers end
  await Promise.all(workers);
  return { accepted, rejected, share: rejected / (accepted + rejected), perSecond: accepted / opts.seconds, governors };
}

describe('adaptive rate', function () {
  this.timeout(60_000);
  it('lowers the rate to 90 % of what Vault accepted on a 429, once per hold period, never below a quarter at once', () => {
    const a = new AdaptiveRate({ configuredRate: 60, configuredBurst: 20, now: 0 });
    for (let t = 0; t <= 2000; t += 50) a.answered(t); // Vault accepts 20/s
    const d = a.backpressure('throttled', 2000);
    assert.ok(d.changed);
    assert.equal(d.rate, 18, '90 % of the 20 Vault accepted in the last second, counted exactly');
    assert.equal(d.burst, Math.max(1, Math.floor(a.state.ceiling! - d.rate)), 'the burst is what fits under the ceiling next to the rate (a fixed window takes both)');
    assert.equal(a.backpressure('throttled', 2600, { sentAt: 1990 }).changed, false, 'an answer to a request sent before the decrease says nothing new');
    assert.equal(a.backpressure('throttled', 2900, { sentAt: 2500 }).changed, false, 'within the hold: the same window refused us');
    assert.equal(a.backpressure('throttled', 3100, { sentAt: 3050 }).changed, true, 'refused again after the hold: lower again');
    assert.equal(a.tick(3100 + HOLD_MS - 1).changed, false, 'no recovery within the hold');
    const b = new AdaptiveRate({ configuredRate: 100, configuredBurst: 20, now: 0 });
    b.answered(900);
    assert.equal(b.backpressure('throttled', 1000).rate, 25, 'one accepted request does not cut 100/s to 1/s');
    const c = new AdaptiveRate({ configuredRate: 60, configuredBurst: 20, now: 0 });
    assert.equal(c.backpressure('throttled', 5000).rate, 30, 'nothing accepted in the last second: halve');
  });

  it('pauses on a refusal: 250 ms while the window has been closed for under a second, then 1 s; an answer to a request sent since resets it; Retry-After is the pause', () => {
    const a = new AdaptiveRate({ configuredRate: 20, configuredBurst: 20, now: 0 });
    assert.equal(a.backpressure('throttled', 1000).pauseMs, PAUSE_MS);
    assert.equal(a.backpressure('throttled', 1010, { sentAt: 990 }).pauseMs, undefined, 'sent before the pause began: no new pause');
    assert.equal(a.backpressure('throttled', 1260, { sentAt: 1255 }).pauseMs, PAUSE_MS, 'the probe after the pause refused: a one-second window may reopen any moment');
    a.answered(1300, 990);
    assert.equal(a.backpressure('throttled', 1520, { sentAt: 1515 }).pauseMs, PAUSE_MS, 'an answer to a request sent before the pause does not end the run of refusals');
    assert.equal(a.backpressure('throttled', 2010, { sentAt: 2005 }).pauseMs, PAUSE_LONG_MS, 'closed for a second: a longer window, probed once a second');
    assert.equal(a.backpressure('throttled', 3020, { sentAt: 3015 }).pauseMs, PAUSE_LONG_MS);
    a.answered(4030, 4025);
    assert.equal(a.backpressure('throttled', 4100, { sentAt: 4050 }).pauseMs, PAUSE_MS, 'an accepted answer to a request sent since resets it');
    assert.equal(a.backpressure('throttled', 4500, { sentAt: 4400, retryAfterMs: 3000 }).pauseMs, 3000);
    assert.equal(a.backpressure('timeout', 9000).pauseMs, undefined, 'a timeout lowers the rate but does not pause');
  });

  it('probes above the ceiling after a plateau of 8 s, twice as long after each cut within a minute of the last, back to 8 s after a quiet minute', () => {
    // How long the rate stays on its plateau (97 % of the ceiling) after a cut at `cutAt` before it probes higher.
    const plateauAfterCut = (a: AdaptiveRate, cutAt: number): number => {
      for (let t = cutAt; t <= cutAt + 400; t += 50) a.answered(t); // what Vault accepted: about 20/s
      const cut = a.backpressure('throttled', cutAt + 400, { sentAt: cutAt + 400 });
      assert.ok(cut.changed);
      let plateauAt: number | undefined;
      let plateauRate = 0;
      for (let t = cutAt + 400 + HOLD_MS; t <= cutAt + 200_000; t += 250) {
        const { rate } = a.tick(t);
        if (plateauAt === undefined && rate >= 0.97 * a.state.ceiling! - 1e-9) [plateauAt, plateauRate] = [t, rate];
        else if (plateauAt !== undefined && rate > plateauRate + 1e-9) return t - plateauAt;
      }
      throw new Error('never probed');
    };
    const a = new AdaptiveRate({ configuredRate: 60, configuredBurst: 20, now: 0 });
    const first = plateauAfterCut(a, 0);
    assert.ok(Math.abs(first - PLATEAU_MS) <= 250, `first plateau ${first} ms`);
    const second = plateauAfterCut(a, 20_000);
    assert.ok(Math.abs(second - 2 * PLATEAU_MS) <= 250, `a cut 20 s after the last doubles it (${second} ms)`);
    const third = plateauAfterCut(a, 50_000);
    assert.ok(Math.abs(third - 4 * PLATEAU_MS) <= 250, `and again (${third} ms)`);
    const quiet = plateauAfterCut(a, 200_000);
    assert.ok(Math.abs(quiet - PLATEAU_MS) <= 250, `a cut more than a minute after the last: 8 s again (${quiet} ms)`);
  });

  it('halves on a timeout, recovers gradually, and is never above the configured rate', () => {
    const a = new AdaptiveRate({ configuredRate: 10, configuredBurst: 20, now: 0 });
    assert.equal(a.backpressure('timeout', 0).rate, 5);
    assert.equal(a.tick(500).rate, 5, 'no recovery during the hold');
    let last = 5;
    for (let t = 1250; t <= 60_000; t += 250) {
      const { rate } = a.tick(t);
      assert.ok(rate >= last && rate <= 10, `monotone recovery, capped (t=${t}: ${rate})`);
      last = rate;
    }
    assert.equal(last, 10);
    assert.equal(a.state.ceiling, undefined, 'back at the configured rate: the ceiling is forgotten');
  });

  it('a new configured rate caps at once; a higher one is reached by recovery when lowered', () => {
    const a = new AdaptiveRate({ configuredRate: 10, configuredBurst: 20, now: 0 });
    assert.deepEqual(a.setConfigured(4, 8, 0), { rate: 4, burst: 8, changed: true });
    assert.deepEqual(a.setConfigured(20, 20, 0), { rate: 20, burst: 20, changed: true }, 'not lowered: follows the new ceiling');
    a.answered(500);
    a.backpressure('throttled', 1000);
    const lowered = a.state.rate;
    assert.equal(a.setConfigured(40, 20, 1000).rate, lowered, 'lowered: keeps what Vault taught it');
  });

  it('treats 429, overload 503 and timeouts as backpressure; a standby\'s 429 from sys/health is not throttling', () => {
    assert.equal(backpressureOf({ operation: 'write', path: 'secret/data/a', status: 429, reason: 'RateLimited' }), 'throttled');
    assert.equal(backpressureOf({ operation: 'write', path: 'secret/data/a', status: 503, reason: 'Overloaded' }), 'overloaded');
    assert.equal(backpressureOf({ operation: 'read', path: 'secret/data/a', reason: 'Timeout' }), 'timeout');
    assert.equal(backpressureOf({ operation: 'read', path: 'sys/health', status: 429, reason: 'RateLimited' }), undefined);
    assert.equal(backpressureOf({ operation: 'read', path: 'sys/health?standbyok=false', status: 429, reason: 'RateLimited' }), undefined);
    assert.equal(backpressureOf({ operation: 'read', path: 'secret/data/a', status: 503, reason: 'Sealed' }), undefined, 'sealed is not overload');
    assert.equal(backpressureOf({ operation: 'read', path: 'secret/data/a', reason: 'Network' }), undefined);
  });

  it('a governor pauses the throttle for a 429\'s Retry-After (the quota refuses the whole client until then)', async () => {
    const clock = new FakeClock();
    const throttle = createThrottle({ ratePerSecond: 100, burst: 5, clock });
    const governor = new RateGovernor({ throttle, configuredRate: 100, configuredBurst: 5, clock });
    governor.observe({ operation: 'write', path: 'secret/data/a', status: 429, reason: 'RateLimited', retryAfterMs: 3000 });
    const started: number[] = [];
    const done = Promise.all([1, 2].map(() => throttle.schedule('write', async () => void started.push(clock.now()))));
    await clock.advance(2999);
    assert.deepEqual(started, []);
    await clock.advance(10);
    assert.equal(started.length, 1, 'one request alone when the pause ends');
    governor.observe({ operation: 'write', path: 'secret/data/a', status: 200, sentAt: clock.now() - 5000 });
    await clock.advance(0);
    assert.equal(started.length, 1, 'an answer to a request sent before the refusal says nothing of the window');
    governor.observe({ operation: 'write', path: 'secret/data/a', status: 200, sentAt: started[0] });
    await clock.advance(0);
    await done;
    assert.equal(started.length, 2, 'the probe was accepted: the rest go');
    governor.stop();
  });

  it('against a quota of a third of the configured rate: ≤ 5 % answered 429 and ≥ 90 % of what a client configured at the quota gets', async () => {
    const at = await run({ quota: 20, configured: 20, seconds: 60, adaptive: false });
    const adaptive = await run({ quota: 20, configured: 60, seconds: 60 });
    const fixed = await run({ quota: 20, configured: 60, seconds: 60, adaptive: false });
    assert.ok(adaptive.share <= 0.05, `429 share ${adaptive.share}`);
    assert.ok(adaptive.perSecond >= 0.9 * at.perSecond, `${adaptive.perSecond}/s against ${at.perSecond}/s at the quota`);
    assert.ok(fixed.share > 0.3, `without adaptation most requests are refused (${fixed.share})`);
    const rate = adaptive.governors[0]!.status().rate;
    assert.ok(rate <= 60 && rate >= 15, `settled near the quota (${rate})`);
  });

  it('three clients under one quota, coordinated only by its answers: ≤ 5 % answered 429, the quota used', async () => {
    const three = await run({ quota: 30, configured: 30, clients: 3, seconds: 60, backlog: 20 });
    assert.ok(three.share <= 0.05, `429 share ${three.share}`);
    assert.ok(three.perSecond >= 0.9 * 30, `${three.perSecond}/s of a 30/s quota`);
  });
});
