// The KV v2 version history of the paths one resource wrote: version
// numbers, creation and deletion times, destroyed flags. Metadata only: the
// read is `GET <mount>/metadata/<path>`, which carries no secret data, and
// only numbers and times leave this module (never custom_metadata, whose
// content-hash would let a reader confirm guesses of a value).
//
// Only paths that pass the controller's path policy for the resource's own
// namespace are read, and a secret not owned by that resource answers
// exactly like a missing one ("unavailable"). The ledger a path comes from
// is writable by whoever can edit the resource, so this is what keeps the
// endpoint from being an existence or ownership oracle for other tenants.
import type { PathHistoryWire, VersionWire } from '../contract/state.ts';
import { isSyncError } from '../errors.ts';
import { apiPath, checkLogicalPath, checkWrittenPath, parseVaultPath, toLogical, type MountInfo, type PathPolicy, type PolicyContext, type VaultPath } from '../paths.ts';
import type { VaultClient } from './client.ts';
import { ownershipOf, ownerId } from './ownership.ts';

/** The most paths one history request reads (each is one Vault request through the throttle). */
export const MAX_HISTORY_PATHS = 20;

/** Pure: the versions of a KV v2 metadata response, newest first. */
export function versionsFromMetadata(body: any): { currentVersion: number; versions: VersionWire[]; customMetadata: Record<string, string> } {
  const data = body?.data ?? {};
  const versions: VersionWire[] = Object.entries<any>(data.versions ?? {})
    .map(([n, v]) => ({
      version: Number(n),
      ...(v?.created_time ? { createdTime: String(v.created_time) } : {}),
      // Vault sends "" for a version that was never deleted.
      ...(v?.deletion_time ? { deletionTime: String(v.deletion_time) } : {}),
      destroyed: Boolean(v?.destroyed),
    }))
    .filter((v) => Number.isInteger(v.version) && v.version > 0)
    .sort((a, b) => b.version - a.version);
  return { currentVersion: Number(data.current_version ?? 0), versions, customMetadata: { ...(data.custom_metadata ?? {}) } };
}

export interface HistoryDeps {
  client: Pick<VaultClient, 'send'>;
  resolveMount: (path: VaultPath, resource: string) => Promise<MountInfo>;
  policy: PathPolicy;
}

export async function readPathHistory(deps: HistoryDeps, resource: PolicyContext & { label: string }, path: string): Promise<PathHistoryWire> {
  const owner = ownerId(resource);
  try {
    const written = parseVaultPath(path, resource.label);
    checkWrittenPath(deps.policy, written, resource, resource.label);
    const mount = await deps.resolveMount(written, resource.label);
    const logical = toLogical(written, mount, resource.label);
    checkLogicalPath(deps.policy, logical, resource, resource.label);
    if (logical.kvVersion === 1) return { path, status: 'kv1', versions: [], detail: 'KV v1 keeps no versions' };
    const body = await deps.client.send('read_metadata', 'GET', apiPath(logical, 'metadata'), { allow404: true });
    if (body === undefined) return { path, status: 'unavailable', versions: [], detail: 'no history: not in Vault, or not written by this resource' };
    const { currentVersion, versions, customMetadata } = versionsFromMetadata(body);
    if (ownershipOf({ currentVersion, currentDeleted: false, customMetadata }, owner) !== 'ours') {
      return { path, status: 'unavailable', versions: [], detail: 'no history: not in Vault, or not written by this resource' };
    }
    return { path, status: 'ok', currentVersion, versions };
  } catch (err) {
    if (isSyncError(err) && err.reason === 'PathDenied') return { path, status: 'denied', versions: [], detail: 'outside the controller\'s path policy for this namespace' };
    // Typed errors carry no values; anything else is summarised, never echoed.
    return { path, status: 'error', versions: [], detail: isSyncError(err) ? err.reason : 'the history read failed' };
  }
}

/** Reads the history of up to MAX_HISTORY_PATHS paths, one after another (history is never urgent). */
export async function readHistory(deps: HistoryDeps, resource: PolicyContext & { label: string }, paths: readonly string[]): Promise<PathHistoryWire[]> {
  const out: PathHistoryWire[] = [];
  for (const path of paths.slice(0, MAX_HISTORY_PATHS)) out.push(await readPathHistory(deps, resource, path));
  return out;
}
