// KubeHttp's authentication cache against a node:http server on loopback:
// credentials are loaded once, reused for AUTH_TTL_MS (30 s) on the injected
// clock, then loaded again (projected tokens rotate); a fenced view shares
// the cache.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeHttp, type KubeCredentials } from '../../../shared/kube/http.ts';

describe('KubeHttp authentication cache', () => {
  let server: Server;
  let base: string;
  const seen: string[] = [];

  before(async () => {
    server = createServer((req, res) => {
      seen.push(String(req.headers.authorization));
      res.setHeader('content-type', 'application/json');
      res.end('{}');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(() => new Promise<void>((r) => server.close(() => r())));

  it('reuses the loaded headers for 30 s of the injected clock, then loads them again', async () => {
    seen.length = 0;
    let loads = 0;
    const credentials: KubeCredentials = { server: base, load: async () => ({ tls: {}, headers: { Authorization: `Bearer token-${loads++}` } }) };
    let now = 1_000_000;
    const http = new KubeHttp(credentials, { now: () => now });
    const fenced = http.withWriteFence(() => true);
    try {
      await Promise.all([http.request('GET', '/a'), http.request('GET', '/b')]); // single flight
      now += 29_999;
      await fenced.request('PATCH', '/c', { body: {} });
      now += 2;
      await http.request('GET', '/d');
      assert.deepEqual(seen, ['Bearer token-0', 'Bearer token-0', 'Bearer token-0', 'Bearer token-1']);
      assert.equal(loads, 2);
    } finally {
      http.close();
    }
  });
});
