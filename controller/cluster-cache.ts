// The controller's view of the cluster: supervised watches on Deployments
// (projected) and Secrets (metadata only), a reverse index from each Secret
// to the annotated Deployments that use it, and the rules that decide which
// changes are worth a reconcile. Watch handlers only enqueue keys.
import { parseSyncAnnotations } from '../shared/annotations.ts';
import type { KubeHttp } from '../shared/kube/http.ts';
import { objectKey, Reflector, type ChangeType, type Projected, type ReflectorHealth } from '../shared/kube/reflector.ts';
import type { Logger } from '../shared/log.ts';
import { secretsNeeded } from '../shared/plan.ts';
import { STATUS_ANNOTATION } from '../shared/state.ts';
import { ClaimIndex } from './claims.ts';
import { SparseMultimap } from './sparse-multimap.ts';
import type { ControllerMetrics } from './metrics.ts';
import {
  collectionPath, resourceKey, isTracked, projectDeployment, projectSecret, resourceLabel,
  type DeploymentView, type ResourceKind, type SecretView,
} from '../shared/resources.ts';

const STATUS_KEYS = new Set<string>(Object.values(STATUS_ANNOTATION));

/** The vault-sync.io/* annotations a user writes (ours, the status ones, excluded). */
function userAnnotations(meta: { annotations?: Record<string, string> } | undefined): string {
  const entries = Object.entries(meta?.annotations ?? {}).filter(([k]) => !STATUS_KEYS.has(k)).sort(([a], [b]) => (a < b ? -1 : 1));
  return JSON.stringify(entries);
}

/**
 * A Deployment change matters when the user's annotations, the pod template's
 * Secret references, the finalizers or the deletion state changed. Our own
 * status annotations, scaling and status updates do not.
 */
export function deploymentChangeMatters(prev: DeploymentView | undefined, next: DeploymentView | undefined): boolean {
  if (!prev || !next) return true;
  return (
    userAnnotations(prev.metadata) !== userAnnotations(next.metadata) ||
    JSON.stringify(prev.podSpec) !== JSON.stringify(next.podSpec) ||
    prev.metadata.deletionTimestamp !== next.metadata.deletionTimestamp ||
    JSON.stringify(prev.metadata.finalizers ?? []) !== JSON.stringify(next.metadata.finalizers ?? [])
  );
}

/** Names of the Secrets a Deployment's sync reads (for the reverse index). */
export function referencedSecrets(d: DeploymentView): string[] {
  const ns = d.metadata.namespace ?? '';
  const name = d.metadata.name ?? '';
  const parsed = parseSyncAnnotations(resourceLabel('Deployment', ns, name), d.metadata.annotations);
  if (!parsed.managed || !parsed.spec) return [];
  try {
    return secretsNeeded({ resource: '', kind: 'Deployment', name, spec: parsed.spec, cluster: '', podSpec: d.podSpec }).map((s) => s.name);
  } catch {
    return []; // an invalid reference: the reconcile reports it
  }
}

/** One object from whichever namespace-scoped reflector holds it. */
function lookup<T extends Projected>(reflectors: readonly Reflector<T>[], namespace: string, name: string): T | undefined {
  const key = objectKey({ namespace, name });
  for (const r of reflectors) {
    const hit = r.store.get(key);
    if (hit) return hit;
  }
  return undefined;
}

export interface WatchHealthSummary {
  synced: boolean;
  healthy: boolean;
  watches: { name: string; synced: boolean; failingForMs: number }[];
}

export class ClusterCache {
  readonly #deployments: Reflector<DeploymentView>[] = [];
  readonly #secrets: Reflector<SecretView>[] = [];
  /** "ns/secret" -> names of Deployments in ns that read it (nearly always one: see sparse-multimap.ts). */
  readonly #secretUsers = new SparseMultimap();
  /** "Kind/ns/name" -> resourceVersion our own patch produced (its watch event is not a change to act on). */
  readonly #ownWrites = new Map<string, string>();
  readonly #enqueue: (key: string) => void;
  readonly #unhealthyAfterMs: number;
  /** Which tracked resource claims which Vault path (see claims.ts). */
  readonly #claims = new ClaimIndex();
  readonly #claimsOf: ((kind: ResourceKind, view: DeploymentView | SecretView) => string[]) | undefined;

