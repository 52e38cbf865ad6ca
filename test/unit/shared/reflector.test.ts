// The reflector on a fake clock against a scripted list/watch API: backoff
// between failures, relist on 410 (at open or as an ERROR event), giving up
// on a watch stream that went silent, and stop() not waiting forever.
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { KubeHttpError, KubeStream, type KubeRequest } from '../../../shared/kube/http.ts';
import { REFLECTOR_BACKOFF, Reflector, STOP_WAIT_MS, WATCH_GRACE_MS, type ReflectorHealth } from '../../../shared/kube/reflector.ts';
import { backoffCeiling } from '../../../shared/retry.ts';
import { FakeClock } from '../support/fake-clock.ts';

interface Obj {
  metadata: { name: string; namespace: string; resourceVersion: string };
}

const obj = (name: string, rv: number): Obj => ({ metadata: { name, namespace: 'ns', resourceVersion: String(rv) } });

/** One open watch: the test pushes events into it or closes it. */
class WatchStream {
  readonly query: Record<string, unknown>;
  readonly #body = new PassThrough();
  cancelled = false;

  constructor(query: Record<string, unknown>) {
    this.query = query;
    this.#body.on('close', () => void (this.cancelled = !this.#body.writableEnded));
  }

  response(status: number): KubeStream {
    return new KubeStream(this.#body, status);
  }

  send(type: string, object: unknown): void {
    this.#body.write(`${JSON.stringify({ type, object })}\n`);
  }

  close(): void {
    this.#body.end();
  }
}

class FakeApi {
  items: Obj[] = [];
  /** What successive lists return (then `items`): the world changing between relists. */
  snapshots: Obj[][] = [];
  listRv = 10;
  /** Errors the next list calls throw, in order. */
  listFailures: Error[] = [];
  /** Status the next watch opens answer with (200 when empty). */
  watchStatuses: number[] = [];
  hangList = false;
  lists: number[] = [];
  readonly watches: WatchStream[] = [];
  readonly #clock: FakeClock;

  constructor(clock: FakeClock) {
    this.#clock = clock;
  }

