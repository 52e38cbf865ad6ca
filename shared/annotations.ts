// The `vault-sync.io/*` annotations users write, parsed into a typed spec. Pure.
//
// A resource is managed when it has `vault-sync.io/path`. Every other
// annotation is optional. Parsing collects every problem at once, so a user
// fixes a manifest in one go; each error names the resource, the annotation,
// what is wrong and how to fix it.
//
// Names and formats are those of the Go vault-sync-operator, so its
// manifests work unchanged; `adopt` and `resync-requested-at` are additions.
// Only a bad `path` or `secrets` stops a sync (nothing sensible can be
// written). Values the Go operator tolerated for the other annotations
// (a reconcile interval under 30s, an unknown rotation-check value) stay
// tolerated: they become warnings, with the Go operator's fallback, or the
// safer one where the Go operator risked data (see preserve-on-delete).
import { ConfigError } from './errors.ts';
import { parseGoDuration } from './duration.ts';
import { parseVaultPath, type VaultPath } from './paths.ts';

/** Every annotation of ours starts with this; others are not read or copied. */
export const ANNOTATION_PREFIX = 'vault-sync.io/';

export const ANNOTATION = {
  path: 'vault-sync.io/path',
  secrets: 'vault-sync.io/secrets',
  preserveOnDelete: 'vault-sync.io/preserve-on-delete',
  reconcile: 'vault-sync.io/reconcile',
  rotationCheck: 'vault-sync.io/rotation-check',
  resyncRequestedAt: 'vault-sync.io/resync-requested-at',
  adopt: 'vault-sync.io/adopt',
} as const;

export const MIN_RECONCILE_MS = 30_000;
/** Longer intervals are clamped: timers overflow past 2^31 ms (24.8 days) and fire at once. */
export const MAX_RECONCILE_MS = 24 * 3600_000;

/** One entry of `vault-sync.io/secrets`. */
export interface SecretSelection {
  /** Secret name (same namespace). */
  name: string;
  /** Keys to take; all keys when absent. */
  keys?: string[];
  /** Prepended to every key written to Vault. */
  prefix?: string;
}

export interface SyncSpec {
  path: VaultPath;
  /** Custom mode when present; auto-discovery (Deployment) or all keys (Secret) otherwise. */
  secrets?: SecretSelection[];
  preserveOnDelete: boolean;
  /** Periodic reconcile interval; undefined = off. */
  reconcileEveryMs?: number;
  rotationCheck: boolean;
  resyncRequestedAt?: string;
  adopt: boolean;
}

export type ParsedAnnotations =
  | { managed: false }
  | { managed: true; spec: SyncSpec; errors: []; warnings: ConfigError[] }
  | { managed: true; spec?: undefined; errors: ConfigError[]; warnings: ConfigError[] };

// Kubernetes' own rules: Secret names are DNS subdomains; data keys are [-._a-zA-Z0-9]+.
const SECRET_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/**
 * A valid Secret name (an RFC 1123 DNS subdomain). Checked before any read:
 * a pod template can carry names the apiserver never validated (e.g.
 * "../../team-b/secrets/x" in volumes[].secret.secretName), and a name ends
 * up in an API path.
 */
export function isSecretName(name: string): boolean {
  return name.length <= 253 && SECRET_NAME.test(name);
}
const SECRET_KEY = /^[-._a-zA-Z0-9]+$/;
// Prefixes become part of Vault keys: same character set, may be empty.
const KEY_PREFIX = /^[-._a-zA-Z0-9]*$/;

function parseBool(raw: string | undefined): boolean | undefined {
  const v = raw?.trim().toLowerCase();
  return v === 'true' ? true : v === 'false' ? false : undefined;
}

/**
 * preserve-on-delete, or undefined when the annotation is absent. The Go
 * operator deleted on anything but "true"; an unreadable value here keeps
 * the data instead: losing a secret is worse than leaving one behind.
 */
export function preserveOnDeleteOf(annotations: Readonly<Record<string, string>> | undefined): { preserve: boolean; readable: boolean } | undefined {
  const raw = annotations?.[ANNOTATION.preserveOnDelete];
  if (raw === undefined) return undefined;
  const value = parseBool(raw);
  return { preserve: value ?? true, readable: value !== undefined };
}

/** resync-requested-at, trimmed; empty means none. */
export function resyncRequestOf(annotations: Readonly<Record<string, string>> | undefined): string | undefined {
  return annotations?.[ANNOTATION.resyncRequestedAt]?.trim() || undefined;
}

