// Batch writer behaviour against an in-memory KV store that mimics
// OpenBao's semantics (CAS, versions, custom_metadata merge, KV v1 on the
// `kv1` mount). The same behaviours run against real OpenBao in
// test/integration/core; request counts there come from OpenBao's audit log.
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { OversizeError, SyncError, VaultRequestError } from '../../../shared/errors.ts';
import { LedgerKey } from '../../../shared/ledger.ts';
import { createMetrics } from '../../../shared/metrics.ts';
import { apiPath, parsePathPolicy, parseVaultPath, type LogicalPath, type VaultPath } from '../../../shared/paths.ts';
import { buildPayload } from '../../../shared/payload.ts';
import { BatchWriter, type DeleteOp, type UpsertOp } from '../../../shared/writer.ts';
import type { KvOperations } from '../../../shared/vault/kv.ts';

type Doc = { versions: Record<string, string>[]; meta: Record<string, string>; deleted: Set<number> };

class MemoryKv implements KvOperations {
  docs = new Map<string, Doc>();
  calls: string[] = [];
  failNext = new Map<string, SyncError[]>();
  /** Paths whose next write is applied, then answered with a timeout (Vault applied it after we gave up). */
  landsLate = new Set<string>();
  /**
   * Paths whose next write is applied, then answered with a CAS refusal: the
   * transport's retry of a request whose first attempt went unanswered but
   * was applied, so the retry's cas no longer matches.
   */
  appliedThenRefused = new Set<string>();

  #maybeFail(key: string) {
    const err = this.failNext.get(key)?.shift();
    if (err) throw err;
  }
  async resolveMount(p: VaultPath) {
    return p.segments[0] === 'kv1' ? { mount: 'kv1', kvVersion: 1 as const } : { mount: 'secret', kvVersion: 2 as const };
  }
  async readMetadata(p: LogicalPath) {
    this.calls.push('read_metadata');
    const d = this.docs.get(apiPath(p, 'data'));
    if (!d) return undefined;
    return { currentVersion: d.versions.length, currentDeleted: d.deleted.has(d.versions.length), customMetadata: { ...d.meta } };
  }
  async read(p: LogicalPath) {
    this.calls.push('read');
    const d = this.docs.get(apiPath(p, 'data'));
    if (!d) return undefined;
    return { data: { ...d.versions.at(-1)! }, currentVersion: d.versions.length, currentDeleted: false, customMetadata: { ...d.meta } };
  }
  async write(p: LogicalPath, data: Record<string, string>, cas?: number) {
    this.calls.push('write');
    const key = apiPath(p, 'data');
    this.#maybeFail(key);
    const d = this.docs.get(key) ?? { versions: [], meta: {}, deleted: new Set<number>() };
    if (p.kvVersion === 1) d.versions = [];
    if (cas !== undefined && cas !== d.versions.length) throw new SyncError('CasConflict', 'HTTP 400');
    d.versions.push({ ...data });
    this.docs.set(key, d);
    if (this.landsLate.delete(key)) throw new SyncError('Timeout', 'no answer within 30000 ms');
    if (this.appliedThenRefused.delete(key)) throw new SyncError('CasConflict', 'HTTP 400');
    return { version: p.kvVersion === 1 ? 0 : d.versions.length, customMetadata: { ...d.meta } };
  }
  async patchMetadata(p: LogicalPath, meta: Record<string, string | null>) {
    this.calls.push('write_metadata');
    const d = this.docs.get(apiPath(p, 'data'));
    if (!d) throw new SyncError('InvalidRequest', 'HTTP 404');
    for (const [k, v] of Object.entries(meta)) if (v === null) delete d.meta[k]; else d.meta[k] = v;
  }
  async deleteAll(p: LogicalPath) {
    this.calls.push('delete_metadata');
    this.docs.delete(apiPath(p, 'data'));
  }
  async deleteLatest(p: LogicalPath) {
    this.calls.push('delete');
    const d = this.docs.get(apiPath(p, 'data'))!;
    d.deleted.add(d.versions.length);
  }
}

