// Ownership of Vault secrets, recorded in KV v2 custom_metadata. Pure.
//
// Every KV v2 secret the operator writes carries:
//   managed-by      "vault-sync-operator"
//   owner           "<cluster>/<namespace>/<kind>/<name>" of the resource that writes it
//   content-hash    sha256 of the content last written (hex), and
//   synced-version  the KV version that content went into.
// The pair (content-hash, synced-version) makes "unchanged" provable from
// metadata alone: if the current version is the one we wrote and its hash is
// what we would write now, nothing needs writing. Anyone else writing a new
// version (drift) moves current_version past synced-version, so the periodic
// reconcile notices and restores it.
//
// Custom metadata is limited to 64 keys, 128-char keys and 512-char values,
// so lists (base64 keys) are split across numbered keys.

export const MANAGED_BY_VALUE = 'vault-sync-operator';
export const META_MANAGED_BY = 'managed-by';
export const META_OWNER = 'owner';
export const META_HASH = 'content-hash';
export const META_VERSION = 'synced-version';
export const META_BASE64 = 'base64-keys';
/** The UID of the writing cluster's kube-system namespace: tells apart clusters that share a Vault and a --cluster-name (or none). */
export const META_CLUSTER_ID = 'cluster-id';
const MAX_META_VALUE = 512;

export interface OwnerRef {
  cluster: string;
  namespace: string;
  kind: string;
  name: string;
}

export function ownerId(o: OwnerRef): string {
  return [o.cluster || 'default', o.namespace, o.kind, o.name].join('/'); // flat: see resources.ts, resourceKey
}

export interface ExistingSecret {
  currentVersion: number;
  /** The current version is deleted or destroyed (reading it gives 404). */
  currentDeleted: boolean;
  customMetadata: Record<string, string>;
}

export type Ownership = 'ours' | 'unowned' | 'foreign';

/**
 * Whose secret this is. Same owner id but another cluster's id is foreign:
 * two clusters without --cluster-name (or with the same one) share owner
 * ids. A marker without a cluster id (written before it was recorded, or by
 * a controller that cannot read kube-system) is judged by the owner id alone.
 */
export function ownershipOf(existing: ExistingSecret, owner: string, clusterId?: string): Ownership {
  const meta = existing.customMetadata;
  if (meta[META_MANAGED_BY] !== MANAGED_BY_VALUE) return 'unowned';
  if (meta[META_OWNER] !== owner) return 'foreign';
  const theirs = meta[META_CLUSTER_ID];
  return theirs && clusterId && theirs !== clusterId ? 'foreign' : 'ours';
}

export function currentOwner(existing: ExistingSecret): string | undefined {
  const meta = existing.customMetadata;
  return meta[META_MANAGED_BY] === MANAGED_BY_VALUE ? meta[META_OWNER] : undefined;
}

/** True when the live version is exactly the content with this hash that we wrote. */
export function isUnchanged(existing: ExistingSecret, hash: string): boolean {
  const meta = existing.customMetadata;
  return (
    !existing.currentDeleted &&
    existing.currentVersion > 0 &&
    meta[META_HASH] === hash &&
    meta[META_VERSION] === String(existing.currentVersion)
  );
}

/** Splits a key list over `base64-keys`, `base64-keys.1`, ... within the value size limit. */
export function encodeKeyList(prefix: string, keys: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  let chunk: string[] = [];
  let n = 0;
  const flush = () => {
    if (chunk.length === 0) return;
    out[n === 0 ? prefix : `${prefix}.${n}`] = chunk.join(',');
    n++;
    chunk = [];
  };
  for (const key of [...keys].sort()) {
    if ([...chunk, key].join(',').length > MAX_META_VALUE) flush();
    chunk.push(key);
  }
  flush();
  return out;
}

/** The base64 key-list entries of a custom_metadata map (all a later write needs to remember of it). */
export function keyListEntries(meta: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(meta)) if (k === META_BASE64 || k.startsWith(`${META_BASE64}.`)) out[k] = v;
  return out;
}

/**
 * The full custom_metadata for a document we wrote into `version`. Keys we
 * no longer need (a base64 list that shrank) are sent as nulls so that a
 * merge-PATCH removes them; foreign keys someone added are left alone.
 */
export function ownedMetadata(opts: { owner: string; clusterId?: string; hash: string; version: number; base64Keys: readonly string[]; previous?: Record<string, string> }): Record<string, string | null> {
  const meta: Record<string, string | null> = {
    [META_MANAGED_BY]: MANAGED_BY_VALUE,
    [META_OWNER]: opts.owner,
    ...(opts.clusterId ? { [META_CLUSTER_ID]: opts.clusterId } : {}),
    [META_HASH]: opts.hash,
    [META_VERSION]: String(opts.version),
    ...encodeKeyList(META_BASE64, opts.base64Keys),
  };
  for (const key of Object.keys(opts.previous ?? {})) {
    if ((key === META_BASE64 || key.startsWith(`${META_BASE64}.`)) && !(key in meta)) meta[key] = null;
  }
  return meta;
}
