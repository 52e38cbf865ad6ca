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
// None of them carries a value or an unkeyed hash of values: content tags
// are HMACs under the controller's key (see ledger.ts). The ledger is
// parsed into known scalar fields only (a hostile annotation can hold deep
// or huge JSON), and is trusted only when its MAC verifies.
import { ANNOTATION, resyncRequestOf } from './annotations.ts';
import { isFailureEventReason, type FailureEventReason } from './errors.ts';
import type { ResourceKind } from './resources.ts';

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
  /** The logical path once the mount was resolved ("secret/web/db"): the key claims are indexed by. */
  key?: string;
  kv?: 1 | 2;
  /** KV v2 version the controller wrote last (authenticated by the record's MAC). */
  ver?: number;
  /** Content tag of what the controller wrote last (ledger.ts: keyed, never the content's hash). */
  h?: string;
  /** Data tags of writes sent but never answered (a timeout): Vault may hold one of them, and it is ours. */
  try?: string[];
  /** Key names, never values (capped at MAX_KEYS_RECORDED). */
  keys?: string[];
  keysTruncated?: boolean;
  bytes?: number;
  large?: boolean;
  /** No longer desired: still in Vault, waiting for cleanup. */
  stale?: boolean;
}

export interface SyncRecord {
  /** 2 = authenticated ledger; 1 = written before ledgers were signed (read, never trusted). */
  v: 1 | 2;
  paths: PathRecord[];
  /** preserve-on-delete as of the last sync (used if the annotation is later removed). */
  preserve?: boolean;
  /** Fingerprint of the configuration (annotations + discovered references), not of data. */
  config?: string;
  /** Secret mode only: content tag of the Secret's own data. */
  content?: string;
  /** Last vault-sync.io/resync-requested-at value acted on. */
  resync?: string;
  /** Event reason of the last failure, for tools (InvalidConfig, PathDenied, ...). */
  reason?: FailureEventReason;
  /** MAC over everything above under the controller's key, bound to owner and UID (ledger.ts). */
  mac?: string;
}

export const MAX_KEYS_RECORDED = 100;
/** More than this many paths in one ledger is not something the controller writes: the rest is ignored. */
export const MAX_PATHS_RECORDED = 500;
const MAX_TEXT = 1024;

const text = (v: unknown, max = MAX_TEXT): string | undefined => (typeof v === 'string' && v.length <= max ? v : undefined);
const int = (v: unknown): number | undefined => (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : undefined);
const flag = (v: unknown): true | undefined => (v === true ? true : undefined);

/** Keeps only the known scalar fields of one path entry, in a fixed order (a hostile ledger cannot smuggle in anything else). */
function sanitizePath(p: any): PathRecord | undefined {
  const path = text(p?.path);
  if (!path) return undefined;
  const kv = p.kv === 1 || p.kv === 2 ? (p.kv as 1 | 2) : undefined;
  const keys = Array.isArray(p.keys) ? p.keys.filter((k: unknown): k is string => typeof k === 'string' && k.length <= 253).slice(0, MAX_KEYS_RECORDED) : undefined;
  const out: PathRecord = { path };
  const key = text(p.key);
  if (key) out.key = key;
  if (kv) out.kv = kv;
  const ver = int(p.ver);
  if (ver !== undefined) out.ver = ver;
  const h = text(p.h, 64);
  if (h) out.h = h;
  if (Array.isArray(p.try)) {
    const tags = p.try.filter((t: unknown): t is string => typeof t === 'string' && t.length <= 64).slice(0, 4);
    if (tags.length) out.try = tags;
  }
  if (keys) out.keys = keys;
  if (flag(p.keysTruncated)) out.keysTruncated = true;
  const bytes = int(p.bytes);
  if (bytes !== undefined) out.bytes = bytes;
  if (flag(p.large)) out.large = true;
  if (flag(p.stale)) out.stale = true;
  return out;
}

/** The record with only known fields, in the one order MACs are computed over. */
export function sanitizeRecord(parsed: any): SyncRecord {
  if (!parsed || typeof parsed !== 'object' || !Array.isArray(parsed.paths)) return { v: 1, paths: [] };
  const out: SyncRecord = {
    v: parsed.v === 2 ? 2 : 1,
    paths: parsed.paths.slice(0, MAX_PATHS_RECORDED).map(sanitizePath).filter((p: PathRecord | undefined): p is PathRecord => p !== undefined),
  };
  if (typeof parsed.preserve === 'boolean') out.preserve = parsed.preserve;
  for (const field of ['config', 'content', 'resync'] as const) {
    const value = text(parsed[field]);
    if (value !== undefined) out[field] = value;
  }
  if (isFailureEventReason(parsed.reason)) out.reason = parsed.reason;
  const mac = text(parsed.mac, 64);
  if (mac) out.mac = mac;
  return out;
}

export function parseSyncRecord(raw: string | undefined): SyncRecord {
  if (!raw) return { v: 1, paths: [] };
  try {
    return sanitizeRecord(JSON.parse(raw));
  } catch {
    return { v: 1, paths: [] };
  }
}

/** The text a record's MAC covers: every field but the MAC, sanitized, in fixed order. */
export function canonicalRecord(record: SyncRecord): string {
  const { mac: _mac, ...rest } = sanitizeRecord(record);
  return JSON.stringify(rest);
}

/** Serialises a record for the annotation (fixed field order, MAC last). */
export function formatSyncRecord(record: SyncRecord): string {
  const clean = sanitizeRecord(record);
  return JSON.stringify(clean);
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
  kind: ResourceKind;
  namespace: string;
  name: string;
  /** Pending: managed, but not synced since the last change or resync request. */
  status: SyncStatus | 'Pending';
  message?: string;
  reason?: FailureEventReason;
  lastSync?: string;
  large: boolean;
  paths: PathRecord[];
  vaultPath?: string;
}

export function readResourceState(kind: ResourceState['kind'], namespace: string, name: string, annotations: Record<string, string> | undefined): ResourceState {
  const a = annotations ?? {};
  const record = parseSyncRecord(a[STATUS_ANNOTATION.syncState]);
  const status = a[STATUS_ANNOTATION.status];
  // The same reading the annotation parser hands the reconciler.
  const resyncRequested = resyncRequestOf(a);
  const pending = status === undefined || (resyncRequested !== undefined && resyncRequested !== record.resync);
  return {
    kind, namespace, name,
    status: pending ? 'Pending' : status === 'Failed' ? 'Failed' : 'Synced',
    message: a[STATUS_ANNOTATION.message],
    reason: record.reason,
    lastSync: a[STATUS_ANNOTATION.lastSync],
    large: a[STATUS_ANNOTATION.largeSecret] === 'true',
    paths: record.paths.filter((p) => !p.stale),
    vaultPath: a[ANNOTATION.path],
  };
}
