import assert from 'node:assert/strict';
import { microTime, StatusWriter } from '../../../controller/status.ts';
import type { KubeHttp } from '../../../shared/kube/http.ts';

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

describe('StatusWriter.event: the ten-minute dedupe', () => {
  const t0 = Date.UTC(2026, 0, 1);
  const at = (minutes: number) => new Date(t0 + minutes * 60_000);
  const deployment = (name: string) => ({ kind: 'Deployment' as const, namespace: 'team-a', name });
  const spec = (note: string) => ({ reason: 'Synced' as const, type: 'Normal' as const, note, action: 'Sync' as const });

  function writer() {
    const posts: string[] = [];
    const http = { request: async (_method: string, _path: string, req: { body: { regarding: { name: string }; note: string } }) => void posts.push(`${req.body.regarding.name}: ${req.body.note}`) };
    return { posts, status: new StatusWriter({ http: http as unknown as KubeHttp, instance: 'test' }) };
  }

  it('sends an Event once per ten minutes per resource and note, for one note and for several', async () => {
    const { posts, status } = writer();
    await status.event(deployment('x'), 'uid', spec('one'), at(0));
    await status.event(deployment('x'), 'uid', spec('one'), at(5));
    await status.event(deployment('y'), 'uid', spec('one'), at(5)); // another resource: its own
    assert.deepEqual(posts, ['x: one', 'y: one']);
    await status.event(deployment('x'), 'uid', spec('two'), at(6)); // a second note: both remembered
    await status.event(deployment('x'), 'uid', spec('one'), at(7));
    await status.event(deployment('x'), 'uid', spec('two'), at(8));
    assert.deepEqual(posts, ['x: one', 'y: one', 'x: two']);
    await status.event(deployment('x'), 'uid', spec('one'), at(10)); // ten minutes after the first
    await status.event(deployment('x'), 'uid', spec('two'), at(12)); // six after its last
    assert.deepEqual(posts, ['x: one', 'y: one', 'x: two', 'x: one']);
    await status.event(deployment('x'), 'uid', spec('two'), at(16)); // ten after its last
    await status.event(deployment('x'), 'uid', spec('two'), at(16.5));
    await status.event(deployment('x'), 'uid', spec('one'), at(17));
    assert.deepEqual(posts.slice(4), ['x: two']);
  });

  it('without an explicit time, takes the injected clock: for the dedupe and for eventTime', async () => {
    const sent: { eventTime: string; note: string }[] = [];
    const http = { request: async (_method: string, _path: string, req: { body: { eventTime: string; note: string } }) => void sent.push(req.body) };
    let clock = at(0);
    const status = new StatusWriter({ http: http as unknown as KubeHttp, instance: 'test', now: () => clock });
    await status.event(deployment('x'), 'uid', spec('one'));
    clock = at(9);
    await status.event(deployment('x'), 'uid', spec('one'));
    clock = at(10);
    await status.event(deployment('x'), 'uid', spec('one'));
    assert.deepEqual(sent.map((e) => e.eventTime), [microTime(at(0)), microTime(at(10))]);
  });

  it('forget() lets the same Event out again at once (after cleanup)', async () => {
    const { posts, status } = writer();
    await status.event(deployment('x'), 'uid', spec('one'), at(0));
    await status.event(deployment('x'), 'uid', spec('two'), at(0));
    status.forget(deployment('x'));
    await status.event(deployment('x'), 'uid', spec('one'), at(1));
    await status.event(deployment('y'), 'uid', spec('one'), at(1));
    status.forget(deployment('y'));
    await status.event(deployment('y'), 'uid', spec('one'), at(2));
    assert.deepEqual(posts, ['x: one', 'x: two', 'x: one', 'y: one', 'y: one']);
  });
});
