import assert from 'node:assert/strict';
import { SyncError } from '../../../shared/errors.ts';
import type { OpResult } from '../../../shared/writer.ts';
import { ledgerAfter, statusChanges, syncMessage } from '../../../controller/outcome.ts';

const ok = (path: string, version: number): OpResult => ({ id: path, kind: 'upsert', outcome: 'updated', attempts: 1, requests: 1, path: path.replace('/data/', '/'), kvVersion: 2, version, tag: `tag-${version}` });
const failed = (reason: 'OwnershipConflict' | 'Network'): OpResult => ({ id: 'x', kind: 'upsert', outcome: 'failed', attempts: 1, requests: 1, error: new SyncError(reason, reason) });
const doc = (path: string) => ({ path, keys: ['k'], bytes: 1 });

describe('the ledger after a run (pure)', () => {
  it('records what Vault holds from us: path, key, version and tag', () => {
    const paths = ledgerAfter({ documents: [doc('secret/data/a')], upserts: [ok('secret/data/a', 3)], stale: [], deletes: [], previous: [] });
    assert.deepEqual(paths, [{ path: 'secret/data/a', key: 'secret/a', kv: 2, ver: 3, h: 'tag-3', keys: ['k'], bytes: 1 }]);
  });

  it('keeps a path a refused op never wrote out, unless an earlier sync wrote it; keeps the earlier entry after a maybe-write', () => {
    const earlier = { path: 'secret/data/a', ver: 1, h: 'tag-1' };
    assert.deepEqual(ledgerAfter({ documents: [doc('secret/data/a')], upserts: [failed('OwnershipConflict')], stale: [], deletes: [], previous: [] }), []);
    assert.deepEqual(ledgerAfter({ documents: [doc('secret/data/a')], upserts: [failed('OwnershipConflict')], stale: [], deletes: [], previous: [earlier] }), [earlier]);
    assert.deepEqual(ledgerAfter({ documents: [doc('secret/data/a')], upserts: [failed('Network')], stale: [], deletes: [], previous: [earlier] }), [earlier]);
    assert.deepEqual(ledgerAfter({ documents: [doc('secret/data/a')], upserts: [failed('Network')], stale: [], deletes: [], previous: [] }).map((p) => p.path), ['secret/data/a'], 'may hold our data: cleanup must know');
  });

  it('drops stale paths once deleted, absent, refused or preserved; keeps them while a delete failed or was not attempted', () => {
    const stale = [{ path: 'secret/data/old' }];
    const del = (outcome: OpResult['outcome'], error?: SyncError): OpResult => ({ id: 'old', kind: 'delete', outcome, attempts: 1, requests: 1, ...(error ? { error } : {}) });
    assert.deepEqual(ledgerAfter({ documents: [], upserts: [], stale, deletes: [del('deleted')], previous: stale }), []);
    assert.deepEqual(ledgerAfter({ documents: [], upserts: [], stale, deletes: [del('absent')], previous: stale }), []);
    assert.deepEqual(ledgerAfter({ documents: [], upserts: [], stale, deletes: [del('failed', new SyncError('PathDenied', 'x'))], previous: stale }), []);
    assert.deepEqual(ledgerAfter({ documents: [], upserts: [], stale, deletes: undefined, previous: stale }), []);
    assert.deepEqual(ledgerAfter({ documents: [], upserts: [], stale, deletes: [del('failed', new SyncError('Network', 'x'))], previous: stale }), [{ path: 'secret/data/old', stale: true }]);
    assert.deepEqual(ledgerAfter({ documents: [], upserts: [], stale, deletes: 'not-attempted', previous: stale }), [{ path: 'secret/data/old', stale: true }]);
  });

  it('patches only what differs, the sync time riding along', () => {
    assert.deepEqual(statusChanges({ a: '1' }, { a: '1' }, '2026-01-01T00:00:00Z'), {});
    assert.deepEqual(statusChanges({ a: '1' }, { a: '2', b: null }, 'T'), { a: '2', 'vault-sync.io/last-sync': 'T' });
    assert.equal(syncMessage(3, 1, 2, false), '3 document(s) in sync (1 written, 2 unchanged); cleaned 2 old path(s)');
  });
});
