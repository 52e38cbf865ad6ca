// Generators of hostile and ordinary input for the fuzz suites: annotation
// values, Vault paths, path policies, pod templates and Secret contents.
// Shared by the property tests (test/unit/fuzz) and the live run against the
// controller (test/integration/fuzz).
//
// The mix is deliberate: most values are near misses of valid input
// (a `..` segment, a reserved mount, a percent-encoded dot, a stray `?`),
// because those are what reach code paths a random string never does.
import fc from 'fast-check';

/** Seed and scale: fixed by default so CI is reproducible; FUZZ_SEED / FUZZ_SCALE explore further. */
export const FUZZ_SEED = Number(process.env.FUZZ_SEED ?? 20260112);
export const FUZZ_SCALE = Number(process.env.FUZZ_SCALE ?? 1);
export const runs = (n: number) => ({ numRuns: Math.max(1, Math.round(n * FUZZ_SCALE)), seed: FUZZ_SEED });

export const RESERVED_MOUNTS = ['sys', 'auth', 'identity', 'cubbyhole'];

/** A segment the grammar accepts. */
export const validSegment = fc.stringMatching(/^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,11}$/);

/** Segments that must be refused, or that mean something special. */
export const trickySegment = fc.oneof(
  fc.constantFrom('', '.', '..', '...', '%2e', '%2e%2e', '%2E%2E', '..%2f', '%00', 'a?b', 'a#b', 'a b', 'a\\b', '\u0000', 'é', '\u202e', '.hidden',
    'data', 'metadata', ...RESERVED_MOUNTS, ...RESERVED_MOUNTS.map((m) => m.toUpperCase())),
  fc.string({ maxLength: 6 }),
  fc.string({ maxLength: 4, unit: 'grapheme' }),
);

export const segment = fc.oneof({ weight: 3, arbitrary: validSegment }, { weight: 1, arbitrary: trickySegment });

/** A path as a user might write it: mostly segments joined by "/", sometimes with extra slashes or whitespace. */
export const pathText = fc.oneof(
  { weight: 6, arbitrary: fc.array(segment, { minLength: 1, maxLength: 6 }).map((s) => s.join('/')) },
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom('secret/data/', 'secret/', 'kv/', '/secret/', 'sys/', 'auth/token/', 'secret/data/../../'), fc.array(segment, { maxLength: 4 })).map(([p, s]) => p + s.join('/')) },
  { weight: 1, arbitrary: fc.string({ maxLength: 40 }) },
  { weight: 1, arbitrary: fc.constantFrom('', ' ', 'secret', 'secret/', 'secret//x', ' secret/data/x ', 'a'.repeat(1100), `secret/${'b'.repeat(300)}`) },
);

/** A resource name or Secret name: valid DNS subdomains and things that walk API paths. */
export const kubeName = fc.oneof(
  { weight: 4, arbitrary: fc.stringMatching(/^[a-z0-9]([-a-z0-9]{0,10}[a-z0-9])?(\.[a-z0-9]{1,5})?$/) },
  { weight: 1, arbitrary: fc.constantFrom('../../team-b/secrets/x', 'UPPER', 'a_b', '-a', 'a-', '', 'a/b', '..', '%2e%2e', 'a'.repeat(300)) },
  { weight: 1, arbitrary: fc.string({ maxLength: 12 }) },
);

/** A Secret data key: valid ones mostly. */
export const dataKey = fc.oneof({ weight: 5, arbitrary: fc.stringMatching(/^[-._a-zA-Z0-9]{1,10}$/) }, { weight: 1, arbitrary: fc.string({ maxLength: 6 }) });

/** One entry of vault-sync.io/secrets, sometimes malformed, sometimes with field names in odd case or unknown fields. */
const selectionValue = fc.oneof(
  { weight: 5, arbitrary: fc.record({ name: kubeName, keys: fc.option(fc.array(dataKey, { maxLength: 4 }), { nil: undefined }), prefix: fc.option(fc.oneof(fc.stringMatching(/^[-._a-zA-Z0-9]{0,5}$/), fc.string({ maxLength: 4 })), { nil: undefined }) }, { requiredKeys: [] }) },
  { weight: 1, arbitrary: fc.record({ NAME: kubeName, Keys: fc.array(dataKey, { maxLength: 2 }) }) },
  { weight: 1, arbitrary: fc.record({ name: kubeName, kyes: fc.array(dataKey) }) },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) },
);

