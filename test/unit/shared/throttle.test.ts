import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { SyncError } from '../../../shared/errors.ts';
import { createThrottle } from '../../../shared/throttle.ts';

describe('throttle (token bucket over bottleneck)', function () {
  this.timeout(10_000);

  it('lets a burst through at once, then holds the rate, never above rate*t + burst', async () => {
    const rate = 50;
    const burst = 10;
    const throttle = createThrottle({ ratePerSecond: rate, burst });
    const t0 = performance.now();
    const starts: number[] = [];
    await Promise.all(Array.from({ length: 40 }, () => throttle.schedule('write', async () => void starts.push((performance.now() - t0) / 1000))));
    await throttle.stop();
    starts.sort((a, b) => a - b);
    assert.ok(starts[burst - 1]! < 0.05, `burst should start at once, 10th at ${starts[burst - 1]}`);
    // 30 requests beyond the burst at 50/s need ~0.6 s.
    assert.ok(starts.at(-1)! > 0.5 && starts.at(-1)! < 0.9, `last start at ${starts.at(-1)}`);
    for (let i = 0; i < starts.length; i++) {
      for (let j = i; j < starts.length; j++) {
        assert.ok(j - i + 1 <= rate * (starts[j]! - starts[i]!) + burst + 0.01, `window ${starts[i]}..${starts[j]} held ${j - i + 1}`);
      }
    }
  });

  it('bounds concurrency', async () => {
    const throttle = createThrottle({ ratePerSecond: Infinity, burst: 1, maxConcurrent: 3 });
    let running = 0;
    let peak = 0;
    await Promise.all(Array.from({ length: 12 }, () => throttle.schedule('read', async () => {
      peak = Math.max(peak, ++running);
      await new Promise((r) => setTimeout(r, 5));
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
    const throttle = createThrottle({ ratePerSecond: 1, burst: 1 });
    await throttle.schedule('write', async () => {});
    const queued = throttle.schedule('write', async () => 'never');
    await throttle.stop();
    await assert.rejects(queued, (e: unknown) => e instanceof SyncError && e.reason === 'Aborted');
    await assert.rejects(throttle.schedule('write', async () => 1), (e: unknown) => e instanceof SyncError && e.reason === 'Aborted');
  });
});
