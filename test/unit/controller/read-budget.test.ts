// The Secret read budget on its own: what keeps many large reads from
// pushing the controller past its heap limit (issue 10, finding 2), and
// what keeps one namespace's flood of reads from starving another
// namespace's rotation (finding 4).
import assert from 'node:assert/strict';
import { MAX_SECRET_FOOTPRINT, ReadBudget, type Reservation } from '../../../controller/read-budget.ts';
import { SecretSource } from '../../../controller/secret-source.ts';
import type { KubeHttp } from '../../../shared/kube/http.ts';

/** Lets every settled promise continuation run. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('ReadBudget', () => {
  it('protects the heap: within one tenant, reservations beyond the budget wait, first come first served, until a release lets them in', async () => {
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

  /** Records the order in which reservations are granted. */
  const recorder = (budget: ReadBudget) => {
    const granted: string[] = [];
    const reserve = (name: string, bytes: number, tenant: string) => budget.reserve(bytes, tenant).then((r) => (granted.push(name), r));
    return { granted, reserve };
  };

  it('fair across tenants: a quiet namespace passes a flood\'s read that waits for bytes the flood itself holds, within the budget', async () => {
    const budget = new ReadBudget(100); // reserve: 25
    const { granted, reserve } = recorder(budget);
    const flood = await reserve('flood-1', 60, 'noisy');
    const floodNext = reserve('flood-2', 30, 'noisy');
    const quiet = reserve('quiet', 10, 'team-a');
    await settle();
    // Strictly first come first served, the quiet read would wait until the flood released.
    assert.deepEqual(granted, ['flood-1', 'quiet']);
    assert.equal(budget.free, 30);
    assert.equal(budget.waiting, 1);
    flood.release();
    await settle();
    assert.deepEqual(granted, ['flood-1', 'quiet', 'flood-2']);
    (await floodNext).release();
    (await quiet).release();
    assert.equal(budget.free, 100);
  });

  it('fair across tenants: a tenant that holds a reservation never spends the reserve, and readers passing it spend at most the reserve', async () => {
    const budget = new ReadBudget(100);
    const { granted, reserve } = recorder(budget);
    await reserve('flood-1', 60, 'noisy');
    void reserve('flood-2', 20, 'noisy'); // 20 of the 40 free would fit, but only 15 lie outside the reserve
    const quiet1 = reserve('quiet-1', 20, 'team-a');
    void reserve('quiet-2', 10, 'team-b'); // fits the free bytes, but passers already hold 20 of the 25 reserved
    await settle();
    assert.deepEqual(granted, ['flood-1', 'quiet-1']);
    (await quiet1).release();
    await settle();
    assert.deepEqual(granted, ['flood-1', 'quiet-1', 'quiet-2']);
    assert.equal(budget.waiting, 1, 'the flood still waits for bytes outside the reserve');
  });

  it('fair across tenants: first come first served among tenants that hold reservations, and passers never hold the first of them back', async () => {
    const budget = new ReadBudget(100);
    const { granted, reserve } = recorder(budget);
    const a1 = await reserve('a1', 40, 'team-a');
    await reserve('a2', 10, 'team-a');
    await reserve('b1', 20, 'team-b');
    void reserve('a3', 40, 'team-a');
    void reserve('b2', 5, 'team-b'); // would fit outside the reserve, but a3 came first
    void reserve('c1', 20, 'team-c'); // holds nothing: passes both, from the reserve
    await settle();
    assert.deepEqual(granted, ['a1', 'a2', 'b1', 'c1']);
    // a1's bytes come back: a3 is served beside c1, which keeps its bytes from the reserve.
    a1.release();
    await settle();
    assert.deepEqual(granted, ['a1', 'a2', 'b1', 'c1', 'a3', 'b2']);
    assert.equal(budget.free, 5);
  });

  it('no deadlock: a tenant holding a reservation that asks for more than holders may take gets it once the bytes are free, and nobody passes it meanwhile', async () => {
    const budget = new ReadBudget(100);
    const { granted, reserve } = recorder(budget);
    await reserve('a1', 10, 'team-a');
    const b1 = await reserve('b1', 5, 'team-b');
    const big = reserve('a2', 90, 'team-a'); // above 100 - 25: it needs nearly everything
    void reserve('c1', 5, 'team-c'); // would fit the reserve, but passing would hold a2 back for as long as passers come
    await settle();
    assert.deepEqual(granted, ['a1', 'b1']);
    b1.release();
    await settle();
    assert.deepEqual(granted, ['a1', 'b1', 'a2']);
    assert.equal(budget.free, 0);
    (await big).release();
    await settle();
    assert.deepEqual(granted, ['a1', 'b1', 'a2', 'c1']);
  });

  it('SecretSource reserves for the namespace it reads: a quiet namespace\'s read goes through while a flood\'s chunk waits', async () => {
    const budget = new ReadBudget(8 * MAX_SECRET_FOOTPRINT); // reserve: two Secrets' worth
    const stalled: (() => void)[] = [];
    let flowing = false;
    const http = {
      async request(_method: string, path: string) {
        if (path.includes('/namespaces/noisy/') && !flowing) await new Promise<void>((resolve) => stalled.push(resolve));
        return { metadata: { resourceVersion: '1' }, data: { value: 'dmFsdWU=' } };
      },
    } as unknown as KubeHttp;
    const source = new SecretSource({ http, budget, maxBytesPerResource: 8 << 20 });
    const chunk = ['n0', 'n1', 'n2', 'n3', 'n4'];
    const first = source.read('noisy', chunk, 'Deployment noisy/flood0', 'spec.template.spec');
    await settle();
    void source.read('noisy', chunk, 'Deployment noisy/flood1', 'spec.template.spec'); // 5 Secrets' worth: waits
    let quiet: Awaited<ReturnType<SecretSource['read']>> | undefined;
    void source.read('team-a', ['s0'], 'Deployment team-a/d0', 'spec.template.spec').then((b) => (quiet = b));
    await settle();
    await settle();
    assert.ok(quiet, 'the quiet read is not queued behind the flood');
    assert.equal(quiet.secrets.get('s0')?.data.value, 'dmFsdWU=');
    assert.equal(budget.waiting, 1);
    flowing = true;
    for (const resolve of stalled.splice(0)) resolve();
    (await first).reservation.release();
  });
});
