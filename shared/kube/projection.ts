// What to keep of an object's metadata: only vault-sync.io/* annotations
// (never kubectl's last-applied-configuration, which on a Secret holds its
// data in clear), finalizers and deletion time. Pure.
import { ANNOTATION } from '../annotations.ts';
import { FINALIZER, STATUS_ANNOTATION } from '../state.ts';
import type { ObjectMeta } from './reflector.ts';

const OURS = 'vault-sync.io/';

export function trimMeta(meta: any): ObjectMeta {
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

/** A resource vault-sync looks at: annotated, or still holding our finalizer or ledger. */
export function isTracked(meta: ObjectMeta | undefined): boolean {
  const a = meta?.annotations ?? {};
  return a[ANNOTATION.path] !== undefined || a[STATUS_ANNOTATION.syncState] !== undefined || (meta?.finalizers ?? []).includes(FINALIZER);
}