  constructor(opts: {
    http: KubeHttp;
    namespaces?: string[];
    enqueue: (key: string) => void;
    /** The Vault paths a tracked resource claims (claims.resourceClaims, bound to the cluster and key). */
    claims?: (kind: ResourceKind, view: DeploymentView | SecretView) => string[];
    metrics?: ControllerMetrics;
    log?: Logger;
    unhealthyAfterMs?: number;
  }) {
    this.#enqueue = opts.enqueue;
    this.#claimsOf = opts.claims;
    this.#unhealthyAfterMs = opts.unhealthyAfterMs ?? 30_000;
    const scopes = opts.namespaces?.length ? opts.namespaces : [undefined];
    const health = (resource: string) => (event: ReflectorHealth) => {
      const m = opts.metrics;
      if (!m) return;
      if (event.kind === 'relist') m.watchRelists.inc({ resource, reason: event.reason });
      if (event.kind === 'listed' && event.relist) m.watchRelists.inc({ resource, reason: 'reconnect' });
      if (event.kind === 'error') m.watchErrors.inc({ resource, phase: event.phase });
      if (event.kind === 'watching' || event.kind === 'listed') m.watchHealthy.set({ resource }, 1);
      if (event.kind === 'error' || event.kind === 'stopped') m.watchHealthy.set({ resource }, 0);
    };
    for (const ns of scopes) {
      this.#deployments.push(new Reflector<DeploymentView>({
        name: `deployments${ns ? `/${ns}` : ''}`, http: opts.http, path: collectionPath('Deployment', ns),
        project: projectDeployment, onChange: (t, k, n, p) => this.#onDeployment(t, k, n, p), onHealth: health('deployments'), log: opts.log,
      }));
      this.#secrets.push(new Reflector<SecretView>({
        name: `secrets${ns ? `/${ns}` : ''}`, http: opts.http, path: collectionPath('Secret', ns), metadataOnly: true,
        project: projectSecret, onChange: (t, k, n, p) => this.#onSecret(t, k, n, p), onHealth: health('secrets'), log: opts.log,
      }));
    }
  }

  async start(): Promise<void> {
    await Promise.all([...this.#deployments, ...this.#secrets].map((r) => r.start()));
  }

  async stop(): Promise<void> {
    await Promise.all([...this.#deployments, ...this.#secrets].map((r) => r.stop()));
  }

  deployment(namespace: string, name: string): DeploymentView | undefined {
    return lookup(this.#deployments, namespace, name);
  }

  secret(namespace: string, name: string): SecretView | undefined {
    return lookup(this.#secrets, namespace, name);
  }

  /** Every tracked object, for /state (periodic reconciles are per-resource timers, not a sweep). */
  *tracked(): Generator<{ kind: ResourceKind; view: DeploymentView | SecretView }> {
    for (const r of this.#deployments) for (const view of r.store.values()) yield { kind: 'Deployment', view };
    for (const r of this.#secrets) {
      for (const view of r.store.values()) {
        if (isTracked(view.metadata)) yield { kind: 'Secret', view };
      }
    }
  }

  counts(): { deployments: number; secrets: number } {
    return {
      deployments: this.#deployments.reduce((n, r) => n + r.store.size, 0),
      secrets: this.#secrets.reduce((n, r) => n + r.store.size, 0),
    };
  }

  /**
   * Remembers the resourceVersion our own patch produced, so its watch event
   * does not trigger another reconcile (on a Secret it is not a rotation; on
   * a Deployment our finalizer is not a configuration change).
   */
  recordOwnWrite(kind: ResourceKind, namespace: string, name: string, resourceVersion: string | undefined): void {
    if (resourceVersion) this.#ownWrites.set(resourceKey({ kind, namespace, name }), resourceVersion);
  }

  isOwnWrite(kind: ResourceKind, namespace: string, name: string, resourceVersion: string | undefined): boolean {
    return resourceVersion !== undefined && this.#ownWrites.get(resourceKey({ kind, namespace, name })) === resourceVersion;
  }

  /** True when a tracked resource other than `self` (a queue key) claims one of the paths. */
  claimedByOthers(candidates: readonly string[], self: string): boolean {
    return this.#claims.claimedByOthers(candidates, self);
  }

  #updateClaims(kind: ResourceKind, view: DeploymentView | SecretView | undefined, key: string): void {
    if (!this.#claimsOf) return;
    if (!view || !isTracked(view.metadata)) this.#claims.delete(key);
    else this.#claims.set(key, this.#claimsOf(kind, view));
  }

  health(): WatchHealthSummary {
    const watches = [...this.#deployments, ...this.#secrets].map((r, i) => ({
      name: i < this.#deployments.length ? 'deployments' : 'secrets',
      synced: r.synced,
      failingForMs: r.failingForMs(),
    }));
    return {
      synced: watches.every((w) => w.synced),
      healthy: watches.every((w) => w.synced && w.failingForMs < this.#unhealthyAfterMs),
      watches,
    };
  }

  #index(namespace: string, deployment: string, secrets: string[] | undefined, previous: string[] | undefined): void {
    for (const s of previous ?? []) this.#secretUsers.delete(objectKey({ namespace, name: s }), deployment);
    for (const s of secrets ?? []) this.#secretUsers.add(objectKey({ namespace, name: s }), deployment);
  }

  #onDeployment(type: ChangeType, _key: string, next: DeploymentView | undefined, prev: DeploymentView | undefined): void {
    const view = next ?? prev;
    const namespace = view?.metadata.namespace ?? '';
    const name = view?.metadata.name ?? '';
    this.#index(namespace, name, next ? referencedSecrets(next) : undefined, prev ? referencedSecrets(prev) : undefined);
    const key = resourceKey({ kind: 'Deployment', namespace, name });
    this.#updateClaims('Deployment', type === 'DELETED' ? undefined : next, key);
    if (type === 'DELETED') {
      this.#ownWrites.delete(key);
      return; // the finalizer made us clean up before this
    }
    if (this.isOwnWrite('Deployment', namespace, name, next?.metadata.resourceVersion)) return;
    if (deploymentChangeMatters(prev, next)) this.#enqueue(key);
  }

  #onSecret(type: ChangeType, _key: string, next: SecretView | undefined, prev: SecretView | undefined): void {
    const view = next ?? prev;
    const namespace = view?.metadata.namespace ?? '';
    const name = view?.metadata.name ?? '';
    if (type === 'MODIFIED' && prev?.metadata.resourceVersion === next?.metadata.resourceVersion) return;
    this.#updateClaims('Secret', type === 'DELETED' ? undefined : next, resourceKey({ kind: 'Secret', namespace, name }));
    if (type === 'DELETED') this.#ownWrites.delete(resourceKey({ kind: 'Secret', namespace, name }));
    if (type !== 'DELETED' && this.isOwnWrite('Secret', namespace, name, next?.metadata.resourceVersion)) return;
    // The Secret itself, when it is annotated (Secret mode) or still ours to clean up.
    if (next && isTracked(next.metadata)) {
      this.#enqueue(resourceKey({ kind: 'Secret', namespace, name }));
    }
    // Every Deployment that reads it: a rotation, an appearance, a deletion.
    for (const deployment of this.#secretUsers.values(objectKey({ namespace, name }))) {
      this.#enqueue(resourceKey({ kind: 'Deployment', namespace, name: deployment }));
    }
  }
}
