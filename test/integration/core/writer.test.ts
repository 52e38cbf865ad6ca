// The core engine against real OpenBao: KV v1 and v2, ownership, CAS,
// binary values, large secrets, path injection.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type vault from 'node-vault';
import { ConfigError } from '../../../shared/errors.ts';
import { parseSyncAnnotations } from '../../../shared/annotations.ts';
import { parseVaultPath } from '../../../shared/paths.ts';
import { buildPayload, encodeSecretValue, type Payload } from '../../../shared/payload.ts';
import type { UpsertOp, DeleteOp } from '../../../shared/writer.ts';
import { adminVault, mountKv } from '../support/vault.ts';
import { testEngine, type TestEngine } from '../support/engine.ts';

const ctx = { namespace: 'ns', name: 'web', kind: 'Deployment', cluster: 'test' };
const owner = 'test/ns/Deployment/web';
const fromBytes = (entries: Record<string, Buffer | string>): Payload =>
  buildPayload(Object.entries(entries).map(([k, v]) => [k, encodeSecretValue(Buffer.from(v).toString('base64'))]));
const upsert = (path: string, payload: Payload, extra: Partial<UpsertOp> = {}): UpsertOp =>
  ({ kind: 'upsert', id: path, resource: 'Deployment ns/web', path: parseVaultPath(path, 'test'), ctx, owner, payload, ...extra });
const remove = (path: string, extra: Partial<DeleteOp> = {}): DeleteOp =>
  ({ kind: 'delete', id: path, resource: 'Deployment ns/web', path: parseVaultPath(path, 'test'), ctx, owner, ...extra });

