import assert from 'node:assert/strict';
import { decideTuning, type Tuning } from '../../../controller/tuning.ts';

const flags: Tuning = { rateLimit: 10, rateLimitBurst: 20, batchSize: 5, batchDelayMs: 0, maxConcurrentReconciles: 16 };

describe('tuning ConfigMap (decideTuning, pure)', () => {
  it('applies each valid key, and nothing else changes', () => {
    const d = decideTuning(flags, flags, { 'rate-limit': '2.5', 'batch-delay': '200ms', 'max-concurrent-reconciles': '4' });
    assert.deepEqual(d.next, { ...flags, rateLimit: 2.5, batchDelayMs: 200, maxConcurrentReconciles: 4 });
    assert.deepEqual(d.changes.map((c) => [c.key, c.from, c.to]), [['rate-limit', 10, 2.5], ['batch-delay', 0, 200], ['max-concurrent-reconciles', 16, 4]]);
    assert.deepEqual(d.problems, []);
  });

  it('a bad value names the key and the fix, and that field keeps its last good value while the others apply', () => {
    const current = { ...flags, rateLimit: 3, batchSize: 7 };
    const d = decideTuning(current, flags, { 'rate-limit': 'fast', 'batch-size': '0', 'rate-limit-burst': '40', 'batch-delay': '-1s' });
    assert.equal(d.next.rateLimit, 3, 'last good rate kept');
    assert.equal(d.next.batchSize, 7, 'last good batch size kept');
    assert.equal(d.next.batchDelayMs, 0);
    assert.equal(d.next.rateLimitBurst, 40, 'the valid key still applies');
    assert.deepEqual(d.problems.map((p) => p.key), ['rate-limit', 'batch-size', 'batch-delay']);
    assert.match(d.problems[0]!.message, /^rate-limit: "fast" is not valid; keeping 3\/s$/);
    assert.match(d.problems[0]!.fix, /a number above 0/);
    assert.match(d.problems[1]!.fix, /whole number of operations of at least 1/);
    assert.match(d.problems[2]!.fix, /Go duration between 0s and 1h/);
  });

  it('an unknown key (a typo) is a problem, not ignored silently', () => {
    const d = decideTuning(flags, flags, { 'rate-limt': '5' });
    assert.deepEqual(d.changes, []);
    assert.equal(d.problems[0]!.key, 'rate-limt');
    assert.match(d.problems[0]!.fix, /use one of rate-limit, rate-limit-burst, batch-size, batch-delay, max-concurrent-reconciles/);
  });

  it('a key removed, or the ConfigMap deleted, returns the field to its flag', () => {
    const tuned = { ...flags, rateLimit: 50, batchSize: 9 };
    assert.deepEqual(decideTuning(tuned, flags, { 'batch-size': '9' }).changes.map((c) => [c.key, c.to]), [['rate-limit', 10]]);
    assert.deepEqual(decideTuning(tuned, flags, undefined).next, flags);
  });

  it('rejects values outside safe ranges', () => {
    for (const [key, raw] of [['rate-limit', '0'], ['rate-limit', 'Infinity'], ['rate-limit', ''], ['rate-limit-burst', '1.5'], ['max-concurrent-reconciles', '5000'], ['batch-delay', '2h']]) {
      assert.equal(decideTuning(flags, flags, { [key!]: raw! }).problems.length, 1, `${key}=${raw}`);
    }
  });
});
