// What a sync run leaves behind on the resource: the ledger of paths, the
// one-line message, and which status annotations change. Pure.
//
// Ledger rules (the ledger drives cleanup and, once signed, lets the writer
// skip reads, so it must never claim more than Vault holds from us):
//   - a document written or verified: its path, logical key, KV version and
//     content tag as Vault holds them now;
//   - a document whose op failed before writing anything (a preflight
//     refusal: policy, ownership, size, config): not recorded, unless an
//     earlier sync had recorded it (that older data of ours is still there);
//   - a document whose op failed after it may have written (network,
//     timeout): the earlier entry stays, or a bare entry without version
//     and tag, so cleanup still knows the path may hold our data; with the
//     data tags of the unanswered writes (`try`), so a later read can tell
//     Vault applied one of ours;
//   - a stale path (no longer desired): dropped once deleted, absent, or
//     not ours to delete (refused by ownership or policy), or when kept on
//     purpose (preserve-on-delete); kept, marked stale, while its delete
//     failed transiently or was not attempted (the run stopped early).
import { MAX_KEYS_RECORDED, STATUS_ANNOTATION, type PathRecord } from '../shared/state.ts';
import type { OpResult } from '../shared/writer.ts';

/** A planned document, reduced to what the ledger keeps (never values). */
export interface DocumentSummary {
  /** As written, cluster scoping applied. */
  path: string;
  keys: string[];
  bytes: number;
}

export function ledgerAfter(input: {
  documents: readonly DocumentSummary[];
  upserts: readonly OpResult[];
  stale: readonly PathRecord[];
  /** One result per stale path, undefined when preserved (kept on purpose), 'not-attempted' when the run stopped early. */
  deletes: readonly OpResult[] | undefined | 'not-attempted';
  previous: readonly PathRecord[];
}): PathRecord[] {
  const before = new Map(input.previous.map((p) => [p.path, p]));
  const out: PathRecord[] = [];
  input.documents.forEach((d, i) => {
    const r = input.upserts[i]!;
    const earlier = before.get(d.path);
    const display = {
      keys: d.keys.slice(0, MAX_KEYS_RECORDED),
      ...(d.keys.length > MAX_KEYS_RECORDED ? { keysTruncated: true } : {}),
      bytes: d.bytes,
      ...(r.large ? { large: true } : {}),
    };
    if (!r.error) {
      out.push({
        path: d.path,
        ...(r.path ? { key: r.path } : {}),
        ...(r.kvVersion ? { kv: r.kvVersion } : {}),
        ...(r.version !== undefined ? { ver: r.version } : {}),
        ...(r.tag ? { h: r.tag } : {}),
        ...display,
      });
      return;
    }
    if (r.error.wroteNothing) {
      if (earlier) out.push({ ...earlier, stale: undefined });
      return;
    }
    // It may have written: keep what we knew, and which data we may have sent, so it can be recognised as ours.
    const tried = r.maybeTags?.length ? { try: r.maybeTags } : {};
    out.push(earlier
      ? { ...earlier, stale: undefined, ...tried }
      : { path: d.path, ...(r.path ? { key: r.path } : {}), ...(r.kvVersion ? { kv: r.kvVersion } : {}), ...display, ...tried });
  });
  if (input.deletes === 'not-attempted') {
    for (const p of input.stale) out.push({ ...p, stale: true });
  } else if (input.deletes) {
    const deletes = input.deletes;
    input.stale.forEach((p, i) => {
      const r = deletes[i];
      if (!r || r.outcome === 'deleted' || r.outcome === 'absent' || r.error?.wroteNothing) return;
      out.push({ ...p, stale: true });
    });
  }
  return out.map(dropUndefined);
}

function dropUndefined(p: PathRecord): PathRecord {
  return Object.fromEntries(Object.entries(p).filter(([, v]) => v !== undefined)) as unknown as PathRecord;
}

export function syncMessage(documents: number, written: number, stale: number, preserved: boolean): string {
  return `${documents} document(s) in sync (${written} written, ${documents - written} unchanged)`
    + (stale ? `; ${preserved ? 'kept' : 'cleaned'} ${stale} old path(s)` : '');
}

/**
 * The status annotations to patch: only those that differ, so an unchanged
 * status costs no API call (and, on a Secret, no new resourceVersion). The
 * sync time alone is not a change; it rides along with one.
 */
export function statusChanges(current: Readonly<Record<string, string>>, desired: Readonly<Record<string, string | null>>, lastSync: string | undefined): Record<string, string | null> {
  const changes: Record<string, string | null> = {};
  for (const [k, v] of Object.entries(desired)) if ((current[k] ?? null) !== v) changes[k] = v;
  if (Object.keys(changes).length > 0 && lastSync) changes[STATUS_ANNOTATION.lastSync] = lastSync;
  return changes;
}
