// The Reconciler itself, with its edges (cluster cache, Secret reads, status
// patches, the engine) replaced by small in-memory stand-ins that record what
// they are asked. Time is injected.
import assert from 'node:assert/strict';
import { Reconciler, type ReconcilerDeps } from '../../../controller/reconciler.ts';
import { ReadBudget } from '../../../controller/read-budget.ts';
import { entryId, type JournalEntry } from '../../../controller/journal-entries.ts';
import { LedgerKey, signRecord } from '../../../shared/ledger.ts';
import { formatSyncRecord } from '../../../shared/state.ts';
import { ownerId } from '../../../shared/vault/ownership.ts';
import { createLogger } from '../../../shared/log.ts';
import type { SecretView } from '../../../shared/resources.ts';
import type { UpsertOp, WriteOp } from '../../../shared/writer.ts';

describe('Reconciler', () => {
  it('floors forced writes (rotation-check disabled): a resource forces a write at most every --min-forced-write-interval', async () => {
    const view: SecretView = {
      metadata: {
        name: 'db', namespace: 'team-a', uid: 'uid-1', resourceVersion: '7',
        annotations: { 'vault-sync.io/path': 'secret/team-a/db', 'vault-sync.io/rotation-check': 'disabled' },
      },
    };
    const forced: boolean[] = [];
    const budget = new ReadBudget(1 << 20);
    const deps = {
      http: {},
      cache: {
        deployment: () => undefined,
        secret: (ns: string, name: string) => (ns === 'team-a' && name === 'db' ? view : undefined),
        recordOwnWrite: () => {},
        claimedByOthers: () => false,
      },
      engine: {
        async run(ops: readonly WriteOp[]) {
          for (const op of ops) if (op.kind === 'upsert') forced.push((op as UpsertOp).force ?? false);
          return ops.map((op) => ({ id: op.id, kind: op.kind, outcome: 'unchanged' as const, path: 'secret/team-a/db', kvVersion: 2 as const, version: 1, tag: 't' }));
        },
        tag: (hash: string) => `tag-${hash}`,
        dataTag: () => 'data-tag',
      },
      secrets: {
        async read(_ns: string, names: string[]) {
          return {
            secrets: new Map(names.map((n) => [n, { name: n, resourceVersion: '7', data: { password: 'czNjcjN0' } }])),
            reservation: await budget.reserve(1),
            dataBytes: 6,
          };
        },
      },
      ledgerKey: LedgerKey.ephemeral(),
      status: { patch: async () => '8', event: async () => {}, forget: () => {} },
      state: { set: () => {}, touch: () => {}, delete: () => {} },
      journal: { record: async () => {}, tags: () => [], entriesOf: () => [], all: () => [], drop: () => {} },
      config: {
        cluster: 'test', adoptPolicy: 'never', adoptNamespaces: [], deleteMode: 'all',
        maxSecretsPerResource: 50, minForcedWriteIntervalMs: 60_000, batchSize: 5,
      },
      log: createLogger({ level: 'error', write: () => {} }),
      now: () => new Date(now),
    } as unknown as ReconcilerDeps;
    let now = Date.UTC(2026, 0, 1);
    const reconciler = new Reconciler(deps);

    const at = async (offsetMs: number) => {
      now = Date.UTC(2026, 0, 1) + offsetMs;
      await reconciler.reconcile('Secret/team-a/db');
    };
    await at(0); // forced
    await at(1_000); // within the floor: written only if Vault differs
    await at(59_999); // still within
    await at(60_000); // the floor has passed: forced again
    await at(90_000); // within the new floor
    await at(120_000); // forced
    assert.deepEqual(forced, [true, false, false, true, false, true]);
  });
});