const ctx = { namespace: 'ns', name: 'web', kind: 'Deployment', cluster: 'c' };
const owner = 'c/ns/Deployment/web';
const payload = (values: Record<string, string>, base64: string[] = []) => buildPayload(Object.entries(values).map(([k, v]) => [k, { value: v, base64: base64.includes(k) }]));
const upsert = (id: string, path: string, values: Record<string, string>, extra: Partial<UpsertOp> = {}): UpsertOp => ({
  kind: 'upsert', id, resource: 'Deployment ns/web', path: parseVaultPath(path, 'test'), ctx, owner, payload: payload(values), ...extra,
});
const del = (id: string, path: string, extra: Partial<DeleteOp> = {}): DeleteOp => ({
  kind: 'delete', id, resource: 'Deployment ns/web', path: parseVaultPath(path, 'test'), ctx, owner, ...extra,
});

function setup(opts: { batchSize?: number; policy?: string; maxEntryBytes?: number; largeSecretBytes?: number; kv?: MemoryKv; key?: LedgerKey; clusterId?: string } = {}) {
  const kv = opts.kv ?? new MemoryKv();
  const registry = new Registry();
  const metrics = createMetrics(registry);
  const ledgerKey = opts.key ?? new LedgerKey(Buffer.alloc(32, 7));
  const writer = new BatchWriter({
    kv, policy: parsePathPolicy(opts.policy ?? '*'), metrics, batchSize: opts.batchSize ?? 5, ledgerKey, clusterId: opts.clusterId,
    backoff: { baseMs: 1, maxMs: 2, maxAttempts: 4 },
    ...(opts.maxEntryBytes ? { maxEntryBytes: opts.maxEntryBytes } : {}),
    ...(opts.largeSecretBytes ? { largeSecretBytes: opts.largeSecretBytes } : {}),
  });
  /** A restarted controller: same Vault, same key, empty memory. */
  const restart = () => setup({ ...opts, kv, key: ledgerKey });
  return { kv, writer, registry, metrics, ledgerKey, restart };
}

