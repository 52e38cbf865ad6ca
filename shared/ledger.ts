// The controller's key, and what it authenticates. Pure (node:crypto only).
//
// The ledger annotation (vault-sync.io/sync-state) sits on a resource that
// anyone who can edit the resource can rewrite. It records, per path, the
// KV version the controller wrote and a tag of the content, and the
// controller relies on both to skip a read on the critical path. So every
// ledger the controller writes carries a MAC under a key only the controller
// holds (a Secret in its own namespace), bound to the resource's owner id and
// UID: a ledger copied from another resource, forged, or left over from a
// deleted resource of the same name does not verify, and an unverified
// ledger grants nothing (the writer then re-reads Vault).
//
// Content tags: the unkeyed sha256 of a payload (payload.ts) never leaves the
// process. What is stored (ledger `h`, Vault custom_metadata content-hash) is
// HMAC(key, sha256), so someone who can read metadata cannot confirm a
// guessed value offline.
import { createHash, createHmac, createSecretKey, randomBytes, timingSafeEqual, type KeyObject } from 'node:crypto';
import { canonicalRecord, sanitizeRecord, type SyncRecord } from './state.ts';

/** Bytes of a fresh key. */
export const LEDGER_KEY_BYTES = 32;
/** Hex characters kept of tags and MACs (128 bits). */
const TAG_HEX = 32;

export class LedgerKey {
  // A KeyObject, imported once: createHmac with a raw Buffer re-imports the key on every call (measured).
  readonly #key: KeyObject;
  /** Short public id of the key (which key signed a ledger), never the key. */
  readonly id: string;

  constructor(key: Uint8Array) {
    if (key.length < 16) throw new Error(`ledger key too short: ${key.length} bytes, need at least 16`);
    this.#key = createSecretKey(Buffer.from(key));
    this.id = createHash('sha256').update('vault-sync ledger key id|').update(key).digest('hex').slice(0, 8);
  }

  /** A random key for one process (tests, tools): nothing it signs survives a restart. */
  static ephemeral(): LedgerKey {
    return new LedgerKey(randomBytes(LEDGER_KEY_BYTES));
  }

  /** The stored tag of a payload's internal hash. */
  contentTag(hash: string): string {
    return this.#mac('content', hash);
  }

  /** MAC of a ledger's canonical text for one resource incarnation. */
  ledgerMac(owner: string, uid: string, canonical: string): string {
    return this.#mac('ledger/2', `${owner}|${uid}|${canonical}`);
  }

  verifyLedger(owner: string, uid: string, canonical: string, mac: string | undefined): boolean {
    if (typeof mac !== 'string' || mac.length !== TAG_HEX) return false;
    const expected = Buffer.from(this.ledgerMac(owner, uid, canonical), 'utf8');
    const given = Buffer.from(mac, 'utf8');
    return given.length === expected.length && timingSafeEqual(given, expected);
  }

  /** MAC of one intent-journal entry's canonical text (controller/journal-entries.ts). */
  journalMac(canonical: string): string {
    return this.#mac('journal/1', canonical);
  }

  verifyJournal(canonical: string, mac: unknown): boolean {
    if (typeof mac !== 'string' || mac.length !== TAG_HEX) return false;
    return timingSafeEqual(Buffer.from(this.journalMac(canonical), 'utf8'), Buffer.from(mac, 'utf8'));
  }

  #mac(domain: string, text: string): string {
    return createHmac('sha256', this.#key).update(`${domain}\n`).update(text).digest('hex').slice(0, TAG_HEX);
  }
}

/** The record as the controller writes it: version 2, sanitized, MAC'd for this owner and incarnation. */
export function signRecord(key: LedgerKey, owner: string, uid: string, record: SyncRecord): SyncRecord {
  const clean: SyncRecord = { ...sanitizeRecord({ ...record, v: 2 }) };
  delete clean.mac;
  return { ...clean, mac: key.ledgerMac(owner, uid, canonicalRecord(clean)) };
}

/** True only for a version-2 record whose MAC verifies for this owner and incarnation. */
export function isAuthentic(key: LedgerKey, owner: string, uid: string | undefined, record: SyncRecord): boolean {
  return record.v === 2 && uid !== undefined && uid !== '' && key.verifyLedger(owner, uid, canonicalRecord(record), record.mac);
}
