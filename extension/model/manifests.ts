// Finds Deployments and Secrets with `vault-sync.io/*` annotations in YAML
// manifests, with positions (for diagnostics, hovers and CodeLenses), and
// decides which of them get a Problems entry from their live state. Pure.
//
// Parsed with the `yaml` package (positions for every node, block and flow
// scalars, several documents per file); what it returns is plain data.
import { isMap, isScalar, LineCounter, parseAllDocuments, type Node as YamlNode, type Pair } from 'yaml';
import { ANNOTATION_PREFIX } from '../../shared/annotations.ts';
import type { PodSpecLike } from '../../shared/discovery.ts';
import { formatBytes, shortMessage, type TrackedResource } from './tree.ts';
import type { ResourceKind } from '../../shared/resources.ts';

export interface Position { line: number; character: number }
export interface Span { start: Position; end: Position }

export interface AnnotationEntry {
  name: string;
  /** The value as the apiserver would see it; undefined when it is not a string (a YAML bool or number). */
  value: string | undefined;
  /** The YAML type when not a string, for the diagnostic. */
  nonString?: string;
  key: Span;
  valueSpan: Span;
}

export interface ManifestResource {
  kind: ResourceKind;
  name: string;
  namespace?: string;
  /** 0-based line of `name:` under metadata. */
  line: number;
  /** Where the document starts (for a CodeLens). */
  start: Position;
  /** vault-sync.io/* annotations only. */
  annotations: AnnotationEntry[];
  /** Deployment: spec.template.spec as plain data, for discovery. */
  podSpec?: PodSpecLike;
  /** Secret: the key names under data and stringData (never their values). */
  secretKeys?: string[];
}

function span(lc: LineCounter, node: { range?: [number, number, number] | null } | null | undefined): Span {
  const [a, b] = node?.range ?? [0, 0, 0];
  const p = (offset: number) => {
    const { line, col } = lc.linePos(offset);
    return { line: line - 1, character: col - 1 };
  };
  return { start: p(a), end: p(b) };
}

function get(map: unknown, key: string): YamlNode | undefined {
  if (!isMap(map)) return undefined;
  return (map.items as Pair[]).find((p) => isScalar(p.key) && p.key.value === key)?.value as YamlNode | undefined;
}

function scalarString(node: unknown): string | undefined {
  return isScalar(node) && node.value !== null && node.value !== undefined ? String(node.value) : undefined;
}

/** Every Deployment or Secret carrying at least one vault-sync.io/* annotation. */
export function findManifestResources(text: string): ManifestResource[] {
  const lc = new LineCounter();
  const out: ManifestResource[] = [];
  for (const doc of parseAllDocuments(text, { lineCounter: lc, uniqueKeys: false })) {
    if (!('contents' in doc)) continue;
    const root = doc.contents;
    const kind = scalarString(get(root, 'kind'));
    if (kind !== 'Deployment' && kind !== 'Secret') continue;
    const metadata = get(root, 'metadata');
    const nameNode = get(metadata, 'name');
    const name = scalarString(nameNode);
    if (!name) continue;
    const annotationsNode = get(metadata, 'annotations');
    const annotations: AnnotationEntry[] = [];
    if (isMap(annotationsNode)) {
      for (const pair of annotationsNode.items as Pair[]) {
        if (!isScalar(pair.key) || typeof pair.key.value !== 'string' || !pair.key.value.startsWith(ANNOTATION_PREFIX)) continue;
        const v = pair.value as YamlNode | null;
        const isString = isScalar(v) && typeof v.value === 'string';
        annotations.push({
          name: pair.key.value,
          value: isString ? (v.value as string) : undefined,
          ...(isString ? {} : { nonString: isScalar(v) ? (v.value === null ? 'empty' : typeof v.value) : 'a YAML map or list' }),
          key: span(lc, pair.key as YamlNode),
          valueSpan: v ? span(lc, v) : span(lc, pair.key as YamlNode),
        });
      }
    }
    if (annotations.length === 0) continue;
    const namespace = scalarString(get(metadata, 'namespace'));
    const resource: ManifestResource = {
      kind, name, ...(namespace ? { namespace } : {}),
      line: span(lc, nameNode).start.line,
      start: span(lc, root as YamlNode).start,
      annotations,
    };
    if (kind === 'Deployment') {
      const podSpec = get(get(get(root, 'spec'), 'template'), 'spec');
      resource.podSpec = (podSpec && typeof (podSpec as { toJSON?: () => unknown }).toJSON === 'function' ? (podSpec as { toJSON(): unknown }).toJSON() : {}) as PodSpecLike;
    } else {
      const keys = new Set<string>();
      for (const field of ['data', 'stringData']) {
        const m = get(root, field);
        if (isMap(m)) for (const p of m.items as Pair[]) if (isScalar(p.key)) keys.add(String(p.key.value));
      }
      resource.secretKeys = [...keys].sort();
    }
    out.push(resource);
  }
  return out;
}

/** Key names of every Secret a file defines, annotated or not, by "namespace/name" (values are never kept). */
export function secretKeyNames(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const doc of parseAllDocuments(text, { uniqueKeys: false })) {
    if (!('contents' in doc) || scalarString(get(doc.contents, 'kind')) !== 'Secret') continue;
    const metadata = get(doc.contents, 'metadata');
    const name = scalarString(get(metadata, 'name'));
    if (!name) continue;
    const keys = new Set<string>();
    for (const field of ['data', 'stringData']) {
      const m = get(doc.contents, field);
      if (isMap(m)) for (const p of m.items as Pair[]) if (isScalar(p.key)) keys.add(String(p.key.value));
    }
    out.set(`${scalarString(get(metadata, 'namespace')) ?? 'default'}/${name}`, [...keys].sort());
  }
  return out;
}

/** The annotations as the apiserver would store them (string values only). */
export function annotationMap(r: ManifestResource): Record<string, string> {
  const out: Record<string, string> = {};
  for (const a of r.annotations) if (a.value !== undefined) out[a.name] = a.value;
  return out;
}

export interface ManifestProblem {
  line: number;
  severity: 'warning' | 'error';
  message: string;
}

/** Pure: which live-state diagnostics (failed, large, configuration warnings) a manifest gets (namespace defaults to the only match by name). */
export function problemsFor(resources: ManifestResource[], lookup: (kind: ResourceKind, name: string, namespace?: string) => TrackedResource | undefined): ManifestProblem[] {
  const out: ManifestProblem[] = [];
  for (const r of resources) {
    if (!r.annotations.some((a) => a.name === 'vault-sync.io/path')) continue;
    const state = lookup(r.kind, r.name, r.namespace);
    if (!state) continue;
    if (state.status === 'Failed') out.push({ line: r.line, severity: 'error', message: `vault-sync: ${state.reason ?? 'failed'} in ${state.namespace}: ${shortMessage(state) ?? 'see Events'}` });
    for (const p of state.paths.filter((p) => p.large)) {
      out.push({ line: r.line, severity: 'warning', message: `vault-sync: large secret: ${p.path} is ${formatBytes(p.bytes)}; consider selecting fewer keys` });
    }
    // What the controller tolerated with a fallback (an unreadable reconcile interval…), as the shared parser words it.
    for (const w of state.configWarnings) out.push({ line: r.line, severity: 'warning', message: `vault-sync: ${shortMessage({ ...state, message: w }) ?? w}` });
  }
  return out;
}
