import assert from 'node:assert/strict';
import { SyncError } from '../../../shared/errors.ts';
import { backoffCeiling, backoffDelay, withRetry, type BackoffPolicy } from '../../../shared/retry.ts';

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
