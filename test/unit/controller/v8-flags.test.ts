import assert from 'node:assert/strict';
import { v8Flags } from '../../../controller/v8-flags.ts';

const ALL = ['--semi-space-growth-factor=1', '--no-opt', '--no-maglev'];

describe('v8Flags', () => {
  it('keeps the young generation at its initial size and runs without the optimizing compilers by default', () => {
    assert.deepEqual(v8Flags([], undefined), ALL);
    assert.deepEqual(v8Flags(['--enable-source-maps'], '--max-old-space-size=128'), ALL);
    assert.deepEqual(v8Flags(['--optimize-for-size'], undefined), ALL, '--optimize-for-size is not a compiler choice');
  });

  it("leaves the operator's young-generation choice on the command line or in NODE_OPTIONS alone", () => {
    const compilers = ['--no-opt', '--no-maglev'];
    assert.deepEqual(v8Flags(['--max-semi-space-size=4', '--optimize-for-size'], undefined), compilers);
    assert.deepEqual(v8Flags(['--max_semi_space_size=2'], undefined), compilers);
    assert.deepEqual(v8Flags([], '--semi-space-growth-factor=2'), compilers);
    assert.deepEqual(v8Flags([], '--min-semi-space-size=1 --max-old-space-size=96'), compilers);
  });

  it("leaves the operator's compiler choice alone, either way", () => {
    const young = ['--semi-space-growth-factor=1'];
    assert.deepEqual(v8Flags(['--maglev'], undefined), young);
    assert.deepEqual(v8Flags(['--turbofan'], undefined), young);
    assert.deepEqual(v8Flags([], '--no-opt'), young);
    assert.deepEqual(v8Flags([], '--jitless --max-old-space-size=96'), young);
    assert.deepEqual(v8Flags(['--max-semi-space-size=4', '--opt'], undefined), []);
  });
});
