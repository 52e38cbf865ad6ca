// The Warnings view's model: failed syncs, denied paths, ownership
// conflicts, configuration warnings (found with the shared annotation
// parser) and large secrets. Pure.
//
// Rows lead with what matters at a narrow sidebar: the resource's name as
// the label, then what is wrong in a few words; the full text is the
// tooltip. Sizes use the same units as the tree (formatBytes).
import { formatBytes, shortMessage, type TrackedResource } from './tree.ts';
import { resourceKey } from '../../shared/resources.ts';

export type WarningKind = 'large' | 'failed' | 'denied' | 'ownership' | 'config';

export interface Warning {
  kind: WarningKind;
  resourceKey: string;
  /** The resource's name (its namespace and kind are in the tooltip). */
  label: string;
  /** Short: "InvalidConfig: secrets is not valid JSON", "large: 100.0 KiB". */
  detail: string;
  /** The whole story. */
  tooltip: string;
}

export function warningsFor(states: Iterable<TrackedResource>): Warning[] {
  const out: Warning[] = [];
  for (const s of states) {
    const key = resourceKey({ kind: s.kind, namespace: s.namespace, name: s.name });
    const who = `${s.kind} ${s.namespace}/${s.name}`;
    for (const p of s.paths.filter((p) => p.large)) {
      out.push({ kind: 'large', resourceKey: key, label: s.name, detail: `large: ${formatBytes(p.bytes)}`, tooltip: `${who}: large secret: ${p.path} is ${formatBytes(p.bytes)}; consider selecting fewer keys` });
    }
    if (s.status === 'Failed') {
      const kind: WarningKind = s.reason === 'PathDenied' ? 'denied' : s.reason === 'OwnershipConflict' ? 'ownership' : 'failed';
      const message = shortMessage(s) ?? 'see Events';
      out.push({ kind, resourceKey: key, label: s.name, detail: `${s.reason ?? 'failed'}: ${message}`, tooltip: `${who} failed to sync: ${message}` });
    }
    for (const w of s.configWarnings) {
      const message = shortMessage({ ...s, message: w }) ?? w;
      out.push({ kind: 'config', resourceKey: key, label: s.name, detail: `warning: ${message}`, tooltip: `${who}: ${message}` });
    }
  }
  const order: Record<WarningKind, number> = { failed: 0, denied: 1, ownership: 2, config: 3, large: 4 };
  return out.sort((a, b) => order[a.kind] - order[b.kind] || (a.resourceKey < b.resourceKey ? -1 : a.resourceKey > b.resourceKey ? 1 : 0));
}