function parseSelections(resource: string, raw: string, errors: ConfigError[]): SecretSelection[] | undefined {
  const field = ANNOTATION.secrets;
  const example = '[{"name":"db-credentials","keys":["username","password"],"prefix":"db_"}]';
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    // JSON.parse messages can quote the input; keep them out.
    errors.push(new ConfigError(resource, field, 'is not valid JSON', `write a JSON list such as ${example}`));
    return undefined;
  }
  if (!Array.isArray(parsed)) {
    errors.push(new ConfigError(resource, field, 'must be a JSON list', `write a JSON list such as ${example}`));
    return undefined;
  }
  if (parsed.length === 0) {
    errors.push(new ConfigError(resource, field, 'is an empty list', `list at least one Secret, or remove the annotation to sync everything the pod template references`));
    return undefined;
  }
  const out: SecretSelection[] = [];
  parsed.forEach((item: unknown, i) => {
    const at = `${field}[${i}]`;
    if (typeof item !== 'object' || item === null || Array.isArray(item)) {
      errors.push(new ConfigError(resource, at, 'must be an object', `use {"name": "<secret>", "keys": [...], "prefix": "..."}`));
      return;
    }
    // Go's encoding/json matched field names case-insensitively; so do we.
    const fields: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(item)) fields[['name', 'keys', 'prefix'].includes(k.toLowerCase()) ? k.toLowerCase() : k] = v;
    const { name, keys, prefix, ...rest } = fields;
    const unknownFields = Object.keys(rest);
    if (unknownFields.length) {
      errors.push(new ConfigError(resource, at, `has unknown field(s) ${unknownFields.map((f) => JSON.stringify(f)).join(', ')}`, 'use only "name", "keys" and "prefix"'));
    }
    if (typeof name !== 'string' || !isSecretName(name)) {
      errors.push(new ConfigError(resource, `${at}.name`, name === undefined ? 'is missing' : `${JSON.stringify(name)} is not a valid Secret name`, 'give the name of a Secret in the same namespace'));
      return;
    }
    const selection: SecretSelection = { name };
    if (keys !== undefined) {
      // An empty list selects nothing (as in the Go operator); the Secret must still exist.
      if (!Array.isArray(keys) || !keys.every((k) => typeof k === 'string' && SECRET_KEY.test(k))) {
        errors.push(new ConfigError(resource, `${at}.keys`, 'must be a list of Secret key names', 'list keys such as ["username","password"], or drop "keys" to take every key'));
      } else {
        selection.keys = [...new Set(keys as string[])];
      }
    }
    if (prefix !== undefined) {
      if (typeof prefix !== 'string' || !KEY_PREFIX.test(prefix)) {
        errors.push(new ConfigError(resource, `${at}.prefix`, 'must be a string of letters, digits, "-", "_" or "."', 'use a prefix such as "db_"'));
      } else if (prefix) {
        selection.prefix = prefix;
      }
    }
    out.push(selection);
  });
  return out;
}

/**
 * Parses the annotations of `resource` (a label such as "Deployment team-a/web",
 * used in messages). Unmanaged resources yield `{ managed: false }`.
 */
export function parseSyncAnnotations(resource: string, annotations: Readonly<Record<string, string>> | undefined): ParsedAnnotations {
  const a = annotations ?? {};
  const rawPath = a[ANNOTATION.path];
  if (rawPath === undefined) return { managed: false };
  const errors: ConfigError[] = [];

  let path: VaultPath | undefined;
  try {
    path = parseVaultPath(rawPath.trim(), resource);
  } catch (err) {
    if (err instanceof ConfigError) errors.push(err);
    else throw err;
  }

  const rawSecrets = a[ANNOTATION.secrets];
  const secrets = rawSecrets === undefined ? undefined : parseSelections(resource, rawSecrets, errors);

  const warnings: ConfigError[] = [];
  let reconcileEveryMs: number | undefined;
  const rawReconcile = a[ANNOTATION.reconcile]?.trim();
  if (rawReconcile !== undefined && rawReconcile !== '' && rawReconcile.toLowerCase() !== 'off') {
    const ms = parseGoDuration(rawReconcile);
    if (ms === undefined) {
      warnings.push(new ConfigError(resource, ANNOTATION.reconcile, `"${rawReconcile}" is not a duration, so periodic reconcile is off`, 'use a Go duration such as "5m" or "1h", or "off"'));
    } else if (ms < MIN_RECONCILE_MS) {
      warnings.push(new ConfigError(resource, ANNOTATION.reconcile, `"${rawReconcile}" is below the 30s minimum, so 30s is used`, 'use "30s" or longer, or "off"'));
      reconcileEveryMs = MIN_RECONCILE_MS;
    } else if (ms > MAX_RECONCILE_MS) {
      warnings.push(new ConfigError(resource, ANNOTATION.reconcile, `"${rawReconcile}" is above the 24h maximum, so 24h is used`, 'use "24h" or shorter, or "off"'));
      reconcileEveryMs = MAX_RECONCILE_MS;
    } else {
      reconcileEveryMs = ms;
    }
  }

  const rawRotation = a[ANNOTATION.rotationCheck]?.trim().toLowerCase();
  const rotationCheck = rawRotation !== 'disabled';
  if (rawRotation !== undefined && rawRotation !== 'enabled' && rawRotation !== 'disabled') {
    warnings.push(new ConfigError(resource, ANNOTATION.rotationCheck, `"${a[ANNOTATION.rotationCheck]}" is not a valid value, so rotation checks stay enabled`, 'use "enabled" or "disabled"'));
  }

  const preserve = preserveOnDeleteOf(a);
  const preserveOnDelete = preserve?.preserve ?? false;
  if (preserve && !preserve.readable) {
    warnings.push(new ConfigError(resource, ANNOTATION.preserveOnDelete, `"${a[ANNOTATION.preserveOnDelete]}" is not a boolean, so Vault data is preserved on delete`, 'use "true" or "false"'));
  }

  const rawAdopt = a[ANNOTATION.adopt];
  const adopt = parseBool(rawAdopt) ?? false;
  if (rawAdopt !== undefined && parseBool(rawAdopt) === undefined) {
    warnings.push(new ConfigError(resource, ANNOTATION.adopt, `"${rawAdopt}" is not a boolean, so secrets owned by others are not adopted`, 'use "true" or "false"'));
  }
  const resync = resyncRequestOf(a);

  if (errors.length > 0 || !path) return { managed: true, errors, warnings };
  return {
    managed: true,
    errors: [],
    warnings,
    spec: {
      path,
      ...(secrets ? { secrets } : {}),
      preserveOnDelete,
      ...(reconcileEveryMs !== undefined ? { reconcileEveryMs } : {}),
      rotationCheck,
      ...(resync ? { resyncRequestedAt: resync } : {}),
      adopt,
    },
  };
}
