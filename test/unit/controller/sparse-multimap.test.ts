import assert from 'node:assert/strict';
import { SparseMultimap } from '../../../controller/sparse-multimap.ts';

describe('SparseMultimap', () => {
  const values = (m: SparseMultimap, k: string) => [...m.values(k)];

  it('one value, then a second, then back to one and none', () => {
    const m = new SparseMultimap();
    assert.deepEqual(values(m, 'k'), []);
    m.add('k', 'a');
    m.add('k', 'a');
    assert.deepEqual(values(m, 'k'), ['a']);
    m.add('k', 'b');
    assert.deepEqual(values(m, 'k'), ['a', 'b']);
    m.add('k', 'c');
    m.delete('k', 'a');
    assert.deepEqual(values(m, 'k'), ['b', 'c']);
    m.delete('k', 'b');
    assert.deepEqual(values(m, 'k'), ['c']);
    m.add('k', 'd');
    assert.deepEqual(values(m, 'k'), ['c', 'd']);
    m.delete('k', 'c');
    m.delete('k', 'd');
    assert.deepEqual(values(m, 'k'), []);
    assert.equal(m.size, 0);
  });

  it('deleting what is not there changes nothing; keys are independent', () => {
    const m = new SparseMultimap();
    m.add('k', 'a');
    m.add('j', 'a');
    m.delete('k', 'zz');
    m.delete('missing', 'a');
    assert.deepEqual(values(m, 'k'), ['a']);
    m.delete('k', 'a');
    assert.deepEqual(values(m, 'j'), ['a']);
    assert.equal(m.size, 1);
  });
});
