import assert from 'node:assert/strict';
import { microTime } from '../../../controller/status.ts';

describe('microTime', () => {
  it('writes RFC 3339 with exactly six fractional digits and Z', () => {
    assert.equal(microTime(new Date('2024-05-06T07:08:09.123Z')), '2024-05-06T07:08:09.123000Z');
    assert.equal(microTime(new Date('2024-05-06T07:08:09Z')), '2024-05-06T07:08:09.000000Z');
    assert.equal(microTime(new Date(0)), '1970-01-01T00:00:00.000000Z');
    assert.equal(microTime(new Date('2024-12-31T23:59:59.999Z')), '2024-12-31T23:59:59.999000Z');
  });

  it('always matches the metav1.MicroTime shape and parses back to the same instant', () => {
    for (const ms of [0, 1, 10, 999, 1_000, 1_714_979_289_007, Date.UTC(2099, 0, 1, 0, 0, 0, 50)]) {
      const text = microTime(new Date(ms));
      assert.match(text, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/, text);
      assert.equal(Date.parse(text), ms);
    }
  });
});
