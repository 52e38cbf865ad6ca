// What the controller keeps of Deployments and Secrets, and where they live
// in the API. Pure.
//
// Projections keep only what reconciling needs: vault-sync.io/* annotations
// (never kubectl's last-applied-configuration, which on a Secret holds its
// data in clear), finalizers, deletion time, and for Deployments the pod
// template's Secret references. Unmanaged Deployments are not kept at all.
// This keeps memory flat with tens of thousands of objects.
import { ANNOTATION } from '../shared/annotations.ts';
import type { PodSpecLike } from '../shared/discovery.ts';
import type { ObjectMeta, Projected } from '../shared/kube/reflector.ts';
import { FINALIZER, STATUS_ANNOTATION } from '../shared/state.ts';
import type { SyncKind } from '../shared/plan.ts';

export interface DeploymentView extends Projected {
  podSpec: PodSpecLike;
}

export type SecretView = Projected;

export type ResourceView = DeploymentView | SecretView;

const OURS = 'vault-sync.io/';

function trimMeta(meta: any): ObjectMeta {
  const annotations: Record<string, string> = {};
  for (const [k, v] of Object.entries<string>(meta?.annotations ?? {})) if (k.startsWith(OURS)) annotations[k] = v;
  return {
    name: meta?.name,
    namespace: meta?.namespace,
    uid: meta?.uid,
    resourceVersion: meta?.resourceVersion,
    ...(Object.keys(annotations).length ? { annotations } : {}),
    ...(meta?.finalizers?.length ? { finalizers: [...meta.finalizers] } : {}),
    ...(meta?.deletionTimestamp ? { deletionTimestamp: String(meta.deletionTimestamp) } : {}),
  };
}

/** A resource the controller has to look at: annotated, or still holding our finalizer or ledger. */
export function isTracked(meta: ObjectMeta | undefined): boolean {
  const a = meta?.annotations ?? {};
  return a[ANNOTATION.path] !== undefined || a[STATUS_ANNOTATION.syncState] !== undefined || (meta?.finalizers ?? []).includes(FINALIZER);
}

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

export function objectPath(k: ResourceKey): string {
  return k.kind === 'Deployment'
    ? `/apis/apps/v1/namespaces/${k.namespace}/deployments/${k.name}`
    : `/api/v1/namespaces/${k.namespace}/secrets/${k.name}`;
}

export function collectionPath(kind: SyncKind, namespace: string | undefined): string {
  const base = kind === 'Deployment' ? '/apis/apps/v1' : '/api/v1';
  const plural = kind === 'Deployment' ? 'deployments' : 'secrets';
  return namespace ? `${base}/namespaces/${namespace}/${plural}` : `${base}/${plural}`;
}
