// Finds annotated Deployments and Secrets in workspace manifest files, with
// the line of their metadata.name, and decides which of them get a Problems
// panel entry from their live state. Pure; a line scanner rather than a
// YAML parser because diagnostics need positions.
import type { ResourceState } from '../../shared/state.ts';

export interface ManifestResource {
  kind: 'Deployment' | 'Secret';
  name: string;
  namespace?: string;
  /** 0-based line of `name:` under metadata. */
  line: number;
}

export function findManifestResources(text: string): ManifestResource[] {
  const out: ManifestResource[] = [];
  const lines = text.split(/\r?\n/);
  let doc: { kind?: string; name?: string; namespace?: string; nameLine?: number; annotated: boolean; inMetadata: boolean; metaIndent: number } = fresh();
  function fresh() {
    return { annotated: false, inMetadata: false, metaIndent: -1 } as typeof doc;
  }
  const flush = () => {
    if ((doc.kind === 'Deployment' || doc.kind === 'Secret') && doc.name && doc.annotated && doc.nameLine !== undefined) {
      out.push({ kind: doc.kind, name: doc.name, ...(doc.namespace ? { namespace: doc.namespace } : {}), line: doc.nameLine });
    }
  };
  lines.forEach((raw, i) => {
    if (/^---\s*$/.test(raw)) {
      flush();
      doc = fresh();
      return;
    }
    const line = raw.replace(/\s+#.*$/, '');
    const indent = line.search(/\S/);
    if (indent < 0) return;
    const m = /^(\s*)([A-Za-z0-9_./-]+|"[^"]+"):\s*(.*)$/.exec(line);
    if (!m) return;
    const key = m[2]!.replace(/^"|"$/g, '');
    const value = m[3]!.trim().replace(/^["']|["']$/g, '');
    if (indent === 0) {
      doc.inMetadata = key === 'metadata';
      doc.metaIndent = -1;
      if (key === 'kind') doc.kind = value;
      return;
    }
    if (!doc.inMetadata) return;
    if (doc.metaIndent < 0) doc.metaIndent = indent;
    if (indent === doc.metaIndent && key === 'name' && doc.name === undefined) {
      doc.name = value;
      doc.nameLine = i;
    }
    if (indent === doc.metaIndent && key === 'namespace') doc.namespace = value;
    if (key === 'vault-sync.io/path') doc.annotated = true;
  });
  flush();
  return out;
}

export interface ManifestProblem {
  line: number;
  severity: 'warning' | 'error';
  message: string;
}

/** Pure: which diagnostics a manifest gets, given the live states (namespace defaults to the only match by name). */
export function problemsFor(resources: ManifestResource[], lookup: (kind: string, name: string, namespace?: string) => ResourceState | undefined): ManifestProblem[] {
  const out: ManifestProblem[] = [];
  for (const r of resources) {
    const state = lookup(r.kind, r.name, r.namespace);
    if (!state) continue;
    if (state.status === 'Failed') out.push({ line: r.line, severity: 'error', message: `vault-sync: ${r.kind} ${state.namespace}/${r.name} failed to sync: ${state.message ?? state.reason ?? 'see Events'}` });
    for (const p of state.paths.filter((p) => p.large)) {
      out.push({ line: r.line, severity: 'warning', message: `vault-sync: large secret: ${p.path} is ${p.bytes} bytes; consider selecting fewer keys` });
    }
  }
  return out;
}
