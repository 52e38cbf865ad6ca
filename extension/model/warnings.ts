// The Warnings view's model: large secrets, failed syncs, denied paths and
// ownership conflicts, from the states the controller recorded. Pure.
import type { ResourceState } from '../../shared/state.ts';
import { formatBytes } from './tree.ts';

export type WarningKind = 'large' | 'failed' | 'denied' | 'ownership';

export interface Warning {
  kind: WarningKind;
  resourceKey: string;
  label: string;
  detail: string;
}

export function warningsFor(states: Iterable<ResourceState>): Warning[] {
  const out: Warning[] = [];
  for (const s of states) {
    const key = `${s.kind}/${s.namespace}/${s.name}`;
    const label = `${s.kind} ${s.namespace}/${s.name}`;
    for (const p of s.paths.filter((p) => p.large)) {
      out.push({ kind: 'large', resourceKey: key, label, detail: `large secret: ${p.path} is ${formatBytes(p.bytes)}` });
    }
    if (s.status === 'Failed') {
      const kind: WarningKind = s.reason === 'PathDenied' ? 'denied' : s.reason === 'OwnershipConflict' ? 'ownership' : 'failed';
      const what = kind === 'denied' ? 'path denied' : kind === 'ownership' ? 'ownership conflict' : 'sync failed';
      out.push({ kind, resourceKey: key, label, detail: `${what}: ${s.message ?? s.reason ?? 'see Events'}` });
    }
  }
  const order: Record<WarningKind, number> = { failed: 0, denied: 1, ownership: 2, large: 3 };
  return out.sort((a, b) => order[a.kind] - order[b.kind] || (a.label < b.label ? -1 : 1));
}
