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
import { SparseMultimap } from './sparse-multimap.ts';

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
  /** Path -> resources claiming it (nearly always one: see sparse-multimap.ts). */
  readonly #byPath = new SparseMultimap();
  readonly #byResource = new Map<string, string[]>();

  set(resource: string, paths: readonly string[]): void {
    this.delete(resource);
    if (paths.length === 0) return;
    this.#byResource.set(resource, [...paths]);
    for (const p of paths) this.#byPath.add(p, resource);
  }

  delete(resource: string): void {
    for (const p of this.#byResource.get(resource) ?? []) this.#byPath.delete(p, resource);
    this.#byResource.delete(resource);
  }

  /** True when any resource other than `self` claims one of the candidate paths. */
  claimedByOthers(candidates: readonly string[], self: string): boolean {
    for (const c of candidates) {
      for (const holder of this.#byPath.values(c)) if (holder !== self) return true;
    }
    return false;
  }

  get size(): number {
    return this.#byResource.size;
  }
}
