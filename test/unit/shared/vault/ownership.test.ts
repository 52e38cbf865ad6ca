import assert from 'node:assert/strict';
import { encodeKeyList, isUnchanged, ownedMetadata, ownershipOf, ownerId } from '../../../../shared/vault/ownership.ts';

describe('ownership metadata', () => {
  const owner = ownerId({ cluster: 'prod', namespace: 'ns', kind: 'Deployment', name: 'web' });
  const meta = ownedMetadata({ owner, hash: 'h1', version: 3, base64Keys: ['bin'] }) as Record<string, string>;

  it('names owner and content', () => {
    assert.equal(owner, 'prod/ns/Deployment/web');
    assert.deepEqual(meta, { 'managed-by': 'vault-sync-operator', owner, 'content-hash': 'h1', 'synced-version': '3', 'base64-keys': 'bin' });
  });
  it('tells ours, foreign and unowned apart', () => {
    assert.equal(ownershipOf({ currentVersion: 3, currentDeleted: false, customMetadata: meta }, owner), 'ours');
    assert.equal(ownershipOf({ currentVersion: 3, currentDeleted: false, customMetadata: meta }, 'prod/ns/Deployment/other'), 'foreign');
    assert.equal(ownershipOf({ currentVersion: 3, currentDeleted: false, customMetadata: { team: 'x' } }, owner), 'unowned');
  });
  it('calls content unchanged only when the live version is the one we wrote with that hash', () => {
    const at = (v: number, deleted = false) => ({ currentVersion: v, currentDeleted: deleted, customMetadata: meta });
    assert.equal(isUnchanged(at(3), 'h1'), true);
    assert.equal(isUnchanged(at(3), 'h2'), false);
    assert.equal(isUnchanged(at(4), 'h1'), false, 'someone wrote after us (drift)');
    assert.equal(isUnchanged(at(3, true), 'h1'), false, 'our version was deleted');
  });
  it('splits long key lists under the 512-char value limit and reads them back', () => {
    const keys = Array.from({ length: 100 }, (_, i) => `binary-key-number-${i}`);
    const encoded = encodeKeyList('base64-keys', keys);
    assert.ok(Object.keys(encoded).length > 1);
    for (const v of Object.values(encoded)) assert.ok(v.length <= 512);
    // How a reader in Vault gets the list back: every base64-keys[.n] value, comma-split.
    const decoded = Object.entries(encoded).filter(([k]) => k === 'base64-keys' || k.startsWith('base64-keys.')).flatMap(([, v]) => v.split(','));
    assert.deepEqual(decoded.sort(), [...keys].sort());
  });
  it('removes key-list entries that are no longer needed, and leaves foreign keys alone', () => {
    const next = ownedMetadata({ owner, hash: 'h2', version: 4, base64Keys: [], previous: { ...meta, 'base64-keys.1': 'x', team: 'payments' } });
    assert.equal(next['base64-keys'], null);
    assert.equal(next['base64-keys.1'], null);
    assert.equal('team' in next, false);
  });

  it('tells clusters apart that share an owner id (no --cluster-name, or the same one)', () => {
    const mine = ownedMetadata({ owner, clusterId: 'uid-a', hash: 'h', version: 1, base64Keys: [] }) as Record<string, string>;
    assert.equal(mine['cluster-id'], 'uid-a');
    const at = { currentVersion: 1, currentDeleted: false, customMetadata: mine };
    assert.equal(ownershipOf(at, owner, 'uid-a'), 'ours');
    assert.equal(ownershipOf(at, owner, 'uid-b'), 'foreign');
    assert.equal(ownershipOf(at, owner, undefined), 'ours', 'a controller that cannot read its cluster id judges by the owner id');
    assert.equal(ownershipOf({ ...at, customMetadata: meta }, owner, 'uid-b'), 'ours', 'a marker from before cluster ids');
  });
});
