import assert from 'node:assert/strict';
import {
  FINALIZER, STATUS_ANNOTATION, canonicalRecord, formatSecretVersions, formatSyncRecord, parseSecretVersions, parseSyncRecord, readResourceState, type SyncRecord,
} from '../../../shared/state.ts';

const EMPTY: SyncRecord = { v: 1, paths: [] };

describe('parseSyncRecord', () => {
  for (const raw of [undefined, '', 'not json', '{', 'null', '42', 'true', '"text"', '[]', '[{"path":"a"}]', '{}', '{"paths":"secret/x"}', '{"paths":{"path":"x"}}', '{"paths":null}']) {
    it(`tolerates ${JSON.stringify(raw)}`, () => {
      assert.deepEqual(parseSyncRecord(raw), EMPTY);
    });
  }

  it('keeps well-formed path records and drops malformed ones', () => {
    const record = parseSyncRecord(JSON.stringify({
      v: 1,
      paths: [
        { path: 'secret/data/web/db', kv: 2, keys: ['password'], bytes: 20 },
        null,
        7,
        'secret/data/x',
        { path: 5 },
        { keys: ['orphan'] },
        { path: 'secret/data/web/old', stale: true },
      ],
    }));
    assert.deepEqual(record.paths, [
      { path: 'secret/data/web/db', kv: 2, keys: ['password'], bytes: 20 },
      { path: 'secret/data/web/old', stale: true },
    ]);
  });

  it('keeps the other fields and pins the version', () => {
    const record = parseSyncRecord(JSON.stringify({ v: 9, paths: [], preserve: true, config: 'abc', content: 'def', resync: 'r1', reason: 'PathDenied' }));
    assert.deepEqual(record, { v: 1, paths: [], preserve: true, config: 'abc', content: 'def', resync: 'r1', reason: 'PathDenied' });
  });

  it('round-trips what the controller writes', () => {
    const written: SyncRecord = {
      v: 2,
      paths: [{ path: 'secret/data/a', key: 'secret/a', kv: 2, ver: 3, h: '0123456789abcdef0123456789abcdef', keys: ['k'], bytes: 3, large: true }],
      config: '0123456789abcdef', mac: 'fedcba9876543210fedcba9876543210',
    };
    assert.deepEqual(parseSyncRecord(formatSyncRecord(written)), written);
  });

  it('keeps only known scalar fields, however deep or odd the JSON', () => {
    const deep = `${'['.repeat(60_000)}"x"${']'.repeat(60_000)}`;
    const raw = `{"v":2,"paths":[{"path":"secret/a","kv":2,"ver":-1,"h":{"x":1},"keys":["k",7,{"a":1}],"extra":${deep}}],"config":${deep},"reason":"PathDenied"}`;
    const record = parseSyncRecord(raw);
    assert.deepEqual(record, { v: 2, paths: [{ path: 'secret/a', kv: 2, keys: ['k'] }], reason: 'PathDenied' });
    assert.doesNotThrow(() => JSON.stringify(readResourceState('Deployment', 'ns', 'n', { [STATUS_ANNOTATION.syncState]: raw })));
  });

  it('gives one canonical text per record, whatever the field order it was written in', () => {
    const a = parseSyncRecord('{"v":2,"config":"c","paths":[{"kv":2,"path":"secret/a"}]}');
    const b = parseSyncRecord('{"paths":[{"path":"secret/a","kv":2}],"config":"c","v":2}');
    assert.equal(canonicalRecord(a), canonicalRecord(b));
    assert.equal(canonicalRecord({ ...a, mac: 'x'.repeat(32) }), canonicalRecord(a), 'the MAC is not part of what it covers');
  });
});

describe('secret versions', () => {
  it('formats like Go json.Marshal of a map: sorted keys, compact', () => {
    assert.equal(formatSecretVersions({ 'web-tls': '300', api: '12', db: '7' }), '{"api":"12","db":"7","web-tls":"300"}');
    assert.equal(formatSecretVersions({}), '{}');
    // Go sorts bytewise; JavaScript objects would list integer-like keys numerically.
    assert.equal(formatSecretVersions({ '9': '1', '10': '2' }), '{"10":"2","9":"1"}');
    // Byte order: "-" < "." < digits < letters.
    assert.equal(formatSecretVersions({ a0: '3', 'a.b': '2', 'a-b': '1' }), '{"a-b":"1","a.b":"2","a0":"3"}');
    assert.equal(formatSecretVersions({ b: '2', '1st': '1', a: '3' }), '{"1st":"1","a":"3","b":"2"}');
  });

  it('does not depend on insertion order', () => {
    assert.equal(formatSecretVersions({ b: '1', a: '2' }), formatSecretVersions({ a: '2', b: '1' }));
  });

  it('parses back, tolerating garbage', () => {
    const versions = { api: '12', db: '7' };
    assert.deepEqual(parseSecretVersions(formatSecretVersions(versions)), versions);
    for (const raw of [undefined, '', 'nope', 'null', '[]', '["a"]', '3', '"s"']) assert.deepEqual(parseSecretVersions(raw), {}, String(raw));
  });
});

