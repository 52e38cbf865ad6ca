// The Vault transport never follows a redirect (issue 10, low finding
// "node-vault's HTTP client follows redirects and forwards X-Vault-Token").
// Two real node:http servers on 127.0.0.1: the configured Vault answers 307
// with Location pointing at the other one.
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { VaultRequestError } from '../../../../shared/errors.ts';
import { createThrottle } from '../../../../shared/throttle.ts';
import { VaultClient } from '../../../../shared/vault/client.ts';

async function serve(handler: Parameters<typeof createServer>[1]): Promise<{ server: Server; url: string }> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

describe('Vault transport', () => {
  const servers: Server[] = [];
  afterEach(async () => {
    for (const s of servers.splice(0)) await new Promise<void>((resolve) => s.close(() => resolve()));
  });

  it('never follows a redirect, so X-Vault-Token never reaches another address: the caller gets a VaultRequestError', async () => {
    const elsewhere: IncomingHttpHeaders[] = [];
    const other = await serve((req, res) => {
      elsewhere.push(req.headers);
      res.writeHead(200, { 'Content-Type': 'application/json' }).end('{"data":{"data":{}}}');
    });
    const seen: { url?: string; token?: string | string[] }[] = [];
    const vault = await serve((req, res) => {
      seen.push({ url: req.url, token: req.headers['x-vault-token'] });
      // The static token's lookup is answered here; the read is redirected.
      if (req.url === '/v1/auth/token/lookup-self') return void res.writeHead(200, { 'Content-Type': 'application/json' }).end('{"data":{"ttl":0}}');
      res.writeHead(307, { Location: `${other.url}${req.url}` }).end();
    });
    servers.push(other.server, vault.server);

    const throttle = createThrottle({ ratePerSecond: 1000, burst: 10 });
    const client = new VaultClient({
      connection: { addr: vault.url, timeoutMs: 2000 },
      auth: { method: 'token', token: 'canary-token-7f3a' },
      throttle,
      backoff: { baseMs: 1, maxMs: 1, maxAttempts: 1 },
    });
    let err: unknown;
    try {
      err = await client.send('read', 'GET', 'secret/data/app').then(() => undefined, (e: unknown) => e);
    } finally {
      client.stop();
      await throttle.stop();
    }
    assert.deepEqual(elsewhere, [], 'the redirect target never saw a request, nor the token');
    assert.deepEqual(seen.map((r) => r.url), ['/v1/auth/token/lookup-self', '/v1/secret/data/app'], 'the configured Vault got the read, once');
    assert.equal(seen[1]!.token, 'canary-token-7f3a');
    assert.ok(err instanceof VaultRequestError, `expected a VaultRequestError, got ${String(err)}`);
    assert.equal(err.status, 307);
    assert.equal(err.reason, 'VaultUnavailable');
    assert.match(err.message, /a redirect, not followed/);
    assert.doesNotMatch(err.message, /canary-token-7f3a/);
  });
});
