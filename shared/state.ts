// The sync state the controller records on each resource (as annotations)
// and serves on /state, and that the VS Code extension renders. Pure.
//
// Annotations written by the controller:
//   vault-sync.io/status           Synced | Failed
//   vault-sync.io/last-sync        RFC 3339 time of the last successful sync
//   vault-sync.io/message          one line for people (never a value)
//   vault-sync.io/large-secret     "true" while a document is over the threshold
//   vault-sync.io/secret-versions  {"secret":"resourceVersion"}, the Go operator's format
//   vault-sync.io/sync-state       JSON SyncRecord: the ledger of paths written
//                                  (cleanup reads it), key names, sizes, and
//                                  the fingerprints that make skips provable
// None of them carries a value or a hash of values, except `content` in
// Secret mode, which sits on the Secret itself: whoever can read it can read
// the data too.

export const STATUS_ANNOTATION = {
  status: 'vault-sync.io/status',
  lastSync: 'vault-sync.io/last-sync',
  message: 'vault-sync.io/message',
  largeSecret: 'vault-sync.io/large-secret',
  secretVersions: 'vault-sync.io/secret-versions',
  syncState: 'vault-sync.io/sync-state',
} as const;

export const FINALIZER = 'vault-sync.io/finalizer';

export type SyncStatus = 'Synced' | 'Failed';

/** One Vault document a resource wrote (or is waiting to clean up). */
export interface PathRecord {
  /** As written in the annotation, with cluster scoping applied ("secret/data/web/db"). */
  path: string;
  kv?: 1 | 2;
  /** Key names, never values (capped at MAX_KEYS_RECORDED). */
  keys?: string[];
  keysTruncated?: boolean;
  bytes?: number;
  large?: boolean;
  /** No longer desired: still in Vault, waiting for cleanup. */
  stale?: boolean;
}

export interface SyncRecord {
  v: 1;
  paths: PathRecord[];
  /** preserve-on-delete as of the last sync (used if the annotation is later removed). */
  preserve?: boolean;
  /** Fingerprint of the configuration (annotations + discovered references), not of data. */
  config?: string;
  /** Secret mode only: sha256 of the Secret's own data. */
  content?: string;
  /** Last vault-sync.io/resync-requested-at value acted on. */
  resync?: string;
  /** Event reason of the last failure, for tools (InvalidConfig, PathDenied, ...). */
  reason?: string;
}

export const MAX_KEYS_RECORDED = 100;

export function parseSyncRecord(raw: string | undefined): SyncRecord {
  if (!raw) return { v: 1, paths: [] };
  try {
    const parsed = JSON.parse(raw) as Partial<SyncRecord>;
    if (!Array.isArray(parsed.paths)) return { v: 1, paths: [] };
    return {
      ...parsed,
      v: 1,
      paths: parsed.paths.filter((p): p is PathRecord => typeof p?.path === 'string'),
    };
  } catch {
    return { v: 1, paths: [] };
  }
}

export function parseSecretVersions(raw: string | undefined): Record<string, string> {
  if (!raw) return {};
  try {
    const parsed = JSON.parse(raw);
    return parsed && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Record<string, string>) : {};
  } catch {
    return {};
  }
}

/** Go's json.Marshal of a map: keys sorted bytewise, compact. Built by hand:
 * JavaScript objects list integer-like keys ("9", "10") in numeric order. */
export function formatSecretVersions(versions: Record<string, string>): string {
  const entries = Object.entries(versions).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(',')}}`;
}

/** What a tool needs to show one resource, read from its annotations. */
export interface ResourceState {
  kind: 'Deployment' | 'Secret';
  namespace: string;
  name: string;
  /** Pending: managed, but not synced since the last change or resync request. */
  status: SyncStatus | 'Pending';
  message?: string;
  reason?: string;
  lastSync?: string;
  large: boolean;
  paths: PathRecord[];
  vaultPath?: string;
}

export function readResourceState(kind: ResourceState['kind'], namespace: string, name: string, annotations: Record<string, string> | undefined): ResourceState {
  const a = annotations ?? {};
  const record = parseSyncRecord(a[STATUS_ANNOTATION.syncState]);
  const status = a[STATUS_ANNOTATION.status];
  // Trimmed, and empty means none: exactly what the annotation parser hands the reconciler.
  const resyncRequested = a['vault-sync.io/resync-requested-at']?.trim() || undefined;
  const pending = status === undefined || (resyncRequested !== undefined && resyncRequested !== record.resync);
  return {
    kind, namespace, name,
    status: pending ? 'Pending' : status === 'Failed' ? 'Failed' : 'Synced',
    message: a[STATUS_ANNOTATION.message],
    reason: record.reason,
    lastSync: a[STATUS_ANNOTATION.lastSync],
    large: a[STATUS_ANNOTATION.largeSecret] === 'true',
    paths: record.paths.filter((p) => !p.stale),
    vaultPath: a['vault-sync.io/path'],
  };
}
