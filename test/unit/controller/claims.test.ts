// The claims index: which resources claim a path, as the writer asks it
// (claimedByOthers), through claims, re-claims and deletes.
import assert from 'node:assert/strict';
import { ClaimIndex } from '../../../controller/claims.ts';

describe('ClaimIndex', () => {
  it('a path claimed by one resource is contested for everyone but that resource', () => {
    const idx = new ClaimIndex();
    idx.set('Deployment/a/x', ['secret/data/a/x', 'secret/a/x']);
    assert.equal(idx.claimedByOthers(['secret/a/x'], 'Deployment/a/x'), false);
    assert.equal(idx.claimedByOthers(['secret/a/x'], 'Deployment/b/y'), true);
    assert.equal(idx.claimedByOthers(['secret/a/other'], 'Deployment/b/y'), false);
    assert.equal(idx.size, 1);
  });

  it('two holders: each sees the other; after one leaves, the other holds it alone', () => {
    const idx = new ClaimIndex();
    idx.set('Deployment/a/x', ['p']);
    idx.set('Deployment/b/y', ['p', 'q']);
    assert.equal(idx.claimedByOthers(['p'], 'Deployment/a/x'), true);
    assert.equal(idx.claimedByOthers(['p'], 'Deployment/b/y'), true);
    idx.delete('Deployment/a/x');
    assert.equal(idx.claimedByOthers(['p'], 'Deployment/b/y'), false);
    assert.equal(idx.claimedByOthers(['p'], 'Deployment/a/x'), true);
    idx.set('Deployment/c/z', ['p']);
    idx.delete('Deployment/b/y');
    assert.equal(idx.claimedByOthers(['p', 'q'], 'Deployment/c/z'), false);
    assert.equal(idx.claimedByOthers(['q'], 'Deployment/a/x'), false);
    assert.equal(idx.size, 1);
  });

  it('three holders down to none; a re-claim replaces what the resource claimed before', () => {
    const idx = new ClaimIndex();
    for (const r of ['r1', 'r2', 'r3']) idx.set(r, ['p']);
    idx.delete('r2');
    assert.equal(idx.claimedByOthers(['p'], 'r1'), true);
    idx.delete('r3');
    assert.equal(idx.claimedByOthers(['p'], 'r1'), false);
    idx.set('r1', ['other', 'other']); // moved away (a duplicate path is harmless)
    assert.equal(idx.claimedByOthers(['p'], 'r9'), false);
    assert.equal(idx.claimedByOthers(['other'], 'r9'), true);
    idx.set('r1', []);
    assert.equal(idx.claimedByOthers(['other'], 'r9'), false);
    assert.equal(idx.size, 0);
  });
});
