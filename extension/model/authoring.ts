// Help while writing manifests: diagnostics as you type, completion and
// hover docs for the `vault-sync.io/*` annotations. Pure: positions in,
// positions out; extension/views/authoring.ts maps them onto VS Code.
//
// Diagnostics come from the shared core, not a copy of its rules: the
// annotation parser (bad JSON in `secrets`, unknown fields such as "kyes",
// an invalid duration, a path into sys/), and the planner run on key names
// only (a Secret annotation naming another Secret, a duplicate key). Added
// here: annotation names that do not exist (typos), and values that YAML
// would not read as strings (the apiserver refuses those).
import { ANNOTATION } from '../../shared/annotations.ts';
import { ANNOTATION_DOCS, annotationDoc, USER_ANNOTATION_DOCS, type AnnotationDoc } from '../../shared/contract/annotations.ts';
import { annotationMap, type ManifestResource, type Span } from './manifests.ts';
import { previewManifest, type PreviewContext } from './preview.ts';
import { parseSyncAnnotations } from '../../shared/annotations.ts';

export interface AuthoringDiagnostic {
  span: Span;
  severity: 'error' | 'warning';
  message: string;
  /** The annotation it is about. */
  annotation?: string;
}

function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
  }
  return d[a.length]![b.length]!;
}

function closest(name: string): string | undefined {
  let best: { name: string; d: number } | undefined;
  for (const doc of ANNOTATION_DOCS) {
    const d = editDistance(name, doc.name);
    if (!best || d < best.d) best = { name: doc.name, d };
  }
  return best && best.d <= 4 ? best.name : undefined;
}

/** The annotation a parser field names: "vault-sync.io/secrets[0].keys" -> "vault-sync.io/secrets". */
function annotationOf(field: string | undefined): string | undefined {
  return field?.replace(/\[.*$/, '');
}

export function manifestDiagnostics(resources: ManifestResource[], ctx: PreviewContext): AuthoringDiagnostic[] {
  const out: AuthoringDiagnostic[] = [];
  for (const r of resources) {
    const label = `${r.kind} ${r.namespace ?? 'default'}/${r.name}`;
    const strip = (m: string) => (m.startsWith(`${label}: `) ? m.slice(label.length + 2) : m);
    const at = (name: string | undefined) => r.annotations.find((a) => a.name === name);
    for (const a of r.annotations) {
      if (!annotationDoc(a.name)) {
        const suggestion = closest(a.name);
        out.push({ span: a.key, severity: 'warning', annotation: a.name, message: `unknown annotation ${a.name}: the controller ignores it${suggestion ? `; did you mean ${suggestion}?` : ''}` });
      }
      if (a.nonString) out.push({ span: a.valueSpan, severity: 'error', annotation: a.name, message: `${a.name}: annotation values must be strings, this is ${a.nonString}; quote it, e.g. "true"` });
    }
    const pathEntry = at(ANNOTATION.path);
    if (!pathEntry) {
      const first = r.annotations.find((a) => annotationDoc(a.name) && !annotationDoc(a.name)!.controllerWritten);
      if (first) out.push({ span: first.key, severity: 'warning', annotation: first.name, message: `${label} has vault-sync.io annotations but no ${ANNOTATION.path}: nothing is synced; add the path to enable sync` });
      continue;
    }
    const parsed = parseSyncAnnotations(label, annotationMap(r));
    if (!parsed.managed) continue;
    for (const [list, severity] of [[parsed.errors, 'error'], [parsed.warnings, 'warning']] as const) {
      for (const e of list) {
        const entry = at(annotationOf(e.field)) ?? pathEntry;
        out.push({ span: entry.valueSpan, severity, annotation: entry.name, message: strip(e.message) });
      }
    }
    if (parsed.spec) {
      // Plan-time rules (a Secret naming another Secret, duplicate keys), run on key names only.
      const preview = previewManifest(r, ctx);
      for (const e of preview.errors) {
        const entry = at(ANNOTATION.secrets) ?? pathEntry;
        out.push({ span: entry.valueSpan, severity: 'error', annotation: entry.name, message: e });
      }
    }
  }
  return out;
}

export interface Completion {
  label: string;
  /** Text to insert (replacing the word being typed). */
  insert: string;
  detail: string;
  documentation: string;
  kind: 'annotation' | 'value';
}

export function docMarkdown(doc: AnnotationDoc): string {
  return [`**${doc.name}**${doc.controllerWritten ? ' (written by the controller: do not edit)' : ''}`, doc.summary, `Values: ${doc.values}`, ...(doc.default ? [`Default: ${doc.default}`] : [])].join('\n\n');
}

/** Is line `line` inside a metadata.annotations block? Looks up for the nearest less-indented key. */
function inAnnotations(lines: readonly string[], line: number, indent: number): boolean {
  for (let i = line - 1; i >= 0; i--) {
    const l = lines[i]!;
    if (!l.trim() || l.trim().startsWith('#')) continue;
    const ind = l.search(/\S/);
    if (ind < indent) return /^\s*annotations:\s*$/.test(l);
    if (/^---/.test(l)) return false;
  }
  return false;
}

/** Completions at (line, character) of a YAML document. */
export function completionsAt(text: string, line: number, character: number): Completion[] {
  const lines = text.split(/\r?\n/);
  const before = (lines[line] ?? '').slice(0, character);
  const value = /^(\s*)["']?(vault-sync\.io\/[a-z-]+)["']?:\s*["']?([^"']*)$/.exec(before);
  if (value) {
    const doc = annotationDoc(value[2]!);
    if (!doc || doc.controllerWritten) return [];
    const quoted = /:\s*["']/.test(before);
    const items = doc.completions.map((v) => ({ label: v, insert: quoted ? v : JSON.stringify(v), detail: doc.name, documentation: docMarkdown(doc), kind: 'value' as const }));
    if (doc.name === ANNOTATION.resyncRequestedAt) items.push({ label: 'now', insert: JSON.stringify('$NOW'), detail: 'the current time', documentation: docMarkdown(doc), kind: 'value' });
    return items;
  }
  const key = /^(\s*)["']?([a-z0-9./-]*)$/.exec(before);
  if (!key || !inAnnotations(lines, line, key[1]!.length)) return [];
  return Object.values(USER_ANNOTATION_DOCS)
    .filter((d) => d.name.startsWith(key[2]!) || key[2]!.length < 3)
    .map((d) => ({ label: d.name, insert: `${d.name}: `, detail: d.values, documentation: docMarkdown(d), kind: 'annotation' as const }));
}

/** Hover docs when (line, character) is on a vault-sync.io/* annotation name. */
export function hoverAt(text: string, line: number, character: number): { markdown: string; start: number; end: number } | undefined {
  const l = text.split(/\r?\n/)[line] ?? '';
  for (const m of l.matchAll(/vault-sync\.io\/[a-z-]+/g)) {
    const start = m.index!;
    const end = start + m[0].length;
    if (character < start || character > end) continue;
    const doc = annotationDoc(m[0]);
    return doc ? { markdown: docMarkdown(doc), start, end } : undefined;
  }
  return undefined;
}
