// What each `vault-sync.io/*` annotation means, for people writing
// manifests (the extension's hover docs and completion). Keyed by the very
// constants the parser reads (shared/annotations.ts ANNOTATION, and the
// ones the controller writes, shared/state.ts STATUS_ANNOTATION): an
// annotation added there without docs here fails to type-check. Pure data.
import { ANNOTATION, MIN_RECONCILE_MS } from '../annotations.ts';
import { STATUS_ANNOTATION } from '../state.ts';

export interface AnnotationDoc {
  name: string;
  summary: string;
  values: string;
  default?: string;
  /** Values offered by completion (inserted quoted). */
  completions: string[];
  /** Written by the controller: people should not edit it. */
  controllerWritten?: boolean;
}

const SECRETS_EXAMPLE = '[{"name":"db-credentials","keys":["username","password"],"prefix":"db_"}]';

export const USER_ANNOTATION_DOCS: Record<keyof typeof ANNOTATION, AnnotationDoc> = {
  path: {
    name: ANNOTATION.path,
    summary: 'Enables sync: the Vault path to write, e.g. `secret/data/my-app` or `secret/my-app` (both address the same KV v2 secret).',
    values: 'a KV path: segments of letters, digits, `_`, `-`, `.`; never `sys/`, `auth/`, `identity/`, `cubbyhole/`, `..`, `%`, `?`, `#`',
    completions: ['secret/data/'],
  },
  secrets: {
    name: ANNOTATION.secrets,
    summary: 'Deployment: custom mode, the listed keys of the listed Secrets (each with an optional prefix) merged into one document. Without it, auto-discovery writes every Secret the pod template references to `<path>/<secret-name>`. Secret: select keys of that Secret itself (it may only name itself).',
    values: `a JSON list of {"name", "keys"?, "prefix"?}, e.g. ${SECRETS_EXAMPLE}`,
    default: 'auto-discovery',
    completions: ['[{"name":""}]', SECRETS_EXAMPLE],
  },
  preserveOnDelete: {
    name: ANNOTATION.preserveOnDelete,
    summary: 'Keep the Vault data when the resource is deleted, the annotation removed, or the path changed. An unreadable value preserves.',
    values: '`"true"` or `"false"`',
    default: '"false"',
    completions: ['true', 'false'],
  },
  reconcile: {
    name: ANNOTATION.reconcile,
    summary: `Periodically check Vault itself and restore deleted or drifted data. Below ${MIN_RECONCILE_MS / 1000}s is raised to ${MIN_RECONCILE_MS / 1000}s (with a warning).`,
    values: 'a Go duration (`30s`, `5m`, `1h30m`) or `off`',
    default: '"off"',
    completions: ['off', '5m', '1h'],
  },
  rotationCheck: {
    name: ANNOTATION.rotationCheck,
    summary: '`disabled` writes on every reconcile even when nothing changed.',
    values: '`"enabled"` or `"disabled"`',
    default: '"enabled"',
    completions: ['enabled', 'disabled'],
  },
  resyncRequestedAt: {
    name: ANNOTATION.resyncRequestedAt,
    summary: 'Any new value (e.g. a timestamp) forces one sync that bypasses change detection. The value handled is recorded.',
    values: 'any string; a new value requests a new sync',
    completions: [],
  },
  adopt: {
    name: ANNOTATION.adopt,
    summary: 'Allow overwriting or deleting a Vault secret written by someone else (otherwise an `OwnershipConflict`).',
    values: '`"true"` or `"false"`',
    default: '"false"',
    completions: ['true', 'false'],
  },
};

export const CONTROLLER_ANNOTATION_DOCS: Record<keyof typeof STATUS_ANNOTATION, AnnotationDoc> = {
  status: { name: STATUS_ANNOTATION.status, summary: 'Written by the controller: `Synced` or `Failed`.', values: 'Synced | Failed', completions: [], controllerWritten: true },
  lastSync: { name: STATUS_ANNOTATION.lastSync, summary: 'Written by the controller: time of the last sync that changed something.', values: 'RFC 3339 time', completions: [], controllerWritten: true },
  message: { name: STATUS_ANNOTATION.message, summary: 'Written by the controller: one line for people, or the error with its fix.', values: 'text', completions: [], controllerWritten: true },
  largeSecret: { name: STATUS_ANNOTATION.largeSecret, summary: 'Written by the controller: `"true"` while a document is above the large-secret threshold.', values: '"true"', completions: [], controllerWritten: true },
  secretVersions: { name: STATUS_ANNOTATION.secretVersions, summary: 'Written by the controller: the resourceVersion of each Secret read (the Go operator\'s format).', values: '{"secret":"resourceVersion"}', completions: [], controllerWritten: true },
  syncState: { name: STATUS_ANNOTATION.syncState, summary: 'Written by the controller: the ledger of every path written (cleanup reads it), key names and sizes. Never values.', values: 'JSON', completions: [], controllerWritten: true },
};

export const ANNOTATION_DOCS: readonly AnnotationDoc[] = [...Object.values(USER_ANNOTATION_DOCS), ...Object.values(CONTROLLER_ANNOTATION_DOCS)];

export function annotationDoc(name: string): AnnotationDoc | undefined {
  return ANNOTATION_DOCS.find((d) => d.name === name);
}
