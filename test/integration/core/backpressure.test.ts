// Vault's backpressure as the engine sees it, against a real OpenBao
// rate-limit quota: Retry-After with the quota's response headers on and off
// (OpenBao sends Retry-After and X-RateLimit-* only when
// sys/quotas/config enable_rate_limit_response_headers=true).
import assert from 'node:assert/strict';
import type vault from 'node-vault';
import { adminVault, mountKv } from '../support/vault.ts';
import { testEngine, textPayload, upsertOp } from '../support/engine.ts';

interface LogLine {
  msg: string;
  [k: string]: unknown;
}
const lines = (raw: string[]) => raw.map((l) => JSON.parse(l) as LogLine);

describe('core engine: Vault backpressure (real rate-limit quota)', function () {
  this.timeout(120_000);
  let admin: vault.client;
  let mount: string;
  before(async () => {
    admin = adminVault();
    mount = await mountKv(admin, 2, 'bp');
    // Two requests per second, then the client is blocked for 3 s: a Retry-After worth honouring.
    await admin.write(`sys/quotas/rate-limit/${mount}`, { path: `${mount}/`, rate: 2, interval: '1s', block_interval: '3s' });
  });
  after(async () => {
    await admin.write('sys/quotas/config', { enable_rate_limit_response_headers: false });
    await admin.delete(`sys/quotas/rate-limit/${mount}`);
  });

  for (const headers of [true, false]) {
    it(`rate-limit response headers ${headers ? 'on: every retry waits at least the Retry-After Vault sent' : 'off: backs off on its own'}; every write lands`, async () => {
      await admin.write('sys/quotas/config', { enable_rate_limit_response_headers: headers });
      await new Promise((r) => setTimeout(r, 3500)); // any block from the previous case is over
      const engine = testEngine({ rateLimit: 50, burst: 10, backoff: { baseMs: 100, maxMs: 1000, maxAttempts: 12 } });
      try {
        const started = performance.now();
        const ops = Array.from({ length: 5 }, (_, i) => upsertOp(`${mount}/data/${headers ? 'on' : 'off'}${i}`, textPayload('k', String(i))));
        const results = await engine.run(ops);
        const seconds = (performance.now() - started) / 1000;
        assert.deepEqual(results.map((r) => r.outcome), Array(5).fill('created'), results.map((r) => r.error?.message).join('; '));
        const log = lines(engine.logLines);
        const retries = log.filter((l) => l.msg === 'retrying vault request' && l.reason === 'RateLimited');
        const pushedBack = log.filter((l) => l.msg === 'vault pushed back: lowering the request rate');
        assert.ok(retries.length > 0, 'the quota refused some writes');
        assert.ok(pushedBack.length > 0 && pushedBack[0]!.signal === 'throttled', 'the effective rate was lowered');
        const metrics = await engine.registry.metrics();
        assert.match(metrics, /vault_rate_limit_decreases_total\{signal="throttled"\} [1-9]/);
        if (headers) {
          // OpenBao's Retry-After is the block's remaining whole seconds: 2 right after a 3 s block starts, 0 in its last second.
          const told = retries.filter((l) => typeof l.retryAfterMs === 'number');
          assert.equal(told.length, retries.length, 'every 429 carried Retry-After');
          assert.ok(told.some((l) => (l.retryAfterMs as number) >= 1000), `some Retry-After of a second or more: ${told.map((l) => l.retryAfterMs).join(', ')}`);
          assert.ok(told.every((l) => (l.delayMs as number) >= (l.retryAfterMs as number)), `every retry waited at least its Retry-After: ${told.map((l) => `${l.delayMs}>=${l.retryAfterMs}`).join(', ')}`);
          assert.ok(pushedBack.some((l) => (l.retryAfterMs as number) >= 1000), 'Retry-After reached the governor');
          assert.ok(seconds >= 2, 'the block was waited out, not hammered');
        } else {
          assert.ok(pushedBack.every((l) => l.retryAfterMs === undefined), 'no Retry-After without the headers');
          assert.ok(retries.every((l) => l.retryAfterMs === undefined));
          assert.ok(retries.some((l) => (l.delayMs as number) < 1000), `own backoff starts small: ${retries.map((l) => l.delayMs).join(', ')}`);
        }
        const effective = Number(/^vault_rate_limit_effective_rate (\S+)$/m.exec(metrics)![1]);
        assert.ok(effective < 50 && effective > 0, `effective rate lowered below the configured 50/s (${effective})`);
      } finally {
        await engine.stop();
      }
    });
  }
});
