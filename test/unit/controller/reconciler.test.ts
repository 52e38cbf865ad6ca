// The Reconciler itself, with its edges (cluster cache, Secret reads, status
// patches, the engine) replaced by small in-memory stand-ins that record what
// they are asked. Time is injected.
import assert from 'node:assert/strict';
import { Reconciler, type ReconcilerDeps } from '../../../controller/reconciler.ts';
import { ReadBudget } from '../../../controller/read-budget.ts';
import { LedgerKey } from '../../../shared/ledger.ts';
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
