// The Vault client over TLS against OpenBao's dev-tls server: verification
// with the right CA works, a wrong CA and a wrong server name fail, and
// VAULT_SKIP_VERIFY=false in the environment does not turn verification off
// (node-vault alone would: it tests the variable for being non-empty).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireBinaries } from '../../../tools/testenv/binaries.ts';
import { startDevOpenBao, type TlsOpenBaoServer } from '../../../tools/testenv/openbao.ts';
import { testEnv } from '../support/env.ts';
import { testEngine, textPayload, upsertOp } from '../support/engine.ts';

const op = upsertOp('secret/data/tls/app', textPayload('k', 'v'), { id: 'tls' });

describe('core engine: Vault over TLS', function () {
  this.timeout(60_000);
  let server: TlsOpenBaoServer;
  let dir: string;
  const saved = process.env.VAULT_SKIP_VERIFY;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vso-tls-'));
    server = await startDevOpenBao({ dir, bin: requireBinaries().bao, tls: true });
  });
  after(async () => {
    if (saved === undefined) delete process.env.VAULT_SKIP_VERIFY;
    else process.env.VAULT_SKIP_VERIFY = saved;
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const run = async (connection: { caPem?: string; tlsServerName?: string; skipVerify?: boolean }) => {
    const engine = testEngine({
      connection: { addr: server.addr, timeoutMs: 5000, ...connection },
      auth: { method: 'token', token: server.rootToken },
      backoff: { baseMs: 10, maxMs: 20, maxAttempts: 2 },
    });
    try {
      return (await engine.run([op]))[0]!;
    } finally {
      await engine.stop();
    }
  };

  it('verifies the server with the configured CA', async () => {
    const r = await run({ caPem: server.caPem });
    assert.ok(r.outcome === 'created' || r.outcome === 'unchanged', r.error?.message);
  });

  it('refuses a server its CA did not sign, even with VAULT_SKIP_VERIFY=false set', async () => {
    process.env.VAULT_SKIP_VERIFY = 'false';
    const r = await run({ caPem: testEnv().kubeCaPem });
    assert.equal(r.outcome, 'failed');
    assert.equal(r.error?.reason, 'Network', r.error?.message); // the token lookup is the first request to fail
    assert.match(r.error!.message, /no response \((SELF_SIGNED|UNABLE_TO_VERIFY|DEPTH_ZERO|ERR_TLS|CERT)[A-Z_]*\)/);
  });

  it('checks the server name', async () => {
    const r = await run({ caPem: server.caPem, tlsServerName: 'not-the-vault.example' });
    assert.equal(r.outcome, 'failed');
    assert.match(r.error!.message, /ERR_TLS_CERT_ALTNAME_INVALID/);
  });

  it('skips verification only when explicitly configured', async () => {
    const r = await run({ skipVerify: true });
    assert.ok(r.outcome === 'created' || r.outcome === 'unchanged', r.error?.message);
  });
});