export const secretsAnnotation = fc.oneof(
  { weight: 5, arbitrary: fc.array(selectionValue, { maxLength: 4 }).map((a) => JSON.stringify(a)) },
  { weight: 1, arbitrary: fc.json({ maxDepth: 3 }) },
  { weight: 1, arbitrary: fc.string({ maxLength: 30 }) },
  { weight: 1, arbitrary: fc.constantFrom('[]', '{}', 'null', '[null]', '[{"name":"x"}', '"x"', '[1,2]', '[{"name":"__proto__"}]', '[{"__proto__":{"name":"x"}}]') },
);

const boolish = fc.oneof(fc.constantFrom('true', 'false', 'TRUE', ' true ', 'yes', '1', ''), fc.string({ maxLength: 6 }));
const duration = fc.oneof(fc.constantFrom('30s', '5m', '1h30m', '600h', '1ms', 'off', 'OFF', '', '-5m', '1e9h', '99999999999999h', 'NaN', '5'), fc.string({ maxLength: 8 }));

/** A full annotation map: always a path, each other annotation present or not. */
export const annotations = fc.record({
  'vault-sync.io/path': pathText,
  'vault-sync.io/secrets': secretsAnnotation,
  'vault-sync.io/preserve-on-delete': boolish,
  'vault-sync.io/reconcile': duration,
  'vault-sync.io/rotation-check': fc.oneof(fc.constantFrom('enabled', 'disabled', 'Disabled', ''), fc.string({ maxLength: 6 })),
  'vault-sync.io/resync-requested-at': fc.string({ maxLength: 20 }),
  'vault-sync.io/adopt': boolish,
}, { requiredKeys: ['vault-sync.io/path'] });

/** A policy template: literal segments, placeholders and wildcards. */
export const policyTemplate = fc.array(fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom('secret', 'kv', 'team', 'data', 'prod') },
  { weight: 2, arbitrary: fc.constantFrom('{namespace}', '{name}', '{kind}', '{cluster}') },
  { weight: 2, arbitrary: fc.constant('*') },
  { weight: 1, arbitrary: validSegment },
), { minLength: 1, maxLength: 5 }).map((s) => s.join('/'));

export const policyText = fc.oneof(
  { weight: 1, arbitrary: fc.constant('*') },
  { weight: 6, arbitrary: fc.array(policyTemplate, { minLength: 1, maxLength: 3 }).map((t) => t.join(', ')) },
);

export const policyContext = fc.record({
  namespace: fc.constantFrom('team-a', 'team-b', 'prod', 'data'),
  name: fc.constantFrom('web', 'db', 'secret', 'x'),
  kind: fc.constantFrom('Deployment', 'Secret'),
  cluster: fc.constantFrom('', 'c1', 'prod'),
});

/** A value in a Secret's data (base64 as the API returns it); text or raw bytes, always carrying a canary. */
export const CANARY = 'CANARY-9f3b1e7c';
export const secretValue = fc.oneof(
  fc.string({ maxLength: 16 }).map((s) => Buffer.from(`${CANARY}${s}`).toString('base64')),
  fc.uint8Array({ maxLength: 16 }).map((b) => Buffer.concat([Buffer.from(CANARY), Buffer.from(b)]).toString('base64')),
);
export const secretData = fc.dictionary(dataKey, secretValue, { maxKeys: 5 });

const keyRef = fc.record({ name: kubeName, key: dataKey, optional: fc.option(fc.boolean(), { nil: undefined }) }, { requiredKeys: [] });
const container = fc.record({
  name: fc.constantFrom('app', 'side', 'init'),
  env: fc.array(fc.record({ name: fc.constantFrom('A', 'B'), valueFrom: fc.record({ secretKeyRef: keyRef }) }), { maxLength: 3 }),
  envFrom: fc.array(fc.record({ secretRef: fc.record({ name: kubeName, optional: fc.option(fc.boolean(), { nil: undefined }) }, { requiredKeys: [] }) }), { maxLength: 2 }),
}, { requiredKeys: ['name'] });
const volume = fc.record({
  name: fc.constantFrom('v1', 'v2'),
  secret: fc.record({ secretName: kubeName, optional: fc.option(fc.boolean(), { nil: undefined }), items: fc.array(fc.record({ key: dataKey }), { maxLength: 2 }) }, { requiredKeys: [] }),
  projected: fc.record({ sources: fc.array(fc.record({ secret: fc.record({ name: kubeName, optional: fc.option(fc.boolean(), { nil: undefined }) }, { requiredKeys: [] }) }), { maxLength: 2 }) }),
}, { requiredKeys: [] });

/** A pod template spec in the shapes discovery reads (and some it must ignore). */
export const podSpec = fc.record({
  containers: fc.array(container, { maxLength: 2 }),
  initContainers: fc.array(container, { maxLength: 1 }),
  ephemeralContainers: fc.array(container, { maxLength: 1 }),
  volumes: fc.array(volume, { maxLength: 2 }),
}, { requiredKeys: [] });
