// HttpPool's deadline, against a node:http server on loopback: one timer per
// request bounds the headers and, for `request`, the body; for `open` only
// the headers (a watch may stay quiet longer than any deadline).
import assert from 'node:assert/strict';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { HttpPool, TransportError } from '../../../shared/http-pool.ts';

describe('HttpPool deadlines', () => {
  let server: Server;
  let pool: HttpPool;
  const held: ServerResponse[] = [];

  before(async () => {
    server = createServer((req, res) => {
      if (req.url === '/ok') return res.end('{"ok":true}');
      if (req.url === '/silent') return void held.push(res); // never answers
      // /slow-body: headers now, the body never ends
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"partial":');
      held.push(res);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    pool = new HttpPool(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  });

  after(async () => {
    for (const res of held) res.destroy();
    pool.close();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  it('answers within the deadline leave no timer behind to fail them later', async () => {
    const res = await pool.request({ method: 'GET', path: '/ok', timeoutMs: 50 });
    assert.equal(res.status, 200);
    assert.equal(res.text, '{"ok":true}');
    await sleep(80); // a timer left armed would destroy the kept-alive socket: the next call still works
    assert.equal((await pool.request({ method: 'GET', path: '/ok', timeoutMs: 50 })).text, '{"ok":true}');
  });

  it('no answer at all fails with ETIMEDOUT at the deadline', async () => {
    const t0 = performance.now();
    await assert.rejects(pool.request({ method: 'GET', path: '/silent', timeoutMs: 60 }),
      (err: unknown) => err instanceof TransportError && err.code === 'ETIMEDOUT' && /no answer within 60 ms/.test(err.message));
    assert.ok(performance.now() - t0 < 1000);
  });

  it('headers in time but a body that never ends fails with ETIMEDOUT too: the deadline is for the whole request', async () => {
    await assert.rejects(pool.request({ method: 'GET', path: '/slow-body', timeoutMs: 60 }),
      (err: unknown) => err instanceof TransportError && err.code === 'ETIMEDOUT' && /body not complete within 60 ms/.test(err.message));
  });

  it('open() is bounded until the headers only: the stream stays open past the deadline', async () => {
    const res = await pool.open({ method: 'GET', path: '/slow-body', timeoutMs: 40 });
    assert.equal(res.statusCode, 200);
    await sleep(120);
    assert.equal(res.destroyed, false);
    res.destroy();
  });
});
