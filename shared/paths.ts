// Vault path grammar, normalisation and the namespace -> path policy. Pure.
//
// A path is a sequence of segments. Every segment must match SEGMENT, and
// `.`/`..`, empty segments, `%`, `?` and `#` are refused outright: node-vault
// builds URLs with WHATWG parsing, which would collapse `a/../../sys/x` into
// `sys/x` on the client side, so nothing but validated segments may ever reach
// a URL. System mounts (sys/, auth/, identity/, cubbyhole/) are never targets.
//
// Two spellings address one KV v2 secret: the API path `secret/data/app` (what
// the Go operator expects) and the logical path `secret/app`. Which one a
// path is can only be known once the mount is known, so parsing keeps the
// segments as written, and `toLogical` normalises against a resolved mount.
import { ConfigError, PathDeniedError } from './errors.ts';

const SEGMENT = /^[A-Za-z0-9_\-][A-Za-z0-9_.\-]*$/;
const MAX_SEGMENT = 255;
const MAX_PATH = 1024;
const RESERVED_MOUNTS = new Set(['sys', 'auth', 'identity', 'cubbyhole']);

/** A path as written in an annotation, validated segment by segment. */
export interface VaultPath {
  readonly segments: readonly string[];
}

/** A path resolved against its mount: what the Vault client works with. */
export interface LogicalPath {
  /** Mount path without trailing slash, e.g. "secret" or "team/kv". */
  readonly mount: string;
  /** Segments below the mount, without any `data/` infix. */
  readonly rel: readonly string[];
  readonly kvVersion: 1 | 2;
}

export interface MountInfo {
  mount: string;
  kvVersion: 1 | 2;
}

/** Why `segment` cannot be one path segment, or undefined when it can. */
export function segmentProblem(segment: string): string | undefined {
  if (segment === '') return 'contains an empty segment ("//", or a leading or trailing "/")';
  if (segment === '.' || segment === '..') return `contains a "${segment}" segment`;
  if (segment.length > MAX_SEGMENT) return `has a segment longer than ${MAX_SEGMENT} characters`;
  if (!SEGMENT.test(segment)) {
    const bad = [...segment].find((c) => !/[A-Za-z0-9_.\-]/.test(c));
    return `has a segment "${segment}" with ${bad === undefined ? 'a leading "."' : `the character ${JSON.stringify(bad)}`}`;
  }
  return undefined;
}

/**
 * Parses and validates a path. `resource` and `field` name where it came from,
 * for the error message.
 */
export function parseVaultPath(raw: string, resource: string, field = 'vault-sync.io/path'): VaultPath {
  const fix = 'use segments of letters, digits, "_", "-" and "." separated by single "/", e.g. secret/data/my-app';
  if (raw.length === 0) throw new ConfigError(resource, field, 'is empty', fix);
  if (raw.length > MAX_PATH) throw new ConfigError(resource, field, `is longer than ${MAX_PATH} characters`, fix);
  const segments = raw.split('/');
  for (const segment of segments) {
    const problem = segmentProblem(segment);
    if (problem) throw new ConfigError(resource, field, `"${raw}" ${problem}`, fix);
  }
  if (segments.length < 2) {
    throw new ConfigError(resource, field, `"${raw}" names only a mount`, 'add a secret name below the mount, e.g. secret/data/my-app');
  }
  if (RESERVED_MOUNTS.has(segments[0]!)) {
    throw new ConfigError(resource, field, `"${raw}" points into the ${segments[0]}/ system mount`, 'write to a KV secrets engine mount such as secret/');
  }
  return { segments };
}

export function formatPath(path: VaultPath): string {
  return path.segments.join('/');
}

/** Appends validated segments (e.g. an auto-discovered Secret's name). */
export function childPath(path: VaultPath, name: string, resource: string): VaultPath {
  const problem = segmentProblem(name);
  if (problem) throw new ConfigError(resource, 'vault-sync.io/path', `sub-path "${name}" ${problem}`, 'rename the Secret or use custom mode');
  return { segments: [...path.segments, name] };
}

/**
 * Inserts the cluster name right after the mount (and after a KV v2 `data/`
 * infix when the path is written in API form), so that scoping by cluster
 * never breaks the mount: secret/data/app -> secret/data/prod/app.
 */
export function scopeToCluster(path: VaultPath, cluster: string | undefined): VaultPath {
  if (!cluster) return path;
  const [mount, ...rest] = path.segments;
  const afterInfix = rest[0] === 'data' && rest.length > 1 ? ['data', cluster, ...rest.slice(1)] : [cluster, ...rest];
  return { segments: [mount!, ...afterInfix] };
}

/** Resolves a written path against its mount, dropping the KV v2 `data/` infix. */
export function toLogical(path: VaultPath, mount: MountInfo, resource: string): LogicalPath {
  const mountSegments = mount.mount.split('/').filter(Boolean);
  const matchesMount = mountSegments.every((s, i) => path.segments[i] === s);
  if (!matchesMount) {
    throw new ConfigError(resource, 'vault-sync.io/path', `"${formatPath(path)}" is not below the mount "${mount.mount}"`, 'check the mount name');
  }
  let rel = path.segments.slice(mountSegments.length);
  if (mount.kvVersion === 2 && rel[0] === 'data') rel = rel.slice(1);
  else if (mount.kvVersion === 2 && rel[0] === 'metadata') {
    throw new ConfigError(resource, 'vault-sync.io/path', `"${formatPath(path)}" addresses KV v2 metadata`, `write the data path instead: ${mount.mount}/data/${rel.slice(1).join('/')}`);
  }
  if (rel.length === 0) {
    throw new ConfigError(resource, 'vault-sync.io/path', `"${formatPath(path)}" names only the mount "${mount.mount}"`, `add a secret name, e.g. ${mount.mount}/data/my-app`);
  }
  return { mount: mount.mount, rel, kvVersion: mount.kvVersion };
}

