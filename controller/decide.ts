// Whether a reconcile has to touch Vault at all. Pure.
//
// A sync is skipped, at zero Vault calls and zero Secret reads, when the
// configuration fingerprint and every referenced Secret's resourceVersion
// match what the last successful sync recorded, no manual resync is pending,
// no periodic verification is due and rotation checks are on. Our own status
// annotations never feed the fingerprint, so writing them cannot cause
// another sync (the Go operator's Secret-mode loop).
import { createHash } from 'node:crypto';
import type { SyncSpec } from '../shared/annotations.ts';
import { discoverSecretReferences, type PodSpecLike } from '../shared/discovery.ts';
import type { ResourceKind } from '../shared/resources.ts';

export type SyncReason =
  | 'first-sync' | 'config-changed' | 'secret-changed' | 'resync-requested' | 'periodic' | 'rotation-check-disabled' | 'retry'
  | 'unrecorded-write';

export type Decision =
  | { sync: false }
  | {
      sync: true;
      reason: SyncReason;
      /** Write even when Vault already holds this content. */
      force: boolean;
      /** Check Vault itself (restore deleted or drifted data), not this process's memory. */
      verify: boolean;
    };

export interface DecisionInput {
  /** The resource has been synced successfully before (recorded fingerprints exist). */
  synced: boolean;
  /** The last attempt failed with a retryable error. */
  lastFailedRetryable: boolean;
  recordedConfig: string | undefined;
  config: string;
  recordedVersions: Record<string, string>;
  /** resourceVersion of each Secret the sync reads; undefined when it does not exist. */
  currentVersions: Record<string, string | undefined>;
  rotationCheck: boolean;
  resyncRequested: boolean;
  periodicDue: boolean;
  /** The intent journal holds writes of this resource to new paths that its ledger does not record yet. */
  journaled?: boolean;
}

function versionsDiffer(recorded: Record<string, string>, current: Record<string, string | undefined>): boolean {
  const names = new Set([...Object.keys(recorded), ...Object.keys(current)]);
  for (const name of names) if (recorded[name] !== current[name]) return true;
  return false;
}

export function decideSync(i: DecisionInput): Decision {
  const verify = i.periodicDue;
  if (i.resyncRequested) return { sync: true, reason: 'resync-requested', force: true, verify: true };
  if (!i.rotationCheck) return { sync: true, reason: 'rotation-check-disabled', force: true, verify };
  if (!i.synced) return { sync: true, reason: i.lastFailedRetryable ? 'retry' : 'first-sync', force: false, verify };
  if (i.journaled) return { sync: true, reason: 'unrecorded-write', force: false, verify };
  if (i.recordedConfig !== i.config) return { sync: true, reason: 'config-changed', force: false, verify };
  if (versionsDiffer(i.recordedVersions, i.currentVersions)) return { sync: true, reason: 'secret-changed', force: false, verify };
  if (i.periodicDue) return { sync: true, reason: 'periodic', force: false, verify: true };
  return { sync: false };
}

/**
 * Fingerprint of everything that shapes the plan except Secret contents:
 * path, selections, cluster, mode, and (auto-discovery) which Secrets and
 * keys the pod template references. Not secret: it hashes names only.
 */
export function configFingerprint(kind: ResourceKind, spec: SyncSpec, cluster: string, podSpec: PodSpecLike | undefined): string {
  const refs = kind === 'Deployment' && !spec.secrets
    ? [...discoverSecretReferences(podSpec).values()].map((r) => [r.name, r.optional, [...r.requiredKeys].sort()]).sort()
    : undefined;
  const shape = { kind, path: spec.path.segments, secrets: spec.secrets, cluster, refs, adopt: spec.adopt };
  return createHash('sha256').update(JSON.stringify(shape)).digest('hex').slice(0, 16);
}

/** sha256 of a Secret's data (Secret mode only: the record lives on that same Secret). */
export function contentFingerprint(data: Record<string, string> | undefined): string {
  const hash = createHash('sha256');
  for (const [k, v] of Object.entries(data ?? {}).sort(([a], [b]) => (a < b ? -1 : 1))) hash.update(`${k.length}:${k}=${v.length}:${v};`);
  return hash.digest('hex').slice(0, 32);
}
