// The planner: annotations + Secret contents -> the Vault documents we want. Pure.
//
// Three modes:
//   custom     (Deployment with vault-sync.io/secrets): the listed keys of the
//              listed Secrets, with their prefixes, merged into one document at
//              the path. Two sources producing one key is an error.
//   auto       (Deployment without it): every Secret the pod template
//              references becomes its own document at <path>/<secret-name>.
//   secret     (an annotated Secret): its own keys, all or the selected ones
//              with a prefix, at the path. Its `secrets` annotation may only
//              name the Secret itself.
// The cluster name (--cluster-name) is inserted after the mount (see
// paths.scopeToCluster). Callers first ask `secretsNeeded` which Secrets to
// read, read them, then call `plan`.
import { ConfigError, KeyMissingError, SecretNotFoundError, SyncError } from './errors.ts';
import { ANNOTATION, isSecretName, type SecretSelection, type SyncSpec } from './annotations.ts';
import { discoverSecretReferences, type PodSpecLike } from './discovery.ts';
import { childPath, scopeToCluster, type VaultPath } from './paths.ts';
import { buildPayload, encodeSecretValue, type EncodedValue, type Payload } from './payload.ts';
import type { ResourceKind } from './resources.ts';

export type PlanMode = 'custom' | 'auto' | 'secret';

/** A Secret as read from the API: values are the API's base64 strings. */
export interface SecretSnapshot {
  name: string;
  resourceVersion: string;
  data: Readonly<Record<string, string>>;
}

export interface PlanInput {
  /** "Deployment team-a/web": for messages. */
  resource: string;
  kind: ResourceKind;
  name: string;
  spec: SyncSpec;
  cluster: string;
  /** Deployment's pod template spec. */
  podSpec?: PodSpecLike;
  /** The Secret itself in secret mode; the referenced Secrets otherwise (undefined = does not exist). */
  secrets: ReadonlyMap<string, SecretSnapshot | undefined>;
  /** Auto mode: plan only the documents of these Secrets (the caller streams references in chunks). */
  only?: ReadonlySet<string>;
}

export interface PlannedDocument {
  path: VaultPath;
  payload: Payload;
  /** Names of the Secrets that fed this document. */
  sources: string[];
}

export interface Plan {
  mode: PlanMode;
  documents: PlannedDocument[];
  /** resourceVersion of every Secret read, by name: the rotation fingerprint. */
  secretVersions: Record<string, string>;
}

export interface NeededSecret {
  name: string;
  optional: boolean;
}

export function planMode(kind: ResourceKind, spec: SyncSpec): PlanMode {
  if (kind === 'Secret') return 'secret';
  return spec.secrets ? 'custom' : 'auto';
}

/**
 * The Secrets a plan needs, so the caller can read exactly those. A name
 * from the pod template that is not a valid Secret name is a ConfigError
 * naming where it was found (it would otherwise become part of an API path).
 */
export function secretsNeeded(input: Omit<PlanInput, 'secrets'>): NeededSecret[] {
  switch (planMode(input.kind, input.spec)) {
    case 'secret':
      return [{ name: input.name, optional: false }];
    case 'custom':
      return [...new Set(input.spec.secrets!.map((s) => s.name))].map((name) => ({ name, optional: false }));
    case 'auto':
      return [...discoverSecretReferences(input.podSpec).values()].map((r) => {
        if (!isSecretName(r.name)) {
          throw new ConfigError(input.resource, `spec.template.spec.${r.via[0]}`, `${JSON.stringify(r.name.slice(0, 80))} is not a valid Secret name`,
            'reference a Secret of this namespace by its name (lower-case letters, digits, "-" and ".")');
        }
        return { name: r.name, optional: r.optional };
      });
  }
}

/** The Vault paths a plan writes, known without reading any Secret (for the claims index). */
export function plannedPaths(input: Omit<PlanInput, 'secrets'>): VaultPath[] {
  const base = scopeToCluster(input.spec.path, input.cluster);
  if (planMode(input.kind, input.spec) !== 'auto') return [base];
  try {
    return secretsNeeded(input).map((s) => childPath(base, s.name, input.resource));
  } catch {
    return [];
  }
}