/** The canonical text form of a logical path, e.g. "secret/app" (no `data/`). */
export function logicalKey(path: LogicalPath): string {
  return [path.mount, ...path.rel].join('/'); // flat: indexes keep it (see resources.ts, resourceKey)
}

/** The request path (after /v1/) for a KV operation. Only validated segments reach here. */
export function apiPath(path: LogicalPath, kind: 'data' | 'metadata'): string {
  return (path.kvVersion === 2 ? [path.mount, kind, ...path.rel] : [path.mount, ...path.rel]).join('/'); // flat, as logicalKey
}

// ---------------------------------------------------------------------------
// Path policy: which namespace may write where.
//
// A policy is a list of templates in logical form, e.g.
//   secret/{cluster}/{namespace}/*
// `{namespace}`, `{name}`, `{kind}` and `{cluster}` stand for the resource's
// own values (one whole segment each); `*` in the middle matches exactly one
// segment; a trailing `*` matches one or more segments. A KV v2 `data`
// infix right after a one-segment mount is ignored in templates, so
// `secret/data/{namespace}/*` means the same as `secret/{namespace}/*`.
// ---------------------------------------------------------------------------

export interface PolicyContext {
  namespace: string;
  name: string;
  kind: string;
  cluster: string;
}

export type PathPolicy = readonly (readonly string[])[];

/** The default allows every KV path: the Go operator had no policy, and its manifests must keep working. */
export const DEFAULT_PATH_POLICY = '*';

export function parsePathPolicy(spec: string): PathPolicy {
  const templates = spec.split(',').map((t) => t.trim()).filter(Boolean);
  if (templates.length === 0) throw new Error('--path-policy: empty; give at least one template, e.g. secret/{namespace}/*');
  return templates.map((template) => {
    const segments = template.split('/');
    for (const s of segments) {
      if (s === '*' || /^\{(namespace|name|kind|cluster)\}$/.test(s)) continue;
      const problem = segmentProblem(s);
      if (problem) throw new Error(`--path-policy: template "${template}" ${problem}; use literal segments, *, {namespace}, {name}, {kind} or {cluster}`);
    }
    return segments.length > 2 && segments[1] === 'data' ? [segments[0]!, ...segments.slice(2)] : segments;
  });
}

function templateMatches(template: readonly string[], segments: readonly string[], ctx: PolicyContext): boolean {
  for (let i = 0; i < template.length; i++) {
    const t = template[i]!;
    const last = i === template.length - 1;
    if (t === '*' && last) return segments.length > i;
    const s = segments[i];
    if (s === undefined) return false;
    if (t === '*') continue;
    const value = t === '{namespace}' ? ctx.namespace : t === '{name}' ? ctx.name : t === '{kind}' ? ctx.kind.toLowerCase() : t === '{cluster}' ? ctx.cluster : t;
    if (value !== s) return false;
  }
  return segments.length === template.length;
}

function policyFix(policy: PathPolicy, ctx: PolicyContext): string {
  const example = policy[0]!.map((t) => (t === '{namespace}' ? ctx.namespace : t === '{name}' ? ctx.name : t === '{kind}' ? ctx.kind.toLowerCase() : t === '{cluster}' ? ctx.cluster || '<cluster>' : t)).join('/');
  return `use a path matching the controller's --path-policy (${policy.map((t) => t.join('/')).join(', ')}), e.g. ${example}`;
}

/**
 * Every logical path a written path can turn out to be once its mount is
 * known: as written (KV v1, or a v2 path in logical form), or without one
 * `data` infix (a v2 path in API form, whatever the mount's depth).
 */
export function pathReadings(path: VaultPath): string[][] {
  const s = path.segments;
  return [[...s], ...s.map((seg, i) => (i >= 1 && seg === 'data' ? [...s.slice(0, i), ...s.slice(i + 1)] : undefined)).filter((r): r is string[] => r !== undefined)];
}

/** `pathReadings` as logical keys (the form `logicalKey` gives once the mount is resolved). */
export function logicalCandidates(path: VaultPath): string[] {
  return pathReadings(path).map((r) => r.join('/'));
}

/**
 * Early check, before the mount is known: passes when some reading of the
 * written path (with or without one `data` infix) matches the policy. The
 * exact check (`checkLogicalPath`) runs again before anything is written.
 */
export function checkWrittenPath(policy: PathPolicy, path: VaultPath, ctx: PolicyContext, resource: string): void {
  const readings = pathReadings(path);
  if (!readings.some((r) => policy.some((t) => templateMatches(t, r, ctx)))) {
    throw new PathDeniedError(resource, formatPath(path), `namespace "${ctx.namespace}" may not write there`, policyFix(policy, ctx));
  }
}

export function checkLogicalPath(policy: PathPolicy, path: LogicalPath, ctx: PolicyContext, resource: string): void {
  const segments = [...path.mount.split('/'), ...path.rel];
  if (!policy.some((t) => templateMatches(t, segments, ctx))) {
    throw new PathDeniedError(resource, logicalKey(path), `namespace "${ctx.namespace}" may not write there`, policyFix(policy, ctx));
  }
}