  async request(_method: string, _path: string, _req: KubeRequest = {}): Promise<any> {
    this.lists.push(this.#clock.now());
    if (this.hangList) return new Promise(() => {}); // ignores its abort signal, like a stuck stream
    const failure = this.listFailures.shift();
    if (failure) throw failure;
    return { items: structuredClone(this.snapshots.shift() ?? this.items), metadata: { resourceVersion: String(this.listRv) } };
  }

  async open(_method: string, _path: string, req: KubeRequest = {}): Promise<any> {
    const status = this.watchStatuses.shift() ?? 200;
    const stream = new WatchStream(req.query ?? {});
    if (status !== 200) return stream.response(status);
    this.watches.push(stream);
    return stream.response(status);
  }
}

function reflector(clock: FakeClock, api: FakeApi, extra: { watchTimeoutSeconds?: number } = {}) {
  const changes: string[] = [];
  const health: ReflectorHealth[] = [];
  const r = new Reflector<Obj>({
    name: 'things', http: api, path: '/api/v1/things', clock,
    project: (o) => o as Obj,
    onChange: (type, key) => changes.push(`${type} ${key}`),
    onHealth: (e) => health.push(e),
    ...extra,
  });
  return { r, changes, health };
}

describe('Reflector (fake clock)', () => {
  let clock: FakeClock;
  let api: FakeApi;
  beforeEach(() => {
    clock = new FakeClock();
    api = new FakeApi(clock);
  });

  it('backs off between failed lists with equal jitter, reports how long it has failed, and recovers', async () => {
    api.items = [obj('a', 1)];
    api.listFailures = [500, 503, 500, 401].map((s) => new KubeHttpError('GET', '/api/v1/things', s, undefined));
    const { r, health } = reflector(clock, api);
    let synced = false;
    void r.start().then(() => (synced = true));
    await clock.advance(100);
    assert.equal(synced, false);
    assert.equal(r.failingForMs(), 100);
    await clock.runUntil(() => synced, { stepMs: 10, limitMs: 60_000 });
    const errors = health.filter((h): h is Extract<ReflectorHealth, { kind: 'error' }> => h.kind === 'error');
    assert.deepEqual(errors.map((e) => e.status), [500, 503, 500, 401]);
    errors.forEach((e, i) => {
      const ceiling = backoffCeiling(REFLECTOR_BACKOFF, i + 1);
      assert.ok(e.retryInMs >= ceiling / 2 && e.retryInMs <= ceiling, `retry ${i + 1}: ${e.retryInMs} ms within [${ceiling / 2}, ${ceiling}]`);
    });
    const gaps = api.lists.slice(1).map((t, i) => t - api.lists[i]!);
    errors.forEach((e, i) => assert.ok(Math.abs(gaps[i]! - e.retryInMs) <= 10, `waited ${gaps[i]} for ${e.retryInMs}`));
    assert.equal(r.failingForMs(), 0, 'a connected watch clears the failure');
    assert.equal(r.store.size, 1);
    await r.stop();
  });

  it('failingForMs grows with the clock while it keeps failing, and the backoff is capped', async () => {
    api.listFailures = Array.from({ length: 30 }, () => new Error('ECONNREFUSED'));
    const { r, health } = reflector(clock, api);
    void r.start();
    await clock.advance(120_000);
    assert.ok(r.failingForMs() >= 119_000, `failing for ${r.failingForMs()}`);
    const retries = health.filter((h) => h.kind === 'error').map((h) => (h as { retryInMs: number }).retryInMs);
    assert.ok(Math.max(...retries) <= REFLECTOR_BACKOFF.maxMs);
    await r.stop();
  });

  it('410 Gone when opening the watch: relists at once (no backoff) and reports exactly what changed', async () => {
    // While the watch was gone: a deleted, b changed, c created.
    api.snapshots = [[obj('a', 1), obj('b', 2)], [obj('b', 5), obj('c', 6)]];
    api.watchStatuses = [410];
    const { r, changes, health } = reflector(clock, api);
    await Promise.all([r.start(), clock.advance(0)]);
    await clock.advance(0);
    assert.equal(api.lists.length, 2, 'relisted');
    assert.equal(api.lists[1], api.lists[0], 'without waiting');
    assert.deepEqual(changes, ['ADDED ns/a', 'ADDED ns/b', 'DELETED ns/a', 'MODIFIED ns/b', 'ADDED ns/c']);
    assert.deepEqual(health.filter((h) => h.kind === 'relist'), [{ kind: 'relist', reason: 'gone' }]);
    assert.equal(api.watches.length, 1, 'then watches');
    assert.deepEqual([...r.store.keys()].sort(), ['ns/b', 'ns/c']);
    await r.stop();
  });

  it('an ERROR event in the stream triggers a relist; events before it are applied', async () => {
    api.items = [obj('a', 1)];
    const { r, changes, health } = reflector(clock, api);
    await Promise.all([r.start(), clock.advance(0)]);
    await clock.advance(0);
    const w = api.watches[0]!;
    assert.equal(w.query.resourceVersion, '10');
    w.send('ADDED', obj('b', 11));
    w.send('BOOKMARK', { metadata: { resourceVersion: '12' } });
    await clock.advance(0);
    assert.deepEqual(changes, ['ADDED ns/a', 'ADDED ns/b']);
    api.items = [obj('a', 1), obj('b', 11)];
    w.send('ERROR', { kind: 'Status', code: 410 });
    await clock.advance(0);
    assert.ok(health.some((h) => h.kind === 'relist' && h.reason === 'error-event'));
    assert.equal(api.lists.length, 2);
    assert.ok(w.cancelled, 'the old stream is released');
    assert.deepEqual(changes, ['ADDED ns/a', 'ADDED ns/b'], 'the relist found nothing new');
    await r.stop();
  });

  it('gives up on a watch that stays silent past its timeout and resumes from the last resourceVersion', async () => {
    const { r } = reflector(clock, api, { watchTimeoutSeconds: 60 });
    await Promise.all([r.start(), clock.advance(0)]);
    await clock.advance(0);
    const first = api.watches[0]!;
    first.send('ADDED', obj('x', 15));
    await clock.advance(60_000 + WATCH_GRACE_MS - 1);
    assert.equal(api.watches.length, 1, 'still waiting inside the deadline');
    await clock.advance(1);
    assert.ok(first.cancelled, 'the silent stream was abandoned');
    assert.equal(api.watches.length, 2, 'and a new watch opened');
    assert.equal(api.watches[1]!.query.resourceVersion, '15', 'resuming, not relisting');
    assert.equal(api.lists.length, 1);
    await r.stop();
  });

  it('a watch the server ends normally is reopened at once', async () => {
    const { r } = reflector(clock, api);
    await Promise.all([r.start(), clock.advance(0)]);
    await clock.advance(0);
    api.watches[0]!.close();
    await clock.advance(0);
    assert.equal(api.watches.length, 2);
    await r.stop();
  });

  it('stop() gives up waiting for a loop stuck in a request that ignores its abort', async () => {
    api.hangList = true;
    const { r, health } = reflector(clock, api);
    void r.start();
    await clock.advance(0);
    let stopped = false;
    void r.stop().then(() => (stopped = true));
    await clock.advance(STOP_WAIT_MS - 1);
    assert.equal(stopped, false);
    await clock.advance(1);
    assert.equal(stopped, true);
    assert.equal(health.at(-1)?.kind, 'stopped');
  });
});
