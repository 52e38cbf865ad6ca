// Size limits true to the storage, on OpenBao with integrated (raft)
// storage, the storage production runs: dev mode keeps everything in
// memory and accepts far larger entries, so size tests there prove nothing.
// Requests are counted in the server's file audit log (and, for a 413 that
// never reaches the audit device, in the client's own metrics).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OversizeError } from '../../../shared/errors.ts';
import { buildPayload } from '../../../shared/payload.ts';
import { DEFAULT_MAX_ENTRY_BYTES, entryBytes } from '../../../shared/vault/entry-size.ts';
import { AuditLog } from '../../../tools/testenv/audit.ts';
import { requireBinaries } from '../../../tools/testenv/binaries.ts';
import { baoApi, startFileOpenBao, type FileOpenBaoServer } from '../../../tools/testenv/openbao.ts';
import { testEngine, upsertOp, type TestEngine } from '../support/engine.ts';

const text = (values: Record<string, string>) => buildPayload(Object.entries(values).map(([k, v]) => [k, { value: v, base64: false }]));

describe('size limits on raft storage', function () {
  this.timeout(240_000);
  let server: FileOpenBaoServer;
  let dir: string;
  let audit: AuditLog;
  const engines: TestEngine[] = [];
  const engine = (overrides: Parameters<typeof testEngine>[0] = {}) => {
    const e = testEngine({ connection: { addr: server.addr, timeoutMs: 30_000 }, auth: { method: 'token', token: server.rootToken }, ...overrides });
    engines.push(e);
    return e;
  };
  /** Audit-logged requests on one KV path (data and metadata). */
  const requestsOn = (mark: ReturnType<AuditLog['mark']>, path: string) => audit.since(mark).filter((e) => e.path === `secret/data/${path}` || e.path === `secret/metadata/${path}`);

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vso-raft-size-'));
    server = await startFileOpenBao({ dir, bin: requireBinaries().bao, audit: true });
    audit = new AuditLog(server.auditLog!);
  });
  after(async () => {
    await Promise.all(engines.map((e) => e.stop()));
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('our estimate is sound and tight: what raft refuses we refuse first, and we refuse at most 512 bytes of what it accepts', async () => {
    // The server's truth, found by binary search over one value's length, for text that Go's JSON escapes differently.
    const kinds: [string, string][] = [['ascii', 'x'], ['html (<, six bytes as stored)', '<'], ['two-byte UTF-8', 'é'], ['newlines', '\n']];
    for (const [name, ch] of kinds) {
      let lo = 1;
      let hi = 1024 * 1024;
      while (hi - lo > 1) {
        const mid = (lo + hi) >> 1;
        const res = await baoApi(server.addr, server.rootToken, 'POST', `secret/data/probe-${ch.charCodeAt(0)}`, { data: { k: ch.repeat(mid) } });
        if (res.status === 200) lo = mid;
        else {
          assert.equal(res.status, 500, `${name}: raft answers a too-large entry with 500`);
          assert.match(JSON.stringify(res.json), /put failed due to value being too large/);
          hi = mid;
        }
      }
      const accepted = entryBytes({ k: ch.repeat(lo) });
      const refused = entryBytes({ k: ch.repeat(hi) });
      process.stderr.write(`      raft accepts ${lo} chars of ${name} (our estimate ${accepted} bytes, ${accepted - DEFAULT_MAX_ENTRY_BYTES} over the limit: refused by us)\n`);
      assert.ok(refused > DEFAULT_MAX_ENTRY_BYTES, `${name}: the smallest refused (${hi} chars) is over our limit too (estimate ${refused})`);
      assert.ok(accepted - DEFAULT_MAX_ENTRY_BYTES <= 512, `${name}: the largest accepted (${lo} chars) is within 512 bytes of our limit (estimate ${accepted})`);
    }
  });

  it('refuses a document merged from two 640 KiB Secrets before any request: terminal, naming the resource, the size, the limit and both fixes', async () => {
    const e = engine();
    const mark = audit.mark();
    const [r] = await e.run([upsertOp('secret/data/merged', text({ a: 'x'.repeat(640 * 1024), b: 'y'.repeat(640 * 1024) }))]);
    assert.ok(r!.error instanceof OversizeError, r!.error?.message);
    assert.equal(r!.error.retryable, false);
    assert.equal(r!.requests, 0);
    assert.match(r!.error.message, /^Deployment ns\/web: the document for Vault path "secret\/data\/merged" is 1311247 bytes as Vault stores it, above the limit of 1048576 bytes/);
    assert.match(r!.error.message, /fix: split the Secrets across several Vault paths .* or raise the storage's max_entry_size on the Vault server and --vault-max-entry-size with it/);
    assert.deepEqual(requestsOn(mark, 'merged'), [], 'nothing reached Vault');
    assert.match(await e.registry.metrics(), /vault_sync_operator_vault_write_errors_total\{error_type="Oversize"\} 1/);
  });

  it('writes a 900 KiB document (fits raft) and flags it large', async () => {
    const e = engine();
    const [r] = await e.run([upsertOp('secret/data/fits', text({ k: 'z'.repeat(900 * 1024) }))]);
    assert.equal(r!.outcome, 'created', r!.error?.message);
    assert.equal(r!.large, true, 'above the 512 KiB large-secret threshold');
    const read = await baoApi(server.addr, server.rootToken, 'GET', 'secret/data/fits');
    assert.equal(read.json.data.data.k.length, 900 * 1024);
  });

  it('with the flag raised above the server\'s limit, raft\'s "too large" 500 is terminal after one write, reported the same way', async () => {
    const e = engine({ maxEntryBytes: 4 * 1024 * 1024, backoff: { baseMs: 50, maxMs: 200, maxAttempts: 8 } });
    const mark = audit.mark();
    const [r] = await e.run([upsertOp('secret/data/raised', text({ a: 'x'.repeat(640 * 1024), b: 'y'.repeat(640 * 1024) }))]);
    assert.ok(r!.error instanceof OversizeError, r!.error?.message);
    assert.equal(r!.attempts, 1);
    assert.match(r!.error.message, /Vault refused it as too large for its storage \(HTTP 500; --vault-max-entry-size is 4194304 bytes\)/);
    assert.match(r!.error.message, /split the Secrets/);
    const writes = requestsOn(mark, 'raised').filter((x) => x.path === 'secret/data/raised');
    assert.equal(writes.length, 1, `exactly one write, never retried: ${JSON.stringify(writes)}`);
    assert.match(writes[0]!.error ?? '', /too large/);
    assert.doesNotMatch(await e.registry.metrics(), /vault_sync_operator_vault_retries_total\{operation="write"/);
  });

  it('a body above max_request_size (413) is terminal after one request too', async () => {
    const e = engine({ maxEntryBytes: 64 * 1024 * 1024 });
    const [r] = await e.run([upsertOp('secret/data/huge', text({ k: 'q'.repeat(33 * 1024 * 1024) }))]);
    assert.ok(r!.error instanceof OversizeError, r!.error?.message);
    assert.match(r!.error.message, /Vault refused it as too large for its storage \(HTTP 413/);
    const metrics = await e.registry.metrics();
    assert.match(metrics, /vault_sync_operator_vault_requests_total\{operation="write",status="413"\} 1\n/);
  });
});