describe('core engine against OpenBao', () => {
  let admin: vault.client;
  let engine: TestEngine;
  let v2: string;
  let v1: string;

  before(async () => {
    admin = adminVault();
    v2 = await mountKv(admin, 2);
    v1 = await mountKv(admin, 1);
    engine = testEngine();
  });
  after(() => engine.stop());

  it('detects the KV version per mount and writes both shapes', async () => {
    const results = await engine.run([upsert(`${v2}/data/app`, fromBytes({ user: 'u' })), upsert(`${v1}/app`, fromBytes({ user: 'u' }))]);
    assert.deepEqual(results.map((r) => [r.outcome, r.kvVersion]), [['created', 2], ['created', 1]]);
    assert.deepEqual((await admin.read(`${v2}/data/app`)).data.data, { user: 'u' });
    assert.deepEqual((await admin.read(`${v1}/app`)).data, { user: 'u' });
  });

  it('treats the API and the logical spelling as one secret', async () => {
    await engine.run([upsert(`${v2}/data/same`, fromBytes({ a: '1' }))]);
    const [r] = await engine.run([upsert(`${v2}/same`, fromBytes({ a: '1' }))]);
    assert.equal(r!.outcome, 'unchanged');
    assert.equal(r!.path, `${v2}/same`);
  });

  it('records ownership and a keyed content tag in custom_metadata, off the critical path', async () => {
    const [r] = await engine.run([upsert(`${v2}/data/owned`, fromBytes({ k: 'v' }))]);
    assert.equal(r!.requests, 1, 'the create is one request');
    await engine.markersIdle();
    const meta = (await admin.read(`${v2}/metadata/owned`)).data;
    assert.equal(meta.custom_metadata['managed-by'], 'vault-sync-operator');
    assert.equal(meta.custom_metadata.owner, owner);
    assert.equal(meta.custom_metadata['content-hash'], r!.tag);
    assert.notEqual(meta.custom_metadata['content-hash'], fromBytes({ k: 'v' }).hash, 'never the plain content hash');
    assert.equal(meta.custom_metadata['synced-version'], String(meta.current_version));
  });

  it('skips unchanged content with zero requests, also in a fresh process holding the signed ledger; one read with only a hint', async () => {
    const [first] = await engine.run([upsert(`${v2}/data/steady`, fromBytes({ k: 'v' }))]);
    await engine.markersIdle();
    const known = { version: first!.version!, tag: first!.tag! };
    const fresh = testEngine();
    try {
      await fresh.ensureLogin();
      const [r] = await fresh.run([upsert(`${v2}/data/steady`, fromBytes({ k: 'v' }), { known })]);
      assert.deepEqual([r!.outcome, r!.requests], ['unchanged', 0]);
      const [hinted] = await fresh.run([upsert(`${v2}/data/steady`, fromBytes({ k: 'v' }), { likelyExists: true, verify: true })]);
      assert.deepEqual([hinted!.outcome, hinted!.requests], ['unchanged', 1]);
      const metrics = await fresh.registry.metrics();
      assert.doesNotMatch(metrics, /vault_sync_operator_vault_requests_total\{operation="write/);
      assert.match(metrics, /vault_sync_operator_vault_requests_total\{operation="read_metadata",status="2xx"\} 1/);
    } finally {
      await fresh.stop();
    }
    assert.equal((await admin.read(`${v2}/metadata/steady`)).data.current_version, 1);
  });

  it('refuses to overwrite a secret it does not own, and leaves it intact', async () => {
    await admin.write(`${v2}/data/manual`, { data: { keep: 'me' } });
    const [r] = await engine.run([upsert(`${v2}/data/manual`, fromBytes({ k: 'v' }))]);
    assert.equal(r!.error?.reason, 'OwnershipConflict');
    assert.equal(r!.error?.retryable, false);
    assert.deepEqual((await admin.read(`${v2}/data/manual`)).data.data, { keep: 'me' });
    const [d] = await engine.run([remove(`${v2}/data/manual`)]);
    assert.equal(d!.error?.reason, 'OwnershipConflict');
    assert.deepEqual((await admin.read(`${v2}/data/manual`)).data.data, { keep: 'me' });
    const [adopted] = await engine.run([upsert(`${v2}/data/manual`, fromBytes({ k: 'v' }), { adopt: true })]);
    assert.equal(adopted!.outcome, 'updated');
  });

  it('refuses another resource\'s secret (two owners, one path), naming the owner only within the namespace', async () => {
    await engine.run([upsert(`${v2}/data/contested`, fromBytes({ k: 'a' }))]);
    await engine.markersIdle();
    const other = { namespace: 'other', name: 'api', kind: 'Deployment', cluster: 'test' };
    const [r] = await engine.run([upsert(`${v2}/data/contested`, fromBytes({ k: 'b' }), { owner: 'test/other/Deployment/api', ctx: other, contested: true })]);
    assert.equal(r!.error?.reason, 'OwnershipConflict');
    assert.match(r!.error!.message, /managed by another resource/);
    assert.doesNotMatch(r!.error!.message, /ns\/Deployment\/web/);
    const sibling = { namespace: 'ns', name: 'api', kind: 'Deployment', cluster: 'test' };
    const [s] = await engine.run([upsert(`${v2}/data/contested`, fromBytes({ k: 'b' }), { owner: 'test/ns/Deployment/api', ctx: sibling, contested: true })]);
    assert.match(s!.error!.message, /managed by test\/ns\/Deployment\/web/);
    assert.deepEqual((await admin.read(`${v2}/data/contested`)).data.data, { k: 'a' });
  });

  it('survives a CAS race between two writers: the last content wins and metadata matches it', async () => {
    const other = testEngine();
    try {
      await engine.run([upsert(`${v2}/data/race`, fromBytes({ k: '0' }))]);
      await other.run([upsert(`${v2}/data/race`, fromBytes({ k: '0' }))]); // both now cache version 1
      const [a, b] = await Promise.all([
        engine.run([upsert(`${v2}/data/race`, fromBytes({ k: 'A' }))]),
        other.run([upsert(`${v2}/data/race`, fromBytes({ k: 'B' }))]),
      ]);
      assert.ok(a[0]!.outcome === 'updated' && b[0]!.outcome === 'updated');
      assert.ok(a[0]!.attempts + b[0]!.attempts >= 3, 'one writer must have hit the CAS conflict and retried');
      const meta = (await admin.read(`${v2}/metadata/race`)).data;
      const data = (await admin.read(`${v2}/data/race`)).data;
      assert.equal(meta.current_version, 3);
      const winner = data.data.k === 'A' ? 'A' : 'B';
      await Promise.all([engine.markersIdle(), other.markersIdle()]);
      // Markers go out off the critical path, so the loser's may land last: stale, never wrong.
      // A stale marker (an older synced-version) can only cause a rewrite, never an "unchanged".
      const settled = (await admin.read(`${v2}/metadata/race`)).data.custom_metadata;
      const tags: Record<string, string> = { 2: engine.tag(fromBytes({ k: winner === 'A' ? 'B' : 'A' }).hash), 3: engine.tag(fromBytes({ k: winner }).hash) };
      assert.ok(['2', '3'].includes(settled['synced-version']), settled['synced-version']);
      assert.equal(settled['content-hash'], tags[settled['synced-version']], 'the marker describes the version it names');
    } finally {
      await other.stop();
    }
  });

  it('round-trips binary values byte for byte and lists them as base64', async () => {
    const bytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const [w] = await engine.run([upsert(`${v2}/data/binary`, fromBytes({ blob: bytes, text: 'héllo' }))]);
    assert.equal(w!.requests, 2, 'a new base64 key list is written with the data, not later');
    const read = await admin.read(`${v2}/data/binary`);
    assert.deepEqual(Buffer.from(read.data.data.blob, 'base64'), bytes);
    assert.equal(read.data.data.text, 'héllo');
    assert.equal(read.data.metadata.custom_metadata['base64-keys'], 'blob');
  });

  it('flags a secret over 1 MiB, writes it, and counts it, where the storage takes it (dev mode, --vault-max-entry-size raised)', async () => {
    // The default limit is raft's 1 MiB (refused before sending: size-limits.test.ts);
    // dev mode keeps entries in memory and accepts more.
    const roomy = testEngine({ maxEntryBytes: 4 * 1024 * 1024 });
    const big = randomBytes(600 * 1024).toString('hex'); // 1.2 MB of text
    const [r] = await roomy.run([upsert(`${v2}/data/big`, fromBytes({ big }))]);
    assert.equal(r!.outcome, 'created');
    assert.equal(r!.large, true);
    assert.ok(r!.bytes! > 1024 * 1024);
    assert.match(await roomy.registry.metrics(), /^vault_large_secret_count [1-9]/m);
    assert.ok(roomy.logLines.some((l) => l.includes('"msg":"large secret"')));
    const [refused] = await engine.run([upsert(`${v2}/data/big-default`, fromBytes({ big }))]);
    assert.equal(refused!.outcome, 'failed');
    assert.equal(refused!.error?.reason, 'Oversize', 'the default limit refuses it before sending');
    await roomy.stop();
  });

  it('deletes every version and the metadata of what it owns', async () => {
    await engine.run([upsert(`${v2}/data/gone`, fromBytes({ k: '1' }))]);
    await engine.run([upsert(`${v2}/data/gone`, fromBytes({ k: '2' }))]);
    const [d] = await engine.run([remove(`${v2}/data/gone`)]);
    assert.equal(d!.outcome, 'deleted');
    await assert.rejects(admin.read(`${v2}/metadata/gone`), (e: any) => e.response?.statusCode === 404);
  });

  it('refuses a path-traversal annotation before any Vault call', async () => {
    const parsed = parseSyncAnnotations('Deployment ns/evil', { 'vault-sync.io/path': `${v2}/data/team/../../../sys/policies/acl/pwned` });
    assert.ok(parsed.managed && parsed.errors[0] instanceof ConfigError);
    assert.throws(() => parseVaultPath('secret/data/x/%2e%2e/%2e%2e/sys/policies/acl/pwned', 't'), ConfigError);
    await assert.rejects(admin.read('sys/policies/acl/pwned'), (e: any) => e.response?.statusCode === 404);
  });
});
