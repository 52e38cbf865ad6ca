// What the writer does next for one op, given what it knows. Pure.
//
// Inputs are facts, never guesses:
//   known      what the controller itself wrote last at this path (version
//              and content tag), from this process's memory or from the
//              resource's ledger when its MAC verified. Undefined otherwise.
//   contested  another tracked resource claims the same path (its annotation
//              targets it, or its authenticated ledger lists it). Then
//              `known` is not enough: a replayed old ledger must not let one
//              resource write over, or delete, another's secret. Vault's own
//              marker decides instead.
//   existing   the path's metadata, once read ('absent' = 404); undefined
//              when not read yet.
//
// The steps, KV v2 (each costs the requests in brackets):
//   skip     [0]  content unchanged and known, or verified unchanged
//   write    [1]  check-and-set on the version we know (or 0 to create); a
//                 CAS mismatch means someone else wrote: read, decide again
//   read     [1]  metadata (no data crosses the wire)
//   check-data [1]  an unmarked path that may hold our write: our create
//                 whose bookkeeping never happened (a crash), or a write
//                 that timed out and that Vault applied later: read the data
//                 and compare it with what we sent
//   conflict [0]  someone else's secret: never overwritten without adopt
// KV v1 has neither CAS nor metadata: every op reads the data first, and
// only content equal to our known tag proves a path ours.
import type { ExistingSecret } from './vault/ownership.ts';
import { ownershipOf, isUnchanged } from './vault/ownership.ts';

export interface Known {
  version: number;
  tag: string;
}

export interface UpsertFacts {
  tag: string;
  owner: string;
  /** This cluster's id (kube-system UID), when known. */
  clusterId?: string;
  force: boolean;
  verify: boolean;
  adopt: boolean;
  known?: Known;
  contested: boolean;
  /** A CAS mismatch happened on this op: what we knew is out of date, read first. */
  stale: boolean;
  /** An unauthenticated hint (a ledger from before ledgers were signed) says the path exists: read before writing. */
  likelyExists?: boolean;
  /** The unkeyed content hash the previous release stored as content-hash: equal means unchanged too. */
  legacyHash?: string;
  /** Data tags of writes we sent that may have been applied without an answer (timeouts). */
  maybeTags?: readonly string[];
  existing?: ExistingSecret | 'absent';
}

export type UpsertStep =
  | { do: 'skip'; version?: number }
  | { do: 'write'; cas: number; outcome: 'created' | 'updated'; takeover: boolean }
  | { do: 'read' }
  | { do: 'check-data' }
  | { do: 'conflict'; currentOwner?: string };

/** An unmarked, live, uncontested path that our own unanswered write (or interrupted create) may have produced. */
function mayHoldOurData(marker: string, existing: ExistingSecret, contested: boolean, maybeTags: readonly string[] | undefined): boolean {
  return marker === 'unowned' && !contested && !existing.currentDeleted && (existing.currentVersion === 1 || (maybeTags?.length ?? 0) > 0);
}

/** The known facts may stand in for Vault's marker only when nobody else claims the path. */
function trustKnown(f: { known?: Known; contested: boolean; stale: boolean }): Known | undefined {
  return f.known && !f.contested && !f.stale ? f.known : undefined;
}

export function decideUpsertV2(f: UpsertFacts): UpsertStep {
  const known = trustKnown(f);
  if (f.existing === undefined) {
    if (known && !f.verify && !f.force && known.tag === f.tag) return { do: 'skip', version: known.version };
    if (f.verify || f.stale || (f.known && f.contested) || (!known && f.likelyExists)) return { do: 'read' };
    // Ours and current as far as we know: write on top; CAS catches anyone in between.
    if (known) return { do: 'write', cas: known.version, outcome: 'updated', takeover: false };
    // Nothing known: most new paths do not exist yet, and cas=0 only ever creates.
    return { do: 'write', cas: 0, outcome: 'created', takeover: false };
  }
  if (f.existing === 'absent') return { do: 'write', cas: 0, outcome: 'created', takeover: false };
  const existing = f.existing;
  const marker = ownershipOf(existing, f.owner, f.clusterId);
  // Our marker, or our own create whose marker is still pending (known, uncontested, unmarked).
  const ours = marker === 'ours' || (known !== undefined && marker === 'unowned');
  if (!ours && !f.adopt) {
    if (mayHoldOurData(marker, existing, f.contested, f.maybeTags)) return { do: 'check-data' };
    return { do: 'conflict', currentOwner: marker === 'foreign' ? existing.customMetadata.owner : undefined };
  }
  const liveIsKnown = known !== undefined && known.version === existing.currentVersion && !existing.currentDeleted;
  // Unchanged when the marker proves it, or when the live version is the one we know we wrote with this
  // content (the marker may still be on its way, or stale after a restart that dropped it).
  const unchanged = (marker === 'ours' && (isUnchanged(existing, f.tag) || (f.legacyHash !== undefined && isUnchanged(existing, f.legacyHash))))
    || (liveIsKnown && known!.tag === f.tag);
  if (!f.force && unchanged) return { do: 'skip', version: existing.currentVersion };
  return { do: 'write', cas: existing.currentVersion, outcome: 'updated', takeover: marker !== 'ours' };
}