function selectedEntries(input: PlanInput, secret: SecretSnapshot, selection: SecretSelection | undefined, field: string): [string, EncodedValue][] {
  const keys = selection?.keys ?? Object.keys(secret.data);
  return keys.map((key) => {
    const value = secret.data[key];
    if (value === undefined) throw new KeyMissingError(input.resource, secret.name, key, field);
    return [`${selection?.prefix ?? ''}${key}`, encodeSecretValue(value)];
  });
}

function requireSecret(input: PlanInput, name: string, field: string): SecretSnapshot {
  const secret = input.secrets.get(name);
  if (!secret) throw new SecretNotFoundError(input.resource, name, field);
  return secret;
}

function planCustom(input: PlanInput, base: VaultPath): PlannedDocument[] {
  const merged = new Map<string, { value: EncodedValue; from: string }>();
  input.spec.secrets!.forEach((selection, i) => {
    const field = `${ANNOTATION.secrets}[${i}]`;
    const secret = requireSecret(input, selection.name, field);
    for (const [key, value] of selectedEntries(input, secret, selection, field)) {
      const clash = merged.get(key);
      if (clash) {
        throw new SyncError('DuplicateKey', `${input.resource}: Vault key "${key}" would come from both ${clash.from} and Secret "${selection.name}"`, {
          field: ANNOTATION.secrets,
          fix: 'give one of the entries a "prefix", or select disjoint "keys"',
        });
      }
      merged.set(key, { value, from: `Secret "${selection.name}"` });
    }
  });
  const sources = [...new Set(input.spec.secrets!.map((s) => s.name))];
  return [{ path: base, payload: buildPayload([...merged].map(([k, v]) => [k, v.value])), sources }];
}

function planAuto(input: PlanInput, base: VaultPath): PlannedDocument[] {
  const refs = [...discoverSecretReferences(input.podSpec).values()]
    .filter((r) => !input.only || input.only.has(r.name))
    .sort((a, b) => (a.name < b.name ? -1 : 1));
  const documents: PlannedDocument[] = [];
  for (const ref of refs) {
    const secret = input.secrets.get(ref.name);
    const via = `spec.template.spec.${ref.via[0]}`;
    if (!secret) {
      if (ref.optional) continue;
      throw new SecretNotFoundError(input.resource, ref.name, via);
    }
    for (const key of ref.requiredKeys) {
      if (secret.data[key] === undefined) throw new KeyMissingError(input.resource, ref.name, key, via);
    }
    documents.push({
      path: childPath(base, ref.name, input.resource),
      payload: buildPayload(selectedEntries(input, secret, undefined, via)),
      sources: [ref.name],
    });
  }
  return documents;
}

function planSecret(input: PlanInput, base: VaultPath): PlannedDocument[] {
  const secret = requireSecret(input, input.name, 'the annotated Secret');
  const selections = input.spec.secrets;
  if (!selections) return [{ path: base, payload: buildPayload(selectedEntries(input, secret, undefined, 'data')), sources: [secret.name] }];
  const foreign = selections.find((s) => s.name !== input.name);
  if (foreign) {
    throw new ConfigError(input.resource, ANNOTATION.secrets, `names Secret "${foreign.name}", but on a Secret it may only name the Secret itself ("${input.name}")`,
      `use "name": "${input.name}", or annotate a Deployment to combine several Secrets`);
  }
  const entries = selections.flatMap((s, i) => selectedEntries(input, secret, s, `${ANNOTATION.secrets}[${i}]`));
  const keys = new Set<string>();
  for (const [key] of entries) {
    if (keys.has(key)) throw new SyncError('DuplicateKey', `${input.resource}: Vault key "${key}" is selected twice`, { field: ANNOTATION.secrets, fix: 'select each key once, or use different prefixes' });
    keys.add(key);
  }
  return [{ path: base, payload: buildPayload(entries), sources: [secret.name] }];
}

export function plan(input: PlanInput): Plan {
  const mode = planMode(input.kind, input.spec);
  const base = scopeToCluster(input.spec.path, input.cluster);
  const documents = mode === 'custom' ? planCustom(input, base) : mode === 'auto' ? planAuto(input, base) : planSecret(input, base);
  const secretVersions: Record<string, string> = {};
  for (const [name, snapshot] of [...input.secrets].sort(([a], [b]) => (a < b ? -1 : 1))) {
    if (snapshot) secretVersions[name] = snapshot.resourceVersion;
  }
  return { mode, documents, secretVersions };
}