describe('Reconciler and the intent journal', () => {
  const key = LedgerKey.ephemeral();
  const owner = ownerId({ cluster: '', namespace: 'team-a', kind: 'Secret', name: 'db' });

  function setup(opts: { gone?: boolean; ledger?: Record<string, string> } = {}) {
    const calls: string[] = [];
    const entries = new Map<string, JournalEntry>();
    const view: SecretView = {
      metadata: {
        name: 'db', namespace: 'team-a', uid: 'uid-1', resourceVersion: '7',
        annotations: { 'vault-sync.io/path': 'secret/team-a/db', ...opts.ledger },
      },
    };
    const budget = new ReadBudget(1 << 20);
    const journal = {
      async record(list: readonly JournalEntry[]) {
        for (const e of list) {
          calls.push(`journal.record ${e.path}`);
          entries.set(entryId(e.owner, e.path), e);
        }
      },
      tags: (o: string, p: string) => entries.get(entryId(o, p))?.tags ?? [],
      entriesOf: (r: string) => [...entries].filter(([, e]) => e.resource === r),
      all: () => [...entries],
      drop(ids: Iterable<string>) {
        for (const id of ids) if (entries.delete(id)) calls.push('journal.drop');
      },
    };
    const deps = {
      http: {},
      cache: { deployment: () => undefined, secret: () => view, recordOwnWrite: () => {}, claimedByOthers: () => false },
      engine: {
        async run(ops: readonly WriteOp[]) {
          for (const op of ops) calls.push(`engine.${op.kind} ${op.id}${op.maybeTags ? ` maybe=${op.maybeTags.join(',')}` : ''}`);
          return ops.map((op) => op.kind === 'upsert'
            ? { id: op.id, kind: op.kind, outcome: 'created' as const, path: 'secret/team-a/db', kvVersion: 2 as const, version: 1, tag: 'content-tag' }
            : { id: op.id, kind: op.kind, outcome: 'deleted' as const });
        },
        tag: (hash: string) => `tag-${hash}`,
        dataTag: () => 'data-tag',
      },
      secrets: {
        async read(_ns: string, names: string[]) {
          return { secrets: new Map(names.map((n) => [n, { name: n, resourceVersion: '7', data: { password: 'czNjcjN0' } }])), reservation: await budget.reserve(1), dataBytes: 6 };
        },
      },
      ledgerKey: key,
      status: {
        patch: async (_k: unknown, change: { finalizer?: string }) => {
          calls.push(`status.patch${change.finalizer ? ` finalizer=${change.finalizer}` : ''}`);
          return opts.gone ? undefined : '8';
        },
        event: async (_k: unknown, _u: unknown, spec: { reason: string }) => void calls.push(`event ${spec.reason}`),
        forget: () => {},
      },
      state: { set: () => {}, touch: () => {}, delete: () => {} },
      journal,
      config: { cluster: '', adoptPolicy: 'never', adoptNamespaces: [], deleteMode: 'all', maxSecretsPerResource: 50, minForcedWriteIntervalMs: 60_000, batchSize: 5 },
      log: createLogger({ level: 'error', write: () => {} }),
      now: () => new Date(Date.UTC(2026, 0, 1)),
    } as unknown as ReconcilerDeps;
    return { reconciler: new Reconciler(deps), calls, entries };
  }

  it('a first write to a path is journaled before it is sent; the finalizer rides on the ledger; then the entry goes', async () => {
    const { reconciler, calls, entries } = setup();
    await reconciler.reconcile('Secret/team-a/db');
    assert.deepEqual(calls, ['journal.record secret/team-a/db', 'engine.upsert secret/team-a/db maybe=data-tag', 'status.patch finalizer=add', 'journal.drop', 'event Synced']);
    assert.equal(entries.size, 0);
  });

  it('a resource gone before its ledger landed: what the run wrote is deleted at once, and nothing is reported on it', async () => {
    const { reconciler, calls, entries } = setup({ gone: true });
    await reconciler.reconcile('Secret/team-a/db');
    assert.deepEqual(calls, ['journal.record secret/team-a/db', 'engine.upsert secret/team-a/db maybe=data-tag', 'status.patch finalizer=add', 'engine.delete secret/team-a/db maybe=data-tag', 'journal.drop']);
    assert.equal(entries.size, 0);
  });

  it('a path the signed ledger knows a version of is written without a journal entry', async () => {
    const signed = signRecord(key, owner, 'uid-1', { v: 2, paths: [{ path: 'secret/team-a/db', key: 'secret/team-a/db', kv: 2, ver: 3, h: 'old-tag' }] });
    const { reconciler, calls } = setup({ ledger: { 'vault-sync.io/sync-state': formatSyncRecord(signed) } });
    await reconciler.reconcile('Secret/team-a/db');
    assert.ok(!calls.some((c) => c.startsWith('journal.record')), calls.join(' | '));
    assert.ok(calls.includes('engine.upsert secret/team-a/db'));
  });
});
