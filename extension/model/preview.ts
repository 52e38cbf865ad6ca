// "Preview Vault Sync": what a manifest would write, computed by the shared
// core (annotation parser, discovery, planner, path grammar) from the
// manifest and what is known of the cluster's Secrets, compared with the
// paths the resource has written so far (its ledger, live). Pure.
//
// Never values: the planner runs on key names only (every value is empty),
// taken from Secret manifests in the workspace, the keys a selection names,
// or the key names the controller recorded for that path; where none of
// those exists the preview says "all keys of Secret X" instead of guessing.
import { parseSyncAnnotations } from '../../shared/annotations.ts';
import { isSyncError } from '../../shared/errors.ts';
import { formatPath } from '../../shared/paths.ts';
import { plan, secretsNeeded, type SecretSnapshot } from '../../shared/plan.ts';
import type { PathRecord } from '../../shared/state.ts';
import { annotationMap, type ManifestResource } from './manifests.ts';

/** What the extension knows of one Secret, never its values. */
export interface SecretFacts {
  /** From the cluster's metadata watch: undefined when not known. */
  exists?: boolean;
  /** Key names, when a manifest in the workspace defines the Secret. */
  keys?: string[];
}

export type Change = 'add' | 'change' | 'same keys' | 'clean up' | 'keep (preserve-on-delete)';

export interface PreviewDocument {
  path: string;
  /** Key names with prefixes applied; undefined = not known without reading the Secret. */
  keys: string[] | undefined;
  /** "all keys of Secret web-db" when the names are unknown. */
  keysNote?: string;
  sources: string[];
  change: Change;
}

export interface Preview {
  resource: string;
  mode?: 'custom' | 'auto' | 'secret';
  documents: PreviewDocument[];
  /** Paths written before that the manifest no longer produces. */
  removed: PreviewDocument[];
  errors: string[];
  warnings: string[];
  notes: string[];
}

export interface PreviewContext {
  /** The controller's --cluster-name (from /state). */
  cluster: string;
  secret: (name: string) => SecretFacts;
  /** The resource's current ledger paths, from the live cluster. */
  current: readonly PathRecord[];
}

const strip = (label: string, message: string) => (message.startsWith(`${label}: `) ? message.slice(label.length + 2) : message);

export function previewManifest(r: ManifestResource, ctx: PreviewContext): Preview {
  const label = `${r.kind} ${r.namespace ?? 'default'}/${r.name}`;
  const out: Preview = { resource: label, documents: [], removed: [], errors: [], warnings: [], notes: [] };
  const parsed = parseSyncAnnotations(label, annotationMap(r));
  if (!parsed.managed) {
    out.errors.push('no vault-sync.io/path annotation: nothing is synced');
    return out;
  }
  out.warnings.push(...parsed.warnings.map((w) => strip(label, w.message)));
  if (!parsed.spec) {
    out.errors.push(...parsed.errors.map((e) => strip(label, e.message)));
    return out;
  }
  const spec = parsed.spec;
  const base = { resource: label, kind: r.kind, name: r.name, spec, cluster: ctx.cluster, ...(r.podSpec ? { podSpec: r.podSpec } : {}) };
  const unknownKeys = new Set<string>();
  const secrets = new Map<string, SecretSnapshot | undefined>();
  for (const needed of secretsNeeded(base)) {
    const facts = r.kind === 'Secret' && needed.name === r.name ? { exists: true, keys: r.secretKeys } : ctx.secret(needed.name);
    if (facts.exists === false && !facts.keys) {
      secrets.set(needed.name, undefined);
      continue;
    }
    // Key names only; the planner never sees a value.
    const selected = spec.secrets?.filter((s) => s.name === needed.name).flatMap((s) => s.keys ?? []) ?? [];
    let keys = facts.keys;
    if (!keys) {
      const wantsAll = !spec.secrets || spec.secrets.some((s) => s.name === needed.name && !s.keys);
      if (wantsAll) unknownKeys.add(needed.name);
      keys = selected;
    }
    secrets.set(needed.name, { name: needed.name, resourceVersion: '', data: Object.fromEntries(keys.map((k) => [k, ''])) });
  }
  let planned;
  try {
    planned = plan({ ...base, secrets });
  } catch (err) {
    out.errors.push(isSyncError(err) ? strip(label, err.message) : 'the plan failed');
    return out;
  }
  out.mode = planned.mode;
  const current = new Map(ctx.current.map((p) => [p.path, p]));
  for (const d of planned.documents) {
    const path = formatPath(d.path);
    const unknown = d.sources.filter((s) => unknownKeys.has(s));
    const recorded = current.get(path)?.keys;
    let keys: string[] | undefined = Object.keys(d.payload.values).sort();
    let keysNote: string | undefined;
    if (unknown.length) {
      // Without a manifest for the Secret, the controller's record of this path is the best knowledge of its key names.
      // That holds when the document is one Secret's keys as they are: auto and Secret mode, or one unprefixed custom entry.
      const asIs = planned.mode !== 'custom' || (spec.secrets!.length === 1 && !spec.secrets![0]!.prefix && !spec.secrets![0]!.keys);
      if (recorded && asIs) keys = [...recorded].sort();
      else {
        keysNote = `${keys.length ? `${keys.join(', ')} and ` : ''}all keys of Secret ${unknown.join(', ')}`;
        keys = undefined;
      }
    }
    const before = current.get(path);
    const change: Change = !before ? 'add' : keys && before.keys && sameKeys(keys, before.keys) ? 'same keys' : 'change';
    out.documents.push({ path, keys, ...(keysNote ? { keysNote } : {}), sources: d.sources, change });
  }
  const plannedPaths = new Set(out.documents.map((d) => d.path));
  for (const p of ctx.current) {
    if (plannedPaths.has(p.path)) continue;
    out.removed.push({ path: p.path, keys: p.keys ? [...p.keys] : undefined, sources: [], change: spec.preserveOnDelete ? 'keep (preserve-on-delete)' : 'clean up' });
  }
  for (const [name, snap] of secrets) if (snap === undefined) out.notes.push(`Secret ${name} does not exist in the cluster${r.kind === 'Deployment' && spec.secrets ? '' : ' (skipped when optional)'}`);
  if (ctx.cluster) out.notes.push(`paths include the controller's --cluster-name "${ctx.cluster}"`);
  return out;
}

function sameKeys(a: readonly string[], b: readonly string[]): boolean {
  const sb = [...b].sort();
  return a.length === sb.length && a.every((k, i) => k === sb[i]);
}
