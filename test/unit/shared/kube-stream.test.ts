// KubeStream: a response body read as it arrives, on a Node stream.
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { KubeStream } from '../../../shared/kube/http.ts';

describe('KubeStream', () => {
  it('text() and json() read the whole body, however it was chunked', async () => {
    const body = new PassThrough();
    const res = new KubeStream(body, 200, { 'content-type': 'application/json' });
    body.write('{"kind":');
    body.end('"Status","code":410}');
    assert.deepEqual(await res.json(), { kind: 'Status', code: 410 });
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-type'], 'application/json');
  });

  it('cancel() while the body is read ends the chunks quietly and releases the stream', async () => {
    const body = new PassThrough();
    const res = new KubeStream(body, 200);
    const seen: string[] = [];
    body.write('first\n');
    for await (const chunk of res.chunks()) {
      seen.push(chunk.toString());
      res.cancel();
    }
    assert.deepEqual(seen, ['first\n']);
    assert.ok(body.destroyed);
  });

  it('a body that fails on its own (not cancelled) fails the read', async () => {
    const body = new PassThrough();
    const res = new KubeStream(body, 200);
    body.write('partial');
    setImmediate(() => body.destroy(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' })));
    await assert.rejects(async () => {
      for await (const _ of res.chunks()) { /* reading */ }
    }, /socket hang up/);
  });
});
