import assert from 'node:assert/strict';
import { SyncError } from '../../../shared/errors.ts';
import { Backoff, backoffCeiling, backoffDelay, withRetry, type BackoffPolicy } from '../../../shared/retry.ts';
import { FakeClock } from '../support/fake-clock.ts';

const policy: BackoffPolicy = { baseMs: 100, maxMs: 1000, maxAttempts: 5 };

describe('retry', () => {
  it('doubles the ceiling per retry up to the cap', () => {
    assert.deepEqual([1, 2, 3, 4, 5, 6].map((n) => backoffCeiling(policy, n)), [100, 200, 400, 800, 1000, 1000]);
  });
  it('jitters uniformly below the ceiling', () => {
    assert.equal(backoffDelay(policy, 3, () => 0), 0);
    assert.equal(backoffDelay(policy, 3, () => 0.5), 200);
    assert.equal(backoffDelay(policy, 3, () => 0.999), 399);
  });
  it('one formula, four jitters: full, equal, none and a proportional spread', () => {
    const at = (jitter: BackoffPolicy['jitter'], r: number) => backoffDelay({ ...policy, jitter }, 3, () => r);
    assert.deepEqual([0, 0.5, 0.999].map((r) => at('full', r)), [0, 200, 399]);
    assert.deepEqual([0, 0.5, 0.999].map((r) => at('equal', r)), [200, 300, 399]);
    assert.deepEqual([0, 0.5, 0.999].map((r) => at('none', r)), [400, 400, 400]);
    assert.deepEqual([0, 0.5, 0.999].map((r) => at({ spread: 0.2 }, r)), [400, 440, 479]);
  });
  it('factor 1 keeps the delay constant (a retry period)', () => {
    assert.deepEqual([1, 2, 9].map((n) => backoffCeiling({ baseMs: 2000, maxMs: 2000, factor: 1 }, n)), [2000, 2000, 2000]);
  });
  it('Backoff counts failures and resets', () => {
    const b = new Backoff({ baseMs: 10, maxMs: 35, jitter: 'none' });
    assert.deepEqual([b.next(), b.next(), b.next(), b.next()], [10, 20, 35, 35]);
    assert.equal(b.failures, 4);
    b.reset();
    assert.equal(b.failures, 0);
    assert.equal(b.next(), 10);
  });
  it('sleeps on an injected clock', async () => {
    const clock = new FakeClock();
    let calls = 0;
    const done = withRetry(async () => {
      if (++calls < 3) throw new SyncError('Network', 'ECONNRESET');
      return clock.now();
    }, { baseMs: 100, maxMs: 1000, maxAttempts: 5, jitter: 'none' }, { clock });
    await clock.advance(299);
    assert.equal(calls, 2);
    await clock.advance(1);
    assert.equal(await done, 300);
  });
  it('retries retryable errors with the backoff schedule, then succeeds', async () => {
    const slept: number[] = [];
    let calls = 0;
    const result = await withRetry(async () => {
      if (++calls < 4) throw new SyncError('RateLimited', 'HTTP 429');
      return 'ok';
    }, policy, { sleep: async (ms) => void slept.push(ms), random: () => 0.5 });
    assert.equal(result, 'ok');
    assert.deepEqual(slept, [50, 100, 200]);
  });
  it('stops after maxAttempts with the last error', async () => {
    let calls = 0;
    await assert.rejects(withRetry(async () => {
      calls++;
      throw new SyncError('Sealed', 'HTTP 503');
    }, policy, { sleep: async () => {} }), (err: unknown) => err instanceof SyncError && err.reason === 'Sealed');
    assert.equal(calls, 5);
  });
  it('does not retry terminal errors or foreign exceptions', async () => {
    for (const error of [new SyncError('PermissionDenied', 'HTTP 403'), new TypeError('bug')]) {
      let calls = 0;
      await assert.rejects(withRetry(async () => {
        calls++;
        throw error;
      }, policy, { sleep: async () => {} }));
      assert.equal(calls, 1);
    }
  });
  it('gives up with Aborted when the signal fires during a backoff', async () => {
    const ctl = new AbortController();
    await assert.rejects(withRetry(async () => {
      throw new SyncError('Network', 'ECONNREFUSED');
    }, policy, { signal: ctl.signal, sleep: async () => { ctl.abort(); throw new Error('aborted'); } }), (err: unknown) => err instanceof SyncError && err.reason === 'Aborted');
  });
});
