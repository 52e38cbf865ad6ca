// The writer's decisions, table by table: what each fact allows, and what it costs.
import assert from 'node:assert/strict';
import { decideDeleteV1, decideDeleteV2, decideUpsertV1, decideUpsertV2, markerUrgency, type UpsertFacts } from '../../../shared/write-decision.ts';
import type { ExistingSecret } from '../../../shared/vault/ownership.ts';

const owner = 'c/ns/Deployment/web';
const marker = (o: string, hash: string, version: number): Record<string, string> => ({ 'managed-by': 'vault-sync-operator', owner: o, 'content-hash': hash, 'synced-version': String(version) });
const at = (version: number, meta: Record<string, string> = {}, deleted = false): ExistingSecret => ({ currentVersion: version, currentDeleted: deleted, customMetadata: meta });
const facts = (f: Partial<UpsertFacts> = {}): UpsertFacts => ({ tag: 'T', owner, force: false, verify: false, adopt: false, contested: false, stale: false, ...f });

describe('write decisions (KV v2 upsert)', () => {
  it('costs nothing for known unchanged content, one CAS write for a known path, one create for an unknown one', () => {
    assert.deepEqual(decideUpsertV2(facts({ known: { version: 3, tag: 'T' } })), { do: 'skip', version: 3 });
    assert.deepEqual(decideUpsertV2(facts({ known: { version: 3, tag: 'old' } })), { do: 'write', cas: 3, outcome: 'updated', takeover: false });
    assert.deepEqual(decideUpsertV2(facts()), { do: 'write', cas: 0, outcome: 'created', takeover: false });
  });

  it('reads first when verifying, after a CAS mismatch, on a contested path with known facts, or when a hint says the path exists', () => {
    for (const f of [{ verify: true }, { stale: true, known: { version: 1, tag: 'T' } }, { contested: true, known: { version: 1, tag: 'T' } }, { likelyExists: true }]) {
      assert.deepEqual(decideUpsertV2(facts(f)), { do: 'read' }, JSON.stringify(f));
    }
    assert.deepEqual(decideUpsertV2(facts({ contested: true })), { do: 'write', cas: 0, outcome: 'created', takeover: false }, 'cas=0 only ever creates, contested or not');
  });

  it('after the read: unchanged by marker or by known version; drift and deletes are rewritten on top', () => {
    assert.deepEqual(decideUpsertV2(facts({ existing: at(2, marker(owner, 'T', 2)) })), { do: 'skip', version: 2 });
    assert.deepEqual(decideUpsertV2(facts({ existing: at(2, marker(owner, 'T', 1)), known: { version: 2, tag: 'T' } })), { do: 'skip', version: 2 }, 'a stale marker, a known live version');
    assert.deepEqual(decideUpsertV2(facts({ existing: at(3, marker(owner, 'T', 2)) })), { do: 'write', cas: 3, outcome: 'updated', takeover: false }, 'drift');
    assert.deepEqual(decideUpsertV2(facts({ existing: at(2, marker(owner, 'T', 2), true) })), { do: 'write', cas: 2, outcome: 'updated', takeover: false }, 'deleted');
    assert.deepEqual(decideUpsertV2(facts({ existing: at(2, marker(owner, 'legacy', 2)), legacyHash: 'legacy' })), { do: 'skip', version: 2 }, 'the previous release\'s unkeyed hash');
    assert.deepEqual(decideUpsertV2(facts({ existing: 'absent' })), { do: 'write', cas: 0, outcome: 'created', takeover: false });
  });

  it('never writes over someone else\'s secret without adopt; names the owner only when the marker says who', () => {
    assert.deepEqual(decideUpsertV2(facts({ existing: at(1, marker('c/other/Deployment/x', 'X', 1)) })), { do: 'conflict', currentOwner: 'c/other/Deployment/x' });
    assert.deepEqual(decideUpsertV2(facts({ existing: at(1, marker('c/other/Deployment/x', 'X', 1)), known: { version: 1, tag: 'T' } })), { do: 'conflict', currentOwner: 'c/other/Deployment/x' }, 'a foreign marker beats what we know');
    assert.deepEqual(decideUpsertV2(facts({ existing: at(4) })), { do: 'conflict', currentOwner: undefined }, 'unmarked, several versions');
    assert.deepEqual(decideUpsertV2(facts({ existing: at(1) })), { do: 'check-data' }, 'unmarked version 1: maybe our own create');
    assert.deepEqual(decideUpsertV2(facts({ existing: at(5), maybeTags: ['D'] })), { do: 'check-data' }, 'unmarked, but an unanswered write of ours may have landed');
    assert.deepEqual(decideUpsertV2(facts({ existing: at(5), maybeTags: ['D'], contested: true })), { do: 'conflict', currentOwner: undefined });
    assert.deepEqual(decideUpsertV2(facts({ existing: at(1), contested: true })), { do: 'conflict', currentOwner: undefined }, 'not when someone else claims the path');
    assert.deepEqual(decideUpsertV2(facts({ existing: at(1, marker('c/other/Deployment/x', 'X', 1)), adopt: true })), { do: 'write', cas: 1, outcome: 'updated', takeover: true });
    assert.deepEqual(decideUpsertV2(facts({ existing: at(1), known: { version: 1, tag: 'old' } })), { do: 'write', cas: 1, outcome: 'updated', takeover: true }, 'our create whose marker is pending: claimed with the write');
  });
});

