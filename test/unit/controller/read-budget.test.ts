// The Secret read budget on its own: what keeps many large reads from
// pushing the controller past its heap limit (issue 10, finding 2).
import assert from 'node:assert/strict';
import { ReadBudget, type Reservation } from '../../../controller/read-budget.ts';

/** Lets every settled promise continuation run. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('ReadBudget', () => {
  it('protects the heap: reservations beyond the budget wait, first come first served, until a release lets them in', async () => {
    const budget = new ReadBudget(100);
    const first = await budget.reserve(60);
    const granted: string[] = [];
    const second = budget.reserve(50).then((r) => (granted.push('second'), r));
    const third = budget.reserve(10).then((r) => (granted.push('third'), r));
    await settle();
    // 10 bytes would fit, but the line is first come first served: nothing overtakes the 50.
    assert.deepEqual(granted, []);
    assert.equal(budget.free, 40);
    assert.equal(budget.waiting, 2);

    first.release();
    await settle();
    assert.deepEqual(granted, ['second', 'third']);
    assert.equal(budget.free, 40);
    assert.equal(budget.waiting, 0);
    first.release(); // idempotent: a second release hands back nothing more
    assert.equal(budget.free, 40);
    (await second).release();
    (await third).release();
    assert.equal(budget.free, 100);
  });

  it('protects the heap: a request larger than the whole budget is capped at the budget and runs alone (the contract: no error)', async () => {
    const budget = new ReadBudget(100);
    const small = await budget.reserve(1);
    let big: Reservation | undefined;
    const pending = budget.reserve(10_000).then((r) => (big = r));
    await settle();
    assert.equal(big, undefined, 'waits for every byte of the budget');
    small.release();
    await pending;
    assert.equal(big!.bytes, 100);
    assert.equal(budget.free, 0);
    let other: Reservation | undefined;
    void budget.reserve(1).then((r) => (other = r));
    await settle();
    assert.equal(other, undefined, 'nothing runs beside it');
    big!.release();
    await settle();
    assert.equal(other!.bytes, 1);
  });
});