export interface DeleteFacts {
  owner: string;
  clusterId?: string;
  adopt: boolean;
  known?: Known;
  contested: boolean;
  maybeTags?: readonly string[];
  existing?: ExistingSecret | 'absent';
}

export type DeleteStep = { do: 'delete' } | { do: 'read' } | { do: 'absent' } | { do: 'check-data' } | { do: 'conflict'; currentOwner?: string };

export function decideDeleteV2(f: DeleteFacts): DeleteStep {
  const known = trustKnown({ ...f, stale: false });
  if (f.existing === undefined) return known ? { do: 'delete' } : { do: 'read' };
  if (f.existing === 'absent') return { do: 'absent' };
  const marker = ownershipOf(f.existing, f.owner, f.clusterId);
  if (marker === 'ours' || f.adopt) return { do: 'delete' };
  if ((f.maybeTags?.length ?? 0) > 0 && mayHoldOurData(marker, f.existing, f.contested, f.maybeTags)) return { do: 'check-data' };
  return { do: 'conflict', currentOwner: marker === 'foreign' ? f.existing.customMetadata.owner : undefined };
}

export interface V1Facts {
  tag: string;
  force: boolean;
  adopt: boolean;
  known?: Known;
  contested: boolean;
  /** Tag of the data stored now; undefined when the path is absent. */
  storedTag: string | undefined;
  /** Tags of writes we sent that may have been applied without an answer. */
  maybeTags?: readonly string[];
}

/** KV v1: the stored content is what we last wrote, or what an unanswered write of ours sent. */
function v1Ours(f: Omit<V1Facts, 'tag' | 'force'>): boolean {
  return !f.contested && f.storedTag !== undefined && (f.known?.tag === f.storedTag || (f.maybeTags ?? []).includes(f.storedTag));
}

export type V1UpsertStep = { do: 'skip' } | { do: 'write'; outcome: 'created' | 'updated' } | { do: 'conflict' };

/** KV v1 (after the read): content equal to what we last wrote is the only proof of ownership. */
export function decideUpsertV1(f: V1Facts): V1UpsertStep {
  if (f.storedTag === undefined) return { do: 'write', outcome: 'created' };
  if (!f.force && f.storedTag === f.tag) return { do: 'skip' };
  return v1Ours(f) || f.adopt ? { do: 'write', outcome: 'updated' } : { do: 'conflict' };
}

export type V1DeleteStep = { do: 'delete' } | { do: 'absent' } | { do: 'conflict' };

export function decideDeleteV1(f: Omit<V1Facts, 'tag' | 'force'>): V1DeleteStep {
  if (f.storedTag === undefined) return { do: 'absent' };
  return v1Ours(f) || f.adopt ? { do: 'delete' } : { do: 'conflict' };
}

/**
 * After a write, whether the ownership marker must be written now (on the
 * critical path) or may wait for spare throttle budget. Now: when taking a
 * path over (adopt, or our interrupted create), or when the list of
 * base64-encoded keys changes, since readers need it to decode values.
 * Otherwise only content-hash and synced-version are stale, which costs at
 * most a redundant write after a restart without a trusted ledger.
 */
export function markerUrgency(desired: Record<string, string | null>, current: Record<string, string>, takeover: boolean): 'now' | 'background' | 'none' {
  let stale = false;
  for (const [k, v] of Object.entries(desired)) {
    if ((current[k] ?? null) === v) continue;
    if (k === 'base64-keys' || k.startsWith('base64-keys.')) return 'now';
    stale = true;
  }
  if (takeover) return 'now';
  return stale ? 'background' : 'none';
}
