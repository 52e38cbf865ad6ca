import assert from 'node:assert/strict';
import { buildTimeline } from '../../../extension/model/timeline.ts';
import { ResourceIndex } from '../../../extension/model/tree.ts';
import { resourceKey } from '../../../shared/resources.ts';

describe('extension model: sync history timeline', () => {
  it('merges Events, the ledger and KV versions, newest first, never values', () => {
    const index = new ResourceIndex();
    index.apply('Deployment', 'a', 'web', {
      'vault-sync.io/path': 'secret/data/web', 'vault-sync.io/status': 'Synced', 'vault-sync.io/last-sync': '2026-11-27T10:00:05Z',
      'vault-sync.io/resync-requested-at': '2026-11-27T10:00:00Z',
      'vault-sync.io/sync-state': JSON.stringify({ v: 1, paths: [{ path: 'secret/data/web', keys: ['user'], bytes: 10 }], resync: '2026-11-27T10:00:00Z' }),
    });
    const state = index.state(resourceKey({ kind: 'Deployment', namespace: 'a', name: 'web' }))!;
    const t = buildTimeline(state, [{ time: '2026-11-27T10:00:06Z', type: 'Normal', reason: 'Synced', note: '1 document(s) written (resync-requested-at)' }], {
      kind: 'Deployment', namespace: 'a', name: 'web',
      paths: [{ path: 'secret/data/web', status: 'ok', currentVersion: 2, versions: [{ version: 2, createdTime: '2026-11-27T10:00:04Z', destroyed: false }, { version: 1, createdTime: '2026-11-27T09:00:00Z', deletionTime: '2026-11-27T09:30:00Z', destroyed: false }] },
        { path: 'secret/data/other', status: 'unavailable', versions: [], detail: 'no history' }],
    });
    assert.deepEqual(t.entries.map((e) => `${e.source}:${e.what}`), ['event:Synced', 'ledger:last sync: Synced', 'vault:version 2', 'ledger:resync requested', 'vault:version 1']);
    assert.match(t.entries[1]!.detail, /secret\/data\/web \(10 B\): user/);
    assert.match(t.entries[3]!.detail, /handled/);
    assert.match(t.entries[4]!.detail, /deleted/);
    assert.deepEqual(t.notes, ['secret/data/other: no history']);
  });
});
