// Which tracked resource claims which Vault path.
//
// The writer may rely on what a resource's own authenticated ledger says it
// wrote (version and content tag) only while no other resource claims the
// same path; otherwise a replayed old ledger could let one resource write
// over, or delete, a secret that has since become another's. The watch
// already sees every tracked resource's annotations, so the index costs no
// API call and no Vault request.
//
// A resource claims: every logical reading of the paths its annotations
// target (see paths.logicalCandidates; over-approximating is safe, it only
// makes the writer read Vault first), and the paths its authenticated ledger
// lists. An unauthenticated ledger claims nothing: a forged one must not be
// able to make every other tenant's operations more expensive.
//
// `resourceClaims` is pure; `ClaimIndex` is the in-memory index.
import { parseSyncAnnotations } from '../shared/annotations.ts';
import { isAuthentic, type LedgerKey } from '../shared/ledger.ts';
import { logicalCandidates, parseVaultPath, type VaultPath } from '../shared/paths.ts';
import { plannedPaths } from '../shared/plan.ts';
import { parseSyncRecord, STATUS_ANNOTATION } from '../shared/state.ts';
import { ownerId } from '../shared/vault/ownership.ts';
import { resourceLabel, type DeploymentView, type ResourceKind, type ResourceView } from '../shared/resources.ts';

export function resourceClaims(kind: ResourceKind, view: ResourceView, opts: { cluster: string; key: LedgerKey }): string[] {
  const namespace = view.metadata.namespace ?? '';
  const name = view.metadata.name ?? '';
  const label = resourceLabel(kind, namespace, name);
  const claims = new Set<string>();
  const addPath = (path: VaultPath) => {
    for (const c of logicalCandidates(path)) claims.add(c);
  };
  const parsed = parseSyncAnnotations(label, view.metadata.annotations);
  if (parsed.managed && parsed.spec) {
    const podSpec = kind === 'Deployment' ? (view as DeploymentView).podSpec : undefined;
    for (const path of plannedPaths({ resource: label, kind, name, spec: parsed.spec, cluster: opts.cluster, podSpec })) addPath(path);
  }
  const record = parseSyncRecord(view.metadata.annotations?.[STATUS_ANNOTATION.syncState]);
  if (record.paths.length > 0 && isAuthentic(opts.key, ownerId({ cluster: opts.cluster, namespace, kind, name }), view.metadata.uid, record)) {
    for (const p of record.paths) {
      if (p.key) claims.add(p.key);
      try {
        addPath(parseVaultPath(p.path, label));
      } catch {
        // A path the controller wrote always parses; nothing to claim otherwise.
      }
    }
  }
  return [...claims];
}

export class ClaimIndex {
  /**
   * Who claims a path: one resource key (nearly always) or, when several
   * claim it, a Set. A Set per path costs about 100 bytes more than the key
   * alone: measured in a heap snapshot at 10,000 Deployments, 30,000 Sets and
   * their tables, about 3 MiB, for paths that almost never have two holders.
   */
  readonly #byPath = new Map<string, string | Set<string>>();
  readonly #byResource = new Map<string, string[]>();

  set(resource: string, paths: readonly string[]): void {
    this.delete(resource);
    if (paths.length === 0) return;
    this.#byResource.set(resource, [...paths]);
    for (const p of paths) {
      const holders = this.#byPath.get(p);
      if (holders === undefined) this.#byPath.set(p, resource);
      else if (typeof holders !== 'string') holders.add(resource);
      else if (holders !== resource) this.#byPath.set(p, new Set([holders, resource]));
    }
  }

  delete(resource: string): void {
    for (const p of this.#byResource.get(resource) ?? []) {
      const holders = this.#byPath.get(p);
      if (holders === undefined) continue;
      if (typeof holders === 'string') {
        if (holders === resource) this.#byPath.delete(p);
        continue;
      }
      holders.delete(resource);
      if (holders.size === 0) this.#byPath.delete(p);
      else if (holders.size === 1) this.#byPath.set(p, holders.values().next().value!);
    }
    this.#byResource.delete(resource);
  }

  /** True when any resource other than `self` claims one of the candidate paths. */
  claimedByOthers(candidates: readonly string[], self: string): boolean {
    for (const c of candidates) {
      const holders = this.#byPath.get(c);
      if (holders === undefined) continue;
      if (typeof holders === 'string' ? holders !== self : [...holders].some((h) => h !== self)) return true;
    }
    return false;
  }

  get size(): number {
    return this.#byResource.size;
  }
}