describe('readResourceState', () => {
  const synced = (extra: Record<string, string> = {}, record: Partial<SyncRecord> = {}) => ({
    'vault-sync.io/path': 'secret/data/web',
    [STATUS_ANNOTATION.status]: 'Synced',
    [STATUS_ANNOTATION.lastSync]: '2024-05-01T10:00:00Z',
    [STATUS_ANNOTATION.message]: 'synced 1 document',
    [STATUS_ANNOTATION.syncState]: JSON.stringify({ v: 1, paths: [{ path: 'secret/data/web/db', keys: ['password'] }], ...record }),
    ...extra,
  });

  it('is Pending before the first status', () => {
    const s = readResourceState('Deployment', 'team-a', 'web', { 'vault-sync.io/path': 'secret/data/web' });
    assert.deepEqual(s, {
      kind: 'Deployment', namespace: 'team-a', name: 'web', status: 'Pending',
      message: undefined, reason: undefined, lastSync: undefined, large: false, paths: [], vaultPath: 'secret/data/web',
    });
  });

  it('copes with no annotations at all', () => {
    const s = readResourceState('Secret', 'ns', 'db', undefined);
    assert.equal(s.status, 'Pending');
    assert.deepEqual(s.paths, []);
    assert.equal(s.vaultPath, undefined);
  });

  it('reads resync-requested-at the way the annotation parser does: trimmed, empty means none (regression)', () => {
    assert.equal(readResourceState('Deployment', 'ns', 'web', synced({ 'vault-sync.io/resync-requested-at': '' })).status, 'Synced');
    assert.equal(readResourceState('Deployment', 'ns', 'web', synced({ 'vault-sync.io/resync-requested-at': ' r1 ' }, { resync: 'r1' })).status, 'Synced');
    assert.equal(readResourceState('Deployment', 'ns', 'web', synced({ 'vault-sync.io/resync-requested-at': 'r2' }, { resync: 'r1' })).status, 'Pending');
  });

  it('reads a synced resource', () => {
    const s = readResourceState('Deployment', 'team-a', 'web', synced());
    assert.equal(s.status, 'Synced');
    assert.equal(s.lastSync, '2024-05-01T10:00:00Z');
    assert.equal(s.message, 'synced 1 document');
    assert.equal(s.vaultPath, 'secret/data/web');
    assert.deepEqual(s.paths, [{ path: 'secret/data/web/db', keys: ['password'] }]);
  });

  it('reads a failed resource with the reason from the ledger', () => {
    const s = readResourceState('Secret', 'team-a', 'db', synced({ [STATUS_ANNOTATION.status]: 'Failed', [STATUS_ANNOTATION.message]: 'path denied' }, { reason: 'PathDenied' }));
    assert.equal(s.status, 'Failed');
    assert.equal(s.reason, 'PathDenied');
    assert.equal(s.message, 'path denied');
    assert.equal(s.kind, 'Secret');
  });

  it('is Pending while a resync request has not been acted on', () => {
    const at = '2024-05-02T00:00:00Z';
    assert.equal(readResourceState('Deployment', 'a', 'b', synced({ 'vault-sync.io/resync-requested-at': at })).status, 'Pending');
    assert.equal(readResourceState('Deployment', 'a', 'b', synced({ 'vault-sync.io/resync-requested-at': at }, { resync: '2024-05-01T00:00:00Z' })).status, 'Pending');
    assert.equal(readResourceState('Deployment', 'a', 'b', synced({ 'vault-sync.io/resync-requested-at': at, [STATUS_ANNOTATION.status]: 'Failed' })).status, 'Pending');
  });

  it('is no longer Pending once the request was acted on, or when it is withdrawn', () => {
    const at = '2024-05-02T00:00:00Z';
    assert.equal(readResourceState('Deployment', 'a', 'b', synced({ 'vault-sync.io/resync-requested-at': at }, { resync: at })).status, 'Synced');
    assert.equal(readResourceState('Deployment', 'a', 'b', synced({ 'vault-sync.io/resync-requested-at': at, [STATUS_ANNOTATION.status]: 'Failed' }, { resync: at })).status, 'Failed');
    assert.equal(readResourceState('Deployment', 'a', 'b', synced({}, { resync: at })).status, 'Synced');
  });

  it('hides stale paths waiting for cleanup', () => {
    const s = readResourceState('Deployment', 'a', 'b', synced({}, { paths: [{ path: 'secret/data/new' }, { path: 'secret/data/old', stale: true }, { path: 'secret/data/kept', stale: false }] }));
    assert.deepEqual(s.paths.map((p) => p.path), ['secret/data/new', 'secret/data/kept']);
  });

  it('large only for "true"', () => {
    assert.equal(readResourceState('Deployment', 'a', 'b', synced({ [STATUS_ANNOTATION.largeSecret]: 'true' })).large, true);
    assert.equal(readResourceState('Deployment', 'a', 'b', synced({ [STATUS_ANNOTATION.largeSecret]: 'false' })).large, false);
    assert.equal(readResourceState('Deployment', 'a', 'b', synced({ [STATUS_ANNOTATION.largeSecret]: 'yes' })).large, false);
  });

  it('survives a corrupted ledger', () => {
    const s = readResourceState('Deployment', 'a', 'b', synced({ [STATUS_ANNOTATION.syncState]: '{"paths": [' }));
    assert.equal(s.status, 'Synced');
    assert.deepEqual(s.paths, []);
    assert.equal(s.reason, undefined);
  });

  it('annotation and finalizer names stay stable', () => {
    assert.equal(STATUS_ANNOTATION.status, 'vault-sync.io/status');
    assert.equal(STATUS_ANNOTATION.secretVersions, 'vault-sync.io/secret-versions');
    assert.equal(FINALIZER, 'vault-sync.io/finalizer');
  });
});