describe('batch writer', () => {
  it('returns one result per op, in order; one failure never sinks the batch', async () => {
    const { kv, writer } = setup();
    kv.failNext.set('secret/data/b', [new SyncError('PermissionDenied', 'HTTP 403')]);
    const results = await writer.run([upsert('a', 'secret/data/a', { k: '1' }), upsert('b', 'secret/data/b', { k: '2' }), upsert('c', 'secret/data/c', { k: '3' })]);
    assert.deepEqual(results.map((r) => [r.id, r.outcome]), [['a', 'created'], ['b', 'failed'], ['c', 'created']]);
    assert.equal(results[1]!.error?.reason, 'PermissionDenied');
    assert.equal(results[1]!.attempts, 1);
  });

  it('retries a whole op on CAS conflicts only (the client retries transient request failures)', async () => {
    const { kv, writer } = setup();
    kv.failNext.set('secret/data/a', [new SyncError('CasConflict', 'HTTP 400'), new SyncError('CasConflict', 'HTTP 400')]);
    kv.failNext.set('secret/data/b', [new SyncError('RateLimited', 'HTTP 429')]);
    const [a, b] = await writer.run([upsert('a', 'secret/data/a', { k: '1' }), upsert('b', 'secret/data/b', { k: '1' })]);
    assert.equal(a!.outcome, 'created');
    assert.equal(a!.attempts, 3);
    assert.equal(b!.outcome, 'failed');
    assert.equal(b!.attempts, 1);
  });

  it('groups ops into batches of the configured size', async () => {
    const { writer, registry } = setup({ batchSize: 2 });
    await writer.run(['a', 'b', 'c', 'd', 'e'].map((n) => upsert(n, `secret/data/${n}`, { k: n })));
    assert.match(await registry.metrics(), /^vault_batch_size_histogram_count 3$/m);
  });

  it('creates with one request; the ownership marker follows off the critical path', async () => {
    const { kv, writer } = setup();
    const [r] = await writer.run([upsert('a', 'secret/data/a', { k: '1' })]);
    assert.equal(r!.outcome, 'created');
    assert.equal(r!.requests, 1);
    assert.deepEqual(kv.calls.slice(0, 1), ['write']);
    await writer.markersIdle();
    assert.deepEqual(kv.calls, ['write', 'write_metadata']);
    const meta = kv.docs.get('secret/data/a')!.meta;
    assert.equal(meta.owner, owner);
    assert.equal(meta['synced-version'], '1');
    assert.equal(meta['content-hash'], r!.tag, 'the marker holds the keyed tag, not the content hash');
    assert.notEqual(r!.tag, payload({ k: '1' }).hash);
  });

  it('updates a path it wrote with one CAS request, and unchanged content costs nothing', async () => {
    const { kv, writer } = setup();
    await writer.run([upsert('a', 'secret/data/a', { k: '1' })]);
    await writer.markersIdle();
    kv.calls = [];
    const [u] = await writer.run([upsert('a', 'secret/a', { k: '2' })]);
    assert.deepEqual([u!.outcome, u!.version, u!.requests], ['updated', 2, 1]);
    const [same] = await writer.run([upsert('a', 'secret/data/a', { k: '2' })]);
    assert.deepEqual([same!.outcome, same!.requests], ['unchanged', 0]);
    await writer.markersIdle();
    assert.deepEqual(kv.calls, ['write', 'write_metadata']);
    assert.equal(kv.docs.get('secret/data/a')!.meta['synced-version'], '2');
  });

  it('after a restart, the authenticated ledger makes unchanged content cost nothing and an update cost one request', async () => {
    const first = setup();
    const [r] = await first.writer.run([upsert('a', 'secret/data/a', { k: '1' })]);
    const known = { version: r!.version!, tag: r!.tag! };
    const { kv, writer } = first.restart();
    kv.calls = [];
    const [same] = await writer.run([upsert('a', 'secret/data/a', { k: '1' }, { known })]);
    assert.deepEqual([same!.outcome, same!.requests], ['unchanged', 0]);
    const [upd] = await writer.run([upsert('a', 'secret/data/a', { k: '2' }, { known })]);
    assert.deepEqual([upd!.outcome, upd!.requests], ['updated', 1]);
  });

  it('without a trusted ledger after a restart: one metadata read proves unchanged content (hint), or CAS tells it exists', async () => {
    const first = setup();
    await first.writer.run([upsert('a', 'secret/data/a', { k: '1' })]);
    await first.writer.markersIdle();
    const { kv, writer } = first.restart();
    kv.calls = [];
    const [hinted] = await writer.run([upsert('a', 'secret/data/a', { k: '1' }, { likelyExists: true })]);
    assert.deepEqual([hinted!.outcome, kv.calls], ['unchanged', ['read_metadata']]);
    const again = first.restart();
    again.kv.calls = [];
    const [blind] = await again.writer.run([upsert('a', 'secret/data/a', { k: '1' })]);
    assert.deepEqual([blind!.outcome, again.kv.calls], ['unchanged', ['write', 'read_metadata']]);
    assert.equal(kv.docs.get('secret/data/a')!.versions.length, 1, 'no redundant version');
  });

  it('detects a foreign write between two of ours through CAS, and writes on top of it', async () => {
    const { kv, writer } = setup();
    await writer.run([upsert('a', 'secret/data/a', { k: '1' })]);
    await writer.markersIdle();
    kv.docs.get('secret/data/a')!.versions.push({ k: 'someone else' });
    const [r] = await writer.run([upsert('a', 'secret/data/a', { k: '2' })]);
    assert.equal(r!.outcome, 'updated');
    assert.equal(r!.attempts, 2);
    assert.deepEqual(kv.docs.get('secret/data/a')!.versions.at(-1), { k: '2' });
  });

  it('restores drifted content on a periodic verify with one read, and verifies an untouched path with one read', async () => {
    const { kv, writer } = setup();
    const [r] = await writer.run([upsert('a', 'secret/data/a', { k: '1' })]);
    await writer.markersIdle();
    kv.calls = [];
    const [ok] = await writer.run([upsert('a', 'secret/data/a', { k: '1' }, { verify: true })]);
    assert.deepEqual([ok!.outcome, kv.calls], ['unchanged', ['read_metadata']]);
    kv.docs.get('secret/data/a')!.versions.push({ k: 'tampered' });
    const [restored] = await writer.run([upsert('a', 'secret/data/a', { k: '1' }, { verify: true, known: { version: r!.version!, tag: r!.tag! } })]);
    assert.equal(restored!.outcome, 'updated');
    assert.deepEqual(kv.docs.get('secret/data/a')!.versions.at(-1), { k: '1' });
  });

  it('refuses to overwrite or delete a secret owned by someone else, unless adopting, and names only a same-namespace owner', async () => {
    const { kv, writer } = setup();
    kv.docs.set('secret/data/theirs', { versions: [{ k: 'x' }], meta: { 'managed-by': 'vault-sync-operator', owner: 'other/ns/Deployment/x' }, deleted: new Set() });
    kv.docs.set('secret/data/neighbour', { versions: [{ k: 'x' }], meta: { 'managed-by': 'vault-sync-operator', owner: 'c/ns/Deployment/api' }, deleted: new Set() });
    kv.docs.set('secret/data/manual', { versions: [{ k: 'x' }], meta: {}, deleted: new Set() });
    const results = await writer.run([
      upsert('1', 'secret/data/theirs', { k: '1' }),
      upsert('2', 'secret/data/manual', { k: '1' }),
      del('3', 'secret/data/theirs'),
      upsert('4', 'secret/data/neighbour', { k: '1' }),
    ]);
    assert.deepEqual(results.map((r) => r.error?.reason), ['OwnershipConflict', 'OwnershipConflict', 'OwnershipConflict', 'OwnershipConflict']);
    assert.match(results[0]!.error!.message, /managed by another resource/);
    assert.doesNotMatch(results[0]!.error!.message, /other\/ns/);
    assert.match(results[1]!.error!.message, /not written by vault-sync-operator/);
    assert.match(results[3]!.error!.message, /managed by c\/ns\/Deployment\/api/);
    assert.deepEqual(kv.docs.get('secret/data/theirs')!.versions, [{ k: 'x' }]);
    const [adopted] = await writer.run([upsert('5', 'secret/data/manual', { k: '1' }, { adopt: true })]);
    assert.equal(adopted!.outcome, 'updated');
    assert.equal(kv.docs.get('secret/data/manual')!.meta.owner, owner, 'a takeover writes the marker at once');
  });

  it('a replayed ledger on a path another resource claims grants nothing: Vault decides', async () => {
    const { kv, writer } = setup();
    // The path was ours once (version 1), was released, and is now another resource's, same version number.
    kv.docs.set('secret/data/p', { versions: [{ k: 'theirs' }], meta: { 'managed-by': 'vault-sync-operator', owner: 'c/other/Deployment/b' }, deleted: new Set() });
    const stale = { version: 1, tag: 'ffffffffffffffffffffffffffffffff' };
    const [w, d] = await writer.run([upsert('w', 'secret/data/p', { k: 'mine' }, { known: stale, contested: true }), del('d', 'secret/data/p', { known: stale, contested: true })]);
    assert.deepEqual([w!.error?.reason, d!.error?.reason], ['OwnershipConflict', 'OwnershipConflict']);
    assert.deepEqual(kv.docs.get('secret/data/p')!.versions, [{ k: 'theirs' }]);
    assert.ok(!kv.calls.includes('write') && !kv.calls.includes('delete_metadata'));
  });

  it('claims its own create that crashed before any bookkeeping, without writing again, unless the path is contested', async () => {
    const { kv, writer } = setup();
    kv.docs.set('secret/data/a', { versions: [{ k: '1' }], meta: {}, deleted: new Set() });
    kv.docs.set('secret/data/b', { versions: [{ k: '1' }], meta: {}, deleted: new Set() });
    const [a, b] = await writer.run([upsert('a', 'secret/data/a', { k: '1' }), upsert('b', 'secret/data/b', { k: '1' }, { contested: true })]);
    assert.equal(a!.outcome, 'unchanged');
    assert.equal(kv.docs.get('secret/data/a')!.versions.length, 1);
    assert.equal(kv.docs.get('secret/data/a')!.meta.owner, owner);
    assert.equal(b!.error?.reason, 'OwnershipConflict', 'equal content on a contested path is not proof it is ours');
  });

  it('writes the marker at once when the base64 key list changes (readers need it to decode)', async () => {
    const { kv, writer } = setup();
    const bin = (values: Record<string, string>, b64: string[]) => ({ ...upsert('a', 'secret/data/a', {}), payload: payload(values, b64) });
    const [created] = await writer.run([bin({ blob: 'AAEC' }, ['blob'])]);
    assert.equal(created!.requests, 2);
    assert.equal(kv.docs.get('secret/data/a')!.meta['base64-keys'], 'blob');
    const [text] = await writer.run([bin({ blob: 'plain' }, [])]);
    assert.equal(text!.requests, 2);
    assert.equal(kv.docs.get('secret/data/a')!.meta['base64-keys'], undefined);
  });

  it('refuses paths outside the policy (writes and deletes) and oversize documents before any Vault call', async () => {
    const { kv, writer } = setup({ policy: 'secret/{namespace}/*', maxEntryBytes: 530 });
    const results = await writer.run([
      upsert('a', 'secret/data/other-ns/x', { k: '1' }),
      upsert('b', 'secret/data/ns/x', { k: 'x'.repeat(20) }),
      del('c', 'secret/data/other-ns/x', { known: { version: 1, tag: 'x'.repeat(32) } }),
      del('d', 'kv1/other-ns/db', { known: { version: 0, tag: 'x'.repeat(32) } }),
    ]);
    assert.deepEqual(results.map((r) => r.error?.reason), ['PathDenied', 'Oversize', 'PathDenied', 'PathDenied']);
    assert.deepEqual(kv.calls, []);
  });

  it('KV v1: a path is ours only when its content is what we last wrote', async () => {
    const { kv, writer, restart } = setup();
    const [c] = await writer.run([upsert('a', 'kv1/ns/app', { k: '1' })]);
    assert.equal(c!.outcome, 'created');
    const known = { version: 0, tag: c!.tag! };
    // Someone else rewrote it: our memory and ledger no longer match the content.
    kv.docs.get('kv1/ns/app')!.versions = [{ k: 'theirs' }];
    const later = restart();
    const [w, d] = await later.writer.run([upsert('w', 'kv1/ns/app', { k: '2' }, { known }), del('d', 'kv1/ns/app', { known })]);
    assert.deepEqual([w!.error?.reason, d!.error?.reason], ['OwnershipConflict', 'OwnershipConflict']);
    assert.deepEqual(kv.docs.get('kv1/ns/app')!.versions, [{ k: 'theirs' }]);
    // With no known tag at all (a forged or unsigned ledger), nothing is deleted either.
    kv.docs.get('kv1/ns/app')!.versions = [{ k: '1' }];
    const [forged] = await later.writer.run([del('f', 'kv1/ns/app')]);
    assert.equal(forged!.error?.reason, 'OwnershipConflict');
    const [mine] = await later.writer.run([del('m', 'kv1/ns/app', { known })]);
    assert.equal(mine!.outcome, 'deleted');
  });

  it('refuses a document whose stored form exceeds the entry limit, naming the resource, the size, the limit and both fixes', async () => {
    const { kv, writer } = setup({ maxEntryBytes: 1024 * 1024 });
    // Two 640 KiB values merged into one document: 1.25 MiB, what issue 11 saw raft refuse.
    const [r] = await writer.run([upsert('a', 'secret/data/merged', { a: 'x'.repeat(640 * 1024), b: 'y'.repeat(640 * 1024) })]);
    assert.ok(r!.error instanceof OversizeError);
    assert.equal(r!.error.retryable, false);
    assert.equal(r!.attempts, 1);
    assert.deepEqual(kv.calls, [], 'nothing sent');
    const msg = r!.error.message;
    assert.match(msg, /^Deployment ns\/web: the document for Vault path "secret\/data\/merged" is 1311247 bytes as Vault stores it, above the limit of 1048576 bytes/);
    assert.match(msg, /split the Secrets across several Vault paths/);
    assert.match(msg, /raise the storage's max_entry_size on the Vault server and --vault-max-entry-size with it/);
    // Escapes count: Go's JSON writes "<" as six bytes, so 200 KiB of it is over the limit too.
    const [escaped] = await writer.run([upsert('b', 'secret/data/html', { page: '<'.repeat(200 * 1024) })]);
    assert.equal(escaped!.error?.reason, 'Oversize');
  });

  it('reports the server refusing a write as too large the same way, terminal, after one request', async () => {
    const { kv, writer } = setup();
    kv.failNext.set('secret/data/big', [new VaultRequestError('Oversize', 'write', 'HTTP 500 (too large for the storage)', 500)]);
    const [r] = await writer.run([upsert('a', 'secret/data/big', { k: 'v' })]);
    assert.ok(r!.error instanceof OversizeError);
    assert.equal(r!.attempts, 1);
    assert.deepEqual(kv.calls, ['write'], 'one request, never retried');
    assert.match(r!.error.message, /^Deployment ns\/web: the document for Vault path "secret\/data\/big" is \d+ bytes as Vault stores it, and Vault refused it as too large for its storage \(HTTP 500; --vault-max-entry-size is 1048576 bytes\)/);
    assert.match(r!.error.message, /split the Secrets/);
  });

  it('retunes batch size and the pause between batches while running', async () => {
    const { kv, writer } = setup({ batchSize: 1 });
    writer.setBatchSize(2);
    writer.setBatchDelay(30);
    const started = performance.now();
    const ops = [1, 2, 3, 4, 5].map((i) => upsert(`o${i}`, `secret/data/b${i}`, { k: String(i) }));
    const results = await writer.run(ops);
    assert.deepEqual(results.map((r) => r.outcome), Array(5).fill('created'));
    assert.ok(performance.now() - started >= 55, 'three batches of two: two pauses of 30 ms');
    assert.equal(kv.calls.filter((c) => c === 'write').length, 5);
    assert.throws(() => writer.setBatchSize(0), /whole number >= 1/);
    assert.throws(() => writer.setBatchDelay(-1), />= 0 ms/);
  });

  it('flags large documents and counts them', async () => {
    const { writer, metrics } = setup({ largeSecretBytes: 8 });
    const results = await writer.run([upsert('a', 'secret/data/a', { k: 'x'.repeat(10) }), upsert('b', 'secret/data/b', { k: 'x' })]);
    assert.deepEqual(results.map((r) => r.large), [true, false]);
    assert.equal((await metrics.largeSecrets.get()).values[0]!.value, 1);
  });

  it('deletes a path it wrote with one request, soft-deletes on request, reads first when nothing is known', async () => {
    const { kv, writer } = setup();
    await writer.run([upsert('a', 'secret/data/a', { k: '1' }), upsert('b', 'secret/data/b', { k: '1' })]);
    await writer.markersIdle();
    kv.calls = [];
    const results = await writer.run([del('a', 'secret/data/a'), del('b', 'secret/data/b', { mode: 'latest' }), del('c', 'secret/data/never')]);
    assert.deepEqual(results.map((r) => [r.outcome, r.requests]), [['deleted', 1], ['deleted', 1], ['absent', 1]]);
    assert.equal(kv.docs.has('secret/data/a'), false);
    assert.equal(kv.docs.get('secret/data/b')!.deleted.has(1), true);
  });

  it('recognises a timed-out write that Vault applied later as its own, in this process and after a restart', async () => {
    const first = setup();
    first.kv.landsLate.add('secret/data/late');
    const [r] = await first.writer.run([upsert('a', 'secret/data/late', { k: 'sent' })]);
    assert.equal(r!.error?.reason, 'Timeout');
    assert.equal(r!.maybeTags?.length, 1, 'the data tag it may have written is reported for the ledger');
    // The same process: the unmarked version holds what it sent.
    const [again] = await first.writer.run([upsert('a', 'secret/data/late', { k: 'newer' })]);
    assert.equal(again!.outcome, 'updated');
    assert.equal(first.kv.docs.get('secret/data/late')!.meta.owner, owner, 'claimed at once');
    // A restarted process, with the ledger's record of the unanswered write.
    const kv = first.kv;
    kv.docs.delete('secret/data/late2');
    kv.landsLate.add('secret/data/late2');
    const [lost] = await first.writer.run([upsert('b', 'secret/data/late2', { k: 'v1' })]);
    const later = first.restart();
    const [recovered] = await later.writer.run([upsert('b', 'secret/data/late2', { k: 'v2' }, { maybeTags: lost!.maybeTags })]);
    assert.equal(recovered!.outcome, 'updated');
    assert.deepEqual(kv.docs.get('secret/data/late2')!.versions.at(-1), { k: 'v2' });
    // Without that record, an unmarked path with other data stays someone else's.
    kv.docs.set('secret/data/late3', { versions: [{ k: 'x' }, { k: 'y' }], meta: {}, deleted: new Set() });
    const [refused] = await later.writer.run([upsert('c', 'secret/data/late3', { k: 'v2' }, { maybeTags: lost!.maybeTags })]);
    assert.equal(refused!.error?.reason, 'OwnershipConflict');
  });

  it('claims a path whose applied write is the oldest of many unanswered ones (a frozen server applies the first it got, CAS refuses the rest)', async () => {
    // Fault row 3: OpenBao frozen for 60 s while a Secret changed every second.
    // On SIGCONT it applied the first queued write (the only one with the
    // right cas) and refused the others: the data is the OLDEST unanswered
    // write's, which keeping only the newest tags forgot.
    const { kv, writer } = setup();
    const path = 'secret/data/frozen';
    await writer.run([upsert('a', path, { k: 'v0' })]);
    kv.docs.get(path)!.meta = {}; // the marker never went out (it waits for spare budget)
    kv.landsLate.add(path);
    const [first] = await writer.run([upsert('a', path, { k: 'first' })]);
    assert.equal(first!.error?.reason, 'Timeout');
    for (let i = 0; i < 6; i++) {
      kv.failNext.set(path, Array.from({ length: 20 }, () => new SyncError('Timeout', 'no answer within 2000 ms')));
      const [lost] = await writer.run([upsert('a', path, { k: `lost-${i}` })]);
      assert.equal(lost!.error?.reason, 'Timeout');
    }
    kv.failNext.delete(path);
    const [r] = await writer.run([upsert('a', path, { k: 'latest' })]);
    assert.equal(r!.outcome, 'updated', `the applied write was ours: ${r!.error?.message ?? ''}`);
    assert.deepEqual(kv.docs.get(path)!.versions.at(-1), { k: 'latest' });
    assert.equal(kv.docs.get(path)!.meta.owner, owner);
  });

  it('claims its own write that Vault applied while the answer it got was the retry\'s CAS refusal (fault row 3)', async () => {
    const { kv, writer } = setup();
    const path = 'secret/data/retried';
    await writer.run([upsert('a', path, { k: 'v0' })]);
    kv.docs.get(path)!.meta = {}; // the marker never went out (it waits for spare budget)
    kv.appliedThenRefused.add(path);
    const [r] = await writer.run([upsert('a', path, { k: 'sent-while-frozen' })]);
    assert.equal(r!.outcome, 'unchanged', `its own data, claimed without a second write: ${r!.error?.message ?? ''}`);
    assert.deepEqual(kv.docs.get(path)!.versions.at(-1), { k: 'sent-while-frozen' });
    assert.equal(kv.docs.get(path)!.meta.owner, owner, 'the marker claims it');
    const [next] = await writer.run([upsert('a', path, { k: 'after' })]);
    assert.equal(next!.outcome, 'updated');
  });

  it('another cluster with the same owner id cannot take a path over, and is told why', async () => {
    const a = setup({ clusterId: 'cluster-a' });
    await a.writer.run([upsert('a', 'secret/data/shared', { k: 'a' })]);
    await a.writer.markersIdle();
    const b = setup({ kv: a.kv, clusterId: 'cluster-b' });
    const [r] = await b.writer.run([upsert('a', 'secret/data/shared', { k: 'b' })]);
    assert.equal(r!.error?.reason, 'OwnershipConflict');
    assert.match(r!.error!.message, /another cluster/);
    assert.deepEqual(a.kv.docs.get('secret/data/shared')!.versions.at(-1), { k: 'a' });
  });
});
