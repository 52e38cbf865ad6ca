import assert from 'node:assert/strict';
import { youngGenerationFlag } from '../../../controller/young-generation.ts';

describe('youngGenerationFlag', () => {
  it('keeps the young generation at its initial size by default', () => {
    assert.equal(youngGenerationFlag([], undefined), '--semi-space-growth-factor=1');
    assert.equal(youngGenerationFlag(['--enable-source-maps'], '--max-old-space-size=128'), '--semi-space-growth-factor=1');
  });

  it("leaves the operator's choice on the command line or in NODE_OPTIONS alone", () => {
    assert.equal(youngGenerationFlag(['--max-semi-space-size=4', '--optimize-for-size'], undefined), undefined);
    assert.equal(youngGenerationFlag(['--max_semi_space_size=2'], undefined), undefined);
    assert.equal(youngGenerationFlag([], '--semi-space-growth-factor=2'), undefined);
    assert.equal(youngGenerationFlag([], '--min-semi-space-size=1 --max-old-space-size=96'), undefined);
  });
});
