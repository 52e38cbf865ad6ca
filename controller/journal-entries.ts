// The intent journal's entries: what one is, how it is stored in the journal
// ConfigMap, and how a stored one is checked. Pure (node:crypto only).
//
// An entry says: resource R (its queue key, owner id and UID) was about to
// write data with these tags to Vault path P, at a path its signed ledger
// did not know yet. It bridges the one window in which a write to a new path
// can land in Vault with nothing on the Kubernetes side saying so: between
// the write and R's ledger patch (see intent-journal.ts).
//
// Contract:
//   - `entryId(owner, path)` is the ConfigMap data key: one entry per owner
//     and path, a valid key (hex) of fixed length whatever the path.
//   - `encodeEntry` signs an entry under the controller's key; `decodeEntry`
//     returns it only when the text parses, every field has its type and the
//     MAC verifies for exactly these fields; anything else is undefined
//     (a forged or damaged entry grants nothing, like a ledger).
import { createHash } from 'node:crypto';
import type { LedgerKey } from '../shared/ledger.ts';

export interface JournalEntry {
  /** The resource's queue key, "Kind/namespace/name". */
  resource: string;
  /** Its owner id (ownership markers, ownerId()). */
  owner: string;
  uid: string;
  /** The Vault path as written (formatPath). */
  path: string;
  /** Data tags of the writes that may land there (writer.keptMaybeTags keeps the list short). */
  tags: string[];
}

export function entryId(owner: string, path: string): string {
  return `i-${createHash('sha256').update(owner).update('\n').update(path).digest('hex').slice(0, 32)}`;
}

function canonical(e: JournalEntry): string {
  return JSON.stringify([e.resource, e.owner, e.uid, e.path, e.tags]);
}

export function encodeEntry(key: LedgerKey, e: JournalEntry): string {
  return JSON.stringify({ r: e.resource, o: e.owner, u: e.uid, p: e.path, t: e.tags, m: key.journalMac(canonical(e)) });
}

export function decodeEntry(key: LedgerKey, id: string, text: string): JournalEntry | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof raw !== 'object' || raw === null) return undefined;
  const { r, o, u, p, t, m } = raw as Record<string, unknown>;
  if (typeof r !== 'string' || typeof o !== 'string' || typeof u !== 'string' || typeof p !== 'string') return undefined;
  if (!Array.isArray(t) || t.length === 0 || !t.every((x) => typeof x === 'string')) return undefined;
  const entry: JournalEntry = { resource: r, owner: o, uid: u, path: p, tags: t as string[] };
  if (entryId(o, p) !== id || !key.verifyJournal(canonical(entry), m)) return undefined;
  return entry;
}
