// What the controller keeps of Deployments and Secrets, and where they live
// in the API. Pure.
//
// Projections keep only what reconciling needs: the trimmed metadata (see
// shared/kube/projection.ts) and, for Deployments, the pod template's Secret
// references. Unmanaged Deployments are not kept at all. This keeps memory
// flat with tens of thousands of objects.
import type { PodSpecLike } from '../shared/discovery.ts';
import { isTracked, trimMeta } from '../shared/kube/projection.ts';
import type { Projected } from '../shared/kube/reflector.ts';
import type { SyncKind } from '../shared/plan.ts';

export { isTracked };

export interface DeploymentView extends Projected {
  podSpec: PodSpecLike;
}

export type SecretView = Projected;

export type ResourceView = DeploymentView | SecretView;

function trimContainers(list: any[] | undefined): PodSpecLike['containers'] {
  if (!list?.length) return undefined;
  return list.map((c) => ({
    name: c.name,
    env: (c.env ?? []).filter((e: any) => e.valueFrom?.secretKeyRef).map((e: any) => ({ name: e.name, valueFrom: { secretKeyRef: e.valueFrom.secretKeyRef } })),
    envFrom: (c.envFrom ?? []).filter((e: any) => e.secretRef).map((e: any) => ({ secretRef: e.secretRef })),
  }));
}

export function projectDeployment(obj: any): DeploymentView | undefined {
  if (!isTracked(obj?.metadata)) return undefined;
  const spec = obj.spec?.template?.spec ?? {};
  const podSpec: PodSpecLike = {
    containers: trimContainers(spec.containers),
    initContainers: trimContainers(spec.initContainers),
    ephemeralContainers: trimContainers(spec.ephemeralContainers),
    volumes: (spec.volumes ?? [])
      .filter((v: any) => v.secret || v.projected?.sources?.some((s: any) => s.secret))
      .map((v: any) => (v.secret ? { name: v.name, secret: v.secret } : { name: v.name, projected: { sources: v.projected.sources.filter((s: any) => s.secret).map((s: any) => ({ secret: s.secret })) } })),
  };
  return { metadata: trimMeta(obj.metadata), podSpec };
}

/** Every Secret is kept (metadata only): its resourceVersion is the rotation signal. */
export function projectSecret(obj: any): SecretView {
  return { metadata: trimMeta(obj?.metadata) };
}

export function resourceLabel(kind: SyncKind, namespace: string, name: string): string {
  return `${kind} ${namespace}/${name}`;
}

export interface ResourceKey {
  kind: SyncKind;
  namespace: string;
  name: string;
}

export function formatKey(k: ResourceKey): string {
  return `${k.kind}/${k.namespace}/${k.name}`;
}

export function parseKey(key: string): ResourceKey {
  const parts = key.split('/');
  const [kind, namespace, name] = parts;
  if (parts.length !== 3 || (kind !== 'Deployment' && kind !== 'Secret') || !namespace || !name) throw new Error(`bad queue key ${key}`);
  return { kind, namespace, name };
}

/** One URL path segment: encoded, and "." / ".." too, which URL parsing would otherwise resolve. */
function segment(s: string): string {
  return s === '.' || s === '..' ? s.replace(/\./g, '%2E') : encodeURIComponent(s);
}

/** The object's API path; names are encoded, so no name can walk to another path. */
export function objectPath(k: ResourceKey): string {
  const ns = segment(k.namespace);
  const name = segment(k.name);
  return k.kind === 'Deployment' ? `/apis/apps/v1/namespaces/${ns}/deployments/${name}` : `/api/v1/namespaces/${ns}/secrets/${name}`;
}

export function collectionPath(kind: SyncKind, namespace: string | undefined): string {
  const base = kind === 'Deployment' ? '/apis/apps/v1' : '/api/v1';
  const plural = kind === 'Deployment' ? 'deployments' : 'secrets';
  return namespace ? `${base}/namespaces/${namespace}/${plural}` : `${base}/${plural}`;
}
