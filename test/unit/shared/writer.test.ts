// Batch writer decisions against an in-memory KV v2 store that mimics
// OpenBao's semantics (CAS, versions, custom_metadata merge). The same
// behaviours run against real OpenBao in test/integration/core.
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { SyncError } from '../../../shared/errors.ts';
import { createMetrics } from '../../../shared/metrics.ts';
import { apiPath, parsePathPolicy, parseVaultPath, type LogicalPath, type VaultPath } from '../../../shared/paths.ts';
import { buildPayload } from '../../../shared/payload.ts';
import { BatchWriter, type UpsertOp } from '../../../shared/writer.ts';
import type { KvOperations } from '../../../shared/vault/kv.ts';

class MemoryKv implements KvOperations {
  docs = new Map<string, { versions: Record<string, string>[]; meta: Record<string, string>; deleted: Set<number> }>();
  calls: string[] = [];
  failNext = new Map<string, SyncError[]>();

  #maybeFail(key: string) {
    const queue = this.failNext.get(key);
    const err = queue?.shift();
    if (err) throw err;
  }
  async resolveMount(_p: VaultPath) {
    this.calls.push('mount');
    return { mount: 'secret', kvVersion: 2 as const };
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
    if (cas !== undefined && cas !== d.versions.length) throw new SyncError('CasConflict', 'HTTP 400');
    d.versions.push({ ...data });
    this.docs.set(key, d);
    return d.versions.length;
  }
  async patchMetadata(p: LogicalPath, meta: Record<string, string | null>) {
    this.calls.push('write_metadata');
    const d = this.docs.get(apiPath(p, 'data'))!;
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
const payload = (values: Record<string, string>) => buildPayload(Object.entries(values).map(([k, v]) => [k, { value: v, base64: false }]));
const upsert = (id: string, path: string, values: Record<string, string>, extra: Partial<UpsertOp> = {}): UpsertOp => ({
  kind: 'upsert', id, resource: 'Deployment ns/web', path: parseVaultPath(path, 'test'), ctx, owner, payload: payload(values), ...extra,
});

function setup(opts: { batchSize?: number; policy?: string; maxSecretBytes?: number; largeSecretBytes?: number } = {}) {
  const kv = new MemoryKv();
  const registry = new Registry();
  const metrics = createMetrics(registry);
  const writer = new BatchWriter({
    kv, policy: parsePathPolicy(opts.policy ?? '*'), metrics, batchSize: opts.batchSize ?? 5,
    backoff: { baseMs: 1, maxMs: 2, maxAttempts: 4 }, sleep: async () => {},
    ...(opts.maxSecretBytes ? { maxSecretBytes: opts.maxSecretBytes } : {}),
    ...(opts.largeSecretBytes ? { largeSecretBytes: opts.largeSecretBytes } : {}),
  });
  return { kv, writer, registry, metrics };
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

  it('costs zero calls for unchanged content it wrote, and one metadata read after a restart', async () => {
    const { kv, writer } = setup();
    await writer.run([upsert('a', 'secret/data/a', { k: '1' })]);
    kv.calls = [];
    assert.equal((await writer.run([upsert('a', 'secret/a', { k: '1' })]))[0]!.outcome, 'unchanged');
    assert.deepEqual(kv.calls, ['mount']);
    writer.forget();
    kv.calls = [];
    assert.equal((await writer.run([upsert('a', 'secret/data/a', { k: '1' })]))[0]!.outcome, 'unchanged');
    assert.deepEqual(kv.calls, ['mount', 'read_metadata']);
  });

  it('updates with CAS on the version it saw and records hash and version', async () => {
    const { kv, writer } = setup();
    await writer.run([upsert('a', 'secret/data/a', { k: '1' })]);
    const [r] = await writer.run([upsert('a', 'secret/data/a', { k: '2' })]);
    assert.equal(r!.outcome, 'updated');
    assert.equal(r!.version, 2);
    assert.equal(kv.docs.get('secret/data/a')!.meta['synced-version'], '2');
  });

  it('on a CAS race re-reads and writes on top of the newer version', async () => {
    const { kv, writer } = setup();
    await writer.run([upsert('a', 'secret/data/a', { k: '1' })]);
    kv.docs.get('secret/data/a')!.versions.push({ k: 'someone else' }); // drift behind our back
    const [r] = await writer.run([upsert('a', 'secret/data/a', { k: '2' })]);
    assert.equal(r!.outcome, 'updated');
    assert.equal(r!.attempts, 2);
    assert.deepEqual(kv.docs.get('secret/data/a')!.versions.at(-1), { k: '2' });
  });

  it('restores drifted content even when the desired content did not change', async () => {
    const { kv, writer } = setup();
    await writer.run([upsert('a', 'secret/data/a', { k: '1' })]);
    kv.docs.get('secret/data/a')!.versions.push({ k: 'tampered' });
    writer.forget();
    const [r] = await writer.run([upsert('a', 'secret/data/a', { k: '1' })]);
    assert.equal(r!.outcome, 'updated');
    assert.deepEqual(kv.docs.get('secret/data/a')!.versions.at(-1), { k: '1' });
  });

  it('refuses to overwrite or delete a secret owned by someone else, unless adopting', async () => {
    const { kv, writer } = setup();
    kv.docs.set('secret/data/theirs', { versions: [{ k: 'x' }], meta: { 'managed-by': 'vault-sync-operator', owner: 'other/ns/Deployment/x' }, deleted: new Set() });
    kv.docs.set('secret/data/manual', { versions: [{ k: 'x' }], meta: {}, deleted: new Set() });
    const results = await writer.run([
      upsert('1', 'secret/data/theirs', { k: '1' }),
      upsert('2', 'secret/data/manual', { k: '1' }),
      { kind: 'delete', id: '3', resource: 'r', path: parseVaultPath('secret/data/theirs', 't'), ctx, owner },
    ]);
    assert.deepEqual(results.map((r) => r.error?.reason), ['OwnershipConflict', 'OwnershipConflict', 'OwnershipConflict']);
    assert.match(results[0]!.error!.message, /managed by other\/ns\/Deployment\/x/);
    assert.deepEqual(kv.docs.get('secret/data/theirs')!.versions, [{ k: 'x' }]);
    const [adopted] = await writer.run([upsert('4', 'secret/data/manual', { k: '1' }, { adopt: true })]);
    assert.equal(adopted!.outcome, 'updated');
    assert.equal(kv.docs.get('secret/data/manual')!.meta.owner, owner);
  });

  it('claims its own create that crashed before the metadata write, without writing again', async () => {
    const { kv, writer } = setup();
    kv.docs.set('secret/data/a', { versions: [{ k: '1' }], meta: {}, deleted: new Set() });
    const [r] = await writer.run([upsert('a', 'secret/data/a', { k: '1' })]);
    assert.equal(r!.outcome, 'unchanged');
    assert.equal(kv.docs.get('secret/data/a')!.versions.length, 1);
    assert.equal(kv.docs.get('secret/data/a')!.meta.owner, owner);
  });

  it('refuses paths outside the policy and oversize documents before any Vault call', async () => {
    const { kv, writer } = setup({ policy: 'secret/{namespace}/*', maxSecretBytes: 10 });
    const results = await writer.run([upsert('a', 'secret/data/other-ns/x', { k: '1' }), upsert('b', 'secret/data/ns/x', { k: 'x'.repeat(20) })]);
    assert.deepEqual(results.map((r) => r.error?.reason), ['PathDenied', 'Oversize']);
    assert.deepEqual(kv.calls, []);
  });

  it('flags large documents and counts them', async () => {
    const { writer, metrics } = setup({ largeSecretBytes: 8 });
    const results = await writer.run([upsert('a', 'secret/data/a', { k: 'x'.repeat(10) }), upsert('b', 'secret/data/b', { k: 'x' })]);
    assert.deepEqual(results.map((r) => r.large), [true, false]);
    assert.equal((await metrics.largeSecrets.get()).values[0]!.value, 1);
  });

  it('deletes all versions by default, soft-deletes on request, and reports absent paths', async () => {
    const { kv, writer } = setup();
    await writer.run([upsert('a', 'secret/data/a', { k: '1' }), upsert('b', 'secret/data/b', { k: '1' })]);
    const del = (id: string, path: string, mode?: 'all' | 'latest') => ({ kind: 'delete' as const, id, resource: 'r', path: parseVaultPath(path, 't'), ctx, owner, ...(mode ? { mode } : {}) });
    const results = await writer.run([del('a', 'secret/data/a'), del('b', 'secret/data/b', 'latest'), del('c', 'secret/data/never')]);
    assert.deepEqual(results.map((r) => r.outcome), ['deleted', 'deleted', 'absent']);
    assert.equal(kv.docs.has('secret/data/a'), false);
    assert.equal(kv.docs.get('secret/data/b')!.deleted.has(1), true);
  });
});
