import assert from 'node:assert/strict';
import { isAuthentic, LedgerKey, signRecord } from '../../../shared/ledger.ts';
import { formatSyncRecord, parseSyncRecord, type SyncRecord } from '../../../shared/state.ts';

describe('ledger key and signed ledgers', () => {
  const key = new LedgerKey(Buffer.alloc(32, 1));
  const owner = 'prod/team-a/Deployment/web';
  const uid = '6c1f7f0e-0000-4000-8000-000000000001';
  const record: SyncRecord = { v: 2, paths: [{ path: 'secret/data/team-a/web', key: 'secret/team-a/web', kv: 2, ver: 4, h: key.contentTag('abc') }], config: 'cfg' };
  const stored = () => parseSyncRecord(formatSyncRecord(signRecord(key, owner, uid, record)));

  it('verifies what it signed, after the annotation round trip', () => {
    assert.equal(isAuthentic(key, owner, uid, stored()), true);
  });

  it('rejects a ledger forged, edited, copied to another resource or incarnation, or signed by another key', () => {
    const forged = parseSyncRecord('{"v":1,"paths":[{"path":"kv1/team-b/db"}]}');
    assert.equal(isAuthentic(key, owner, uid, forged), false);
    const edited = stored();
    edited.paths[0]!.ver = 5;
    assert.equal(isAuthentic(key, owner, uid, edited), false, 'a changed version');
    const retargeted = stored();
    retargeted.paths[0]!.path = 'secret/data/team-b/db';
    assert.equal(isAuthentic(key, owner, uid, retargeted), false, 'a changed path');
    assert.equal(isAuthentic(key, 'prod/team-a/Deployment/other', uid, stored()), false, 'copied to another resource');
    assert.equal(isAuthentic(key, 'prod/team-b/Deployment/web', uid, stored()), false, 'copied to another namespace');
    assert.equal(isAuthentic(key, owner, 'another-uid', stored()), false, 'left over from a deleted resource of the same name');
    assert.equal(isAuthentic(new LedgerKey(Buffer.alloc(32, 2)), owner, uid, stored()), false, 'another key');
    assert.equal(isAuthentic(key, owner, undefined, stored()), false, 'no UID');
    const unsigned = { ...stored(), v: 1 as const };
    assert.equal(isAuthentic(key, owner, uid, unsigned), false, 'an unsigned format');
  });

  it('keys content tags: equal content, equal tag; another key or content, another tag; never the plain hash', () => {
    const other = new LedgerKey(Buffer.alloc(32, 2));
    assert.equal(key.contentTag('h1'), key.contentTag('h1'));
    assert.notEqual(key.contentTag('h1'), key.contentTag('h2'));
    assert.notEqual(key.contentTag('h1'), other.contentTag('h1'));
    assert.match(key.contentTag('h1'), /^[0-9a-f]{32}$/);
    assert.notEqual(key.id, other.id);
    assert.throws(() => new LedgerKey(Buffer.alloc(8)), /too short/);
  });
});
