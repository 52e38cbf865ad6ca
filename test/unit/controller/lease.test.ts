// Leader election on a fake clock against an in-memory Lease API that keeps
// the apiserver's rules (resourceVersion checks, 409 on a stale write, 404).
// Requests can be made to hang, which the fake ends only at the request's
// own deadline, so the tests see the timeouts the elector asks for.
import assert from 'node:assert/strict';
import { KubeHttpError, TransportError, type KubeRequest } from '../../../shared/kube/http.ts';
import { LeaderElector, defaultFenceMarginMs, type LeaseOptions } from '../../../controller/lease.ts';
import { FakeClock } from '../support/fake-clock.ts';

interface Lease {
  metadata: { name: string; namespace: string; resourceVersion: string };
  spec: { holderIdentity?: string; leaseDurationSeconds?: number; acquireTime?: string; renewTime?: string; leaseTransitions?: number };
}

class FakeLeaseApi {
  lease: Lease | undefined;
  #rv = 1;
  hang = false;
  /** Fake ms each answer takes. */
  latencyMs = 0;
  readonly calls: { method: string; at: number; timeoutMs: number | undefined }[] = [];
  readonly #clock: FakeClock;

  constructor(clock: FakeClock) {
    this.#clock = clock;
  }

  /** Someone else writes the lease (another candidate). */
  write(spec: Lease['spec']): void {
    this.lease = { metadata: { name: 'l', namespace: 'ns', resourceVersion: String(++this.#rv) }, spec };
  }

  async request<T>(method: string, path: string, req: KubeRequest = {}): Promise<T> {
    this.calls.push({ method, at: this.#clock.now(), timeoutMs: req.timeoutMs });
    const answer = () => this.#answer(method, path, req) as T;
    if (!this.hang && this.latencyMs === 0) return answer();
    // Ends at the request's deadline (as KubeHttp does) or when the caller aborts.
    const wait = this.hang ? req.timeoutMs ?? 300_000 : Math.min(this.latencyMs, req.timeoutMs ?? Infinity);
    await this.#clock.sleep(wait, req.signal);
    if (this.hang || this.latencyMs > (req.timeoutMs ?? Infinity)) throw new TransportError('ETIMEDOUT', `${method} ${path}: no answer within ${req.timeoutMs} ms`);
    return answer();
  }

  #answer(method: string, path: string, req: KubeRequest): unknown {
    const body = req.body as Lease | undefined;
    if (method === 'GET') {
      if (!this.lease) {
        if (req.allow404) return undefined;
        throw new KubeHttpError(method, path, 404, 'NotFound');
      }
      return structuredClone(this.lease);
    }
    if (method === 'POST') {
      if (this.lease) throw new KubeHttpError(method, path, 409, 'AlreadyExists');
      this.lease = { metadata: { name: 'l', namespace: 'ns', resourceVersion: String(++this.#rv) }, spec: body!.spec };
      return structuredClone(this.lease);
    }
    if (method === 'PUT') {
      if (!this.lease) throw new KubeHttpError(method, path, 404, 'NotFound');
      if (body!.metadata.resourceVersion !== this.lease.metadata.resourceVersion) throw new KubeHttpError(method, path, 409, 'Conflict');
      this.lease = { metadata: { ...this.lease.metadata, resourceVersion: String(++this.#rv) }, spec: body!.spec };
      return structuredClone(this.lease);
    }
    throw new Error(`unexpected ${method}`);
  }
}

const LEASE = 15_000;
const RENEW = 10_000;
const RETRY = 2_000;

function elector(clock: FakeClock, api: FakeLeaseApi, extra: Partial<LeaseOptions> = {}) {
  const events: { kind: 'started' | 'stopped'; at: number }[] = [];
  const e = new LeaderElector({
    http: api, namespace: 'ns', name: 'l', identity: 'me', clock,
    leaseDurationMs: LEASE, renewDeadlineMs: RENEW, retryPeriodMs: RETRY,
    onStartedLeading: () => events.push({ kind: 'started', at: clock.now() }),
    onStoppedLeading: () => events.push({ kind: 'stopped', at: clock.now() }),
    ...extra,
  });
  return { e, events };
}

describe('LeaderElector (fake clock)', () => {
  let clock: FakeClock;
  let api: FakeLeaseApi;
  beforeEach(() => {
    clock = new FakeClock();
    api = new FakeLeaseApi(clock);
  });

  it('acquires a missing lease at once and may act', async () => {
    const { e, events } = elector(clock, api);
    e.start();
    await clock.advance(0);
    assert.equal(e.leading, true);
    assert.equal(e.mayAct(), true);
    assert.deepEqual(events, [{ kind: 'started', at: 0 }]);
    assert.equal(api.lease?.spec.holderIdentity, 'me');
    assert.equal(api.lease?.spec.leaseDurationSeconds, 15);
    assert.match(api.lease!.spec.renewTime!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/, 'MicroTime with six fractional digits');
    await e.release();
  });

  it('renews every retry period and stays leader; every request has a deadline below the renew deadline', async () => {
    const { e, events } = elector(clock, api);
    e.start();
    await clock.advance(60_000);
    assert.equal(e.leading, true);
    assert.equal(events.length, 1);
    const puts = api.calls.filter((c) => c.method === 'PUT');
    assert.ok(puts.length >= 29, `${puts.length} renewals in 60 s`);
    const gaps = puts.slice(1).map((c, i) => c.at - puts[i]!.at);
    assert.ok(gaps.every((g) => g === RETRY), `leader renews exactly every retry period: ${gaps}`);
    assert.ok(api.calls.every((c) => c.timeoutMs !== undefined && c.timeoutMs > 0 && c.timeoutMs < RENEW), 'each request bounded below renewDeadline');
    await e.release();
  });

  it('loses the lease at the renew deadline even while its request hangs, and stops campaigning', async () => {
    const { e, events } = elector(clock, api);
    e.start();
    await clock.advance(4000); // acquired at 0, renewed at 2000 and 4000
    const lastRenew = api.calls.filter((c) => c.method === 'PUT').at(-1)!.at;
    api.hang = true;
    await clock.advance(30_000);
    assert.equal(e.leading, false);
    assert.equal(e.mayAct(), false);
    assert.deepEqual(events.map((x) => x.kind), ['started', 'stopped']);
    assert.equal(events[1]!.at, lastRenew + RENEW, 'stopped exactly at the renew deadline, not when a request gave up');
    const hung = api.calls.filter((c) => c.at > lastRenew);
    assert.ok(hung.every((c) => c.at + c.timeoutMs! <= lastRenew + RENEW), 'no lease request outlives the renew deadline');
    const after = api.calls.length;
    await clock.advance(30_000);
    assert.equal(api.calls.length, after, 'a deposed elector stops campaigning');
  });

  it('loses the lease when another candidate holds it (a 409 or a foreign holder)', async () => {
    const { e, events } = elector(clock, api);
    e.start();
    await clock.advance(1000);
    api.write({ holderIdentity: 'other', leaseDurationSeconds: 15, leaseTransitions: 1 });
    await clock.advance(RENEW + RETRY);
    assert.equal(e.leading, false);
    assert.deepEqual(events.map((x) => x.kind), ['started', 'stopped']);
    assert.equal(api.lease?.spec.holderIdentity, 'other', 'never overwrites a live foreign holder');
  });

  it('the fence closes before the lease can expire, measured from when the renewal was sent', async () => {
    api.latencyMs = 3000; // each lease request takes 3 s to answer
    const { e } = elector(clock, api);
    e.start();
    await clock.runUntil(() => e.leading, { stepMs: 100, limitMs: 20_000 });
    const sent = api.calls.filter((c) => c.method === 'POST').at(-1)!.at;
    const margin = defaultFenceMarginMs(LEASE, RENEW);
    assert.equal(margin, 2500);
    // A frozen process: time passes, no timer runs.
    clock.jump(sent + LEASE - margin - 1 - clock.now());
    assert.equal(e.mayAct(), true, 'still inside the lease');
    clock.jump(1);
    assert.equal(e.leading, true, 'the elector has not run yet: it still thinks it leads');
    assert.equal(e.mayAct(), false, 'but the fence is already closed');
    api.latencyMs = 0;
    await e.release();
  });

  it('resumed after a freeze during which another candidate took over: stops at once', async () => {
    const { e, events } = elector(clock, api);
    e.start();
    await clock.advance(2000);
    clock.jump(LEASE + 5000);
    api.write({ holderIdentity: 'other', leaseDurationSeconds: 15, leaseTransitions: 1 });
    assert.equal(e.mayAct(), false);
    const resumed = clock.now();
    await clock.advance(1);
    assert.deepEqual(events.map((x) => x.kind), ['started', 'stopped']);
    assert.equal(events[1]!.at, resumed);
    assert.equal(api.lease?.spec.holderIdentity, 'other');
  });

  it('resumed after a freeze nobody used: the compare-and-swap renewal proves the lease is still ours', async () => {
    const { e, events } = elector(clock, api);
    e.start();
    await clock.advance(2000);
    clock.jump(LEASE + 5000);
    assert.equal(e.mayAct(), false, 'fenced while it cannot know');
    await clock.advance(1);
    assert.deepEqual(events.map((x) => x.kind), ['started'], 'the overdue renewal ran first and succeeded');
    assert.equal(e.mayAct(), true);
    await e.release();
  });

  it('a follower waits out a live holder, then takes an unrenewed lease after leaseDuration on its own clock', async () => {
    api.write({ holderIdentity: 'other', leaseDurationSeconds: 15, leaseTransitions: 3 });
    const { e, events } = elector(clock, api);
    e.start();
    // The holder renews every 2 s for 30 s.
    for (let t = 0; t < 30_000; t += 2000) {
      await clock.advance(2000);
      api.write({ ...api.lease!.spec, renewTime: String(t) });
    }
    assert.equal(e.leading, false);
    const lastChange = clock.now();
    await clock.runUntil(() => e.leading, { stepMs: 100, limitMs: 30_000 });
    const waited = events[0]!.at - lastChange;
    assert.ok(waited > LEASE && waited <= LEASE + RETRY * 1.2 + 100, `took over ${waited} ms after the last change`);
    assert.equal(api.lease?.spec.leaseTransitions, 4);
    assert.equal(api.lease?.spec.holderIdentity, 'me');
    await e.release();
  });

  it('followers retry with up to 20 % jitter', async () => {
    api.write({ holderIdentity: 'other', leaseDurationSeconds: 3600 });
    const { e } = elector(clock, api);
    e.start();
    await clock.advance(60_000);
    const gets = api.calls.filter((c) => c.method === 'GET');
    const gaps = gets.slice(1).map((c, i) => c.at - gets[i]!.at);
    assert.ok(gaps.every((g) => g >= RETRY && g <= RETRY * 1.2), `gaps ${gaps}`);
    assert.ok(new Set(gaps).size > 1, 'jittered, not constant');
    await e.release();
  });

  it('two candidates racing: one wins, the other gets the 409 and follows', async () => {
    const a = elector(clock, api, { identity: 'a' });
    const b = elector(clock, api, { identity: 'b' });
    a.e.start();
    b.e.start();
    await clock.advance(10_000);
    assert.equal([a.e.leading, b.e.leading].filter(Boolean).length, 1);
    assert.equal(api.lease?.spec.holderIdentity, a.e.leading ? 'a' : 'b');
    await a.e.release();
    await b.e.release();
  });

  it('release hands the lease over at once', async () => {
    const { e } = elector(clock, api);
    e.start();
    await clock.advance(0);
    await e.release();
    assert.equal(api.lease?.spec.holderIdentity, '');
    assert.equal(api.lease?.spec.leaseDurationSeconds, 1);
    assert.equal(e.leading, false);
    assert.equal(e.mayAct(), false);
  });
});
