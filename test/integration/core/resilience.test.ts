// Transient Vault failures, provoked for real: a rate-limit quota answering
// 429, and a sealed server answering 503. The writer retries with backoff
// and finishes once Vault lets it.
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import type vault from 'node-vault';
import type { FileOpenBaoServer } from '../../../tools/testenv/openbao.ts';
import { adminVault, mountKv, startPersistentVault } from '../support/vault.ts';
import { testEngine, textPayload, upsertOp } from '../support/engine.ts';

const op = (path: string, value: string) => upsertOp(path, textPayload('k', value));

describe('core engine: transient Vault failures', function () {
  this.timeout(90_000);

  describe('a real 429 from an OpenBao rate-limit quota', () => {
    let admin: vault.client;
    let mount: string;
    before(async () => {
      admin = adminVault();
      mount = await mountKv(admin, 2, 'quota');
      await admin.write(`sys/quotas/rate-limit/${mount}`, { path: `${mount}/`, rate: 2, interval: '1s' });
    });
    after(() => admin.delete(`sys/quotas/rate-limit/${mount}`));

    it('retries 429s with backoff until every write lands', async () => {
      // Our own throttle is wide open, so the server's quota is what binds.
      const engine = testEngine({ rateLimit: 1000, burst: 100, backoff: { baseMs: 200, maxMs: 2000, maxAttempts: 12 } });
      try {
        const results = await engine.run(Array.from({ length: 6 }, (_, i) => op(`${mount}/data/q${i}`, String(i))));
        assert.deepEqual(results.map((r) => r.outcome), Array(6).fill('created'), results.map((r) => r.error?.message).join('; '));
        const metrics = await engine.registry.metrics();
        assert.match(metrics, /vault_sync_operator_vault_requests_total\{operation="[a-z_]+",status="429"\} [1-9]/);
        assert.match(metrics, /vault_sync_operator_vault_retries_total\{operation="[a-z_]+",reason="RateLimited"\} [1-9]/);
      } finally {
        await engine.stop();
      }
    });
  });

  describe('a sealed server', () => {
    let server: FileOpenBaoServer;
    /** What the resource's signed ledger would hold after the sealed-server run. */
    let known: { version: number; tag: string } | undefined;
    before(async () => {
      server = await startPersistentVault();
    });
    after(() => server.stop());

    it('retries 503 while sealed and finishes after the unseal', async () => {
      const engine = testEngine({
        connection: { addr: server.addr, timeoutMs: 5000 },
        auth: { method: 'token', token: server.rootToken },
        backoff: { baseMs: 200, maxMs: 1000, maxAttempts: 30 },
      });
      try {
        assert.equal((await engine.run([op('secret/data/before-seal', '1')]))[0]!.outcome, 'created');
        await server.seal();
        const pending = engine.run([op('secret/data/during-seal', '1'), op('secret/data/before-seal', '2')]);
        await sleep(2000);
        await server.unseal();
        const results = await pending;
        assert.deepEqual(results.map((r) => r.outcome), ['created', 'updated'], results.map((r) => r.error?.message).join('; '));
        known = { version: results[1]!.version!, tag: results[1]!.tag! };
        const metrics = await engine.registry.metrics();
        assert.match(metrics, /status="503"\} [1-9]/);
        assert.match(metrics, /vault_sync_operator_vault_retries_total\{operation="[a-z_]+",reason="Sealed"\} [1-9]/);
      } finally {
        await engine.stop();
      }
    });

    it('keeps data across a restart (persistent storage)', async () => {
      await server.restart();
      const engine = testEngine({ connection: { addr: server.addr }, auth: { method: 'token', token: server.rootToken } });
      try {
        const [r] = await engine.run([{ ...op('secret/data/before-seal', '2'), known, verify: true }]);
        assert.equal(r!.outcome, 'unchanged', 'the data survived the restart: verified with one read, nothing written');
        assert.equal(r!.requests, 1);
      } finally {
        await engine.stop();
      }
    });
  });
});