describe('write decisions (KV v2 delete, KV v1)', () => {
  it('deletes a known path with one request, reads first otherwise, and refuses what is not ours', () => {
    assert.deepEqual(decideDeleteV2({ owner, adopt: false, known: { version: 2, tag: 'T' }, contested: false }), { do: 'delete' });
    assert.deepEqual(decideDeleteV2({ owner, adopt: false, known: { version: 2, tag: 'T' }, contested: true }), { do: 'read' });
    assert.deepEqual(decideDeleteV2({ owner, adopt: false, contested: false }), { do: 'read' });
    assert.deepEqual(decideDeleteV2({ owner, adopt: false, contested: false, existing: 'absent' }), { do: 'absent' });
    assert.deepEqual(decideDeleteV2({ owner, adopt: false, contested: false, existing: at(1, marker(owner, 'T', 1)) }), { do: 'delete' });
    assert.deepEqual(decideDeleteV2({ owner, adopt: false, contested: false, existing: at(1) }), { do: 'conflict', currentOwner: undefined });
  });

  it('KV v1: content equal to what we wrote is the only proof of ownership', () => {
    assert.deepEqual(decideUpsertV1({ tag: 'T', force: false, adopt: false, contested: false, storedTag: undefined }), { do: 'write', outcome: 'created' });
    assert.deepEqual(decideUpsertV1({ tag: 'T', force: false, adopt: false, contested: false, storedTag: 'T' }), { do: 'skip' });
    assert.deepEqual(decideUpsertV1({ tag: 'T2', force: false, adopt: false, contested: false, storedTag: 'T', known: { version: 0, tag: 'T' } }), { do: 'write', outcome: 'updated' });
    assert.deepEqual(decideUpsertV1({ tag: 'T2', force: false, adopt: false, contested: false, storedTag: 'X', known: { version: 0, tag: 'T' } }), { do: 'conflict' });
    assert.deepEqual(decideUpsertV1({ tag: 'T2', force: false, adopt: false, contested: true, storedTag: 'T', known: { version: 0, tag: 'T' } }), { do: 'conflict' });
    assert.deepEqual(decideDeleteV1({ adopt: false, contested: false, storedTag: 'T', known: { version: 0, tag: 'T' } }), { do: 'delete' });
    assert.deepEqual(decideDeleteV1({ adopt: false, contested: false, storedTag: 'T' }), { do: 'conflict' }, 'a forged ledger knows nothing');
  });

  it('writes the marker at once only on a takeover or a changed base64 key list', () => {
    const desired = { ...marker(owner, 'T', 2), 'base64-keys': 'bin' };
    assert.equal(markerUrgency(desired, { ...marker(owner, 'old', 1), 'base64-keys': 'bin' }, false), 'background');
    assert.equal(markerUrgency(desired, marker(owner, 'old', 1), false), 'now');
    assert.equal(markerUrgency(desired, desired, false), 'none');
    assert.equal(markerUrgency(marker(owner, 'T', 2), {}, true), 'now');
    assert.equal(markerUrgency(marker(owner, 'T', 1), {}, false), 'background', 'our own create: the marker can wait');
  });
});
