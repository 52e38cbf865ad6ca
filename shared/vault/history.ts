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
//
// History is never urgent: the reads go through the throttle's background
// lane (they only spend tokens the sync would waste), and one that has not
// started within `waitMs` answers "busy" instead of holding the request.
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
  /** How long one read may wait for the throttle's background lane (default 10 s). */
  waitMs?: number;
}

class Busy extends Error {}

function within<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Busy()), ms)));
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
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
    const body = await within(deps.client.send('read_metadata', 'GET', apiPath(logical, 'metadata'), { allow404: true, lane: 'background' }), deps.waitMs ?? 10_000);
    if (body === undefined) return { path, status: 'unavailable', versions: [], detail: 'no history: not in Vault, or not written by this resource' };
    const { currentVersion, versions, customMetadata } = versionsFromMetadata(body);
    if (ownershipOf({ currentVersion, currentDeleted: false, customMetadata }, owner) !== 'ours') {
      return { path, status: 'unavailable', versions: [], detail: 'no history: not in Vault, or not written by this resource' };
    }
    return { path, status: 'ok', currentVersion, versions };
  } catch (err) {
    if (err instanceof Busy) return { path, status: 'error', versions: [], detail: 'Vault is busy with syncs: history deferred, try again shortly' };
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
