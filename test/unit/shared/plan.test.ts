import assert from 'node:assert/strict';
import { ConfigError, KeyMissingError, SecretNotFoundError, SyncError } from '../../../shared/errors.ts';
import { parseSyncAnnotations, type SyncSpec } from '../../../shared/annotations.ts';
import { formatPath } from '../../../shared/paths.ts';
import { plan, secretsNeeded, type PlanInput, type SecretSnapshot } from '../../../shared/plan.ts';

const b64 = (s: string | Buffer) => (typeof s === 'string' ? Buffer.from(s) : s).toString('base64');
const secret = (name: string, data: Record<string, string | Buffer>, rv = '1'): SecretSnapshot => ({
  name, resourceVersion: rv, data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, b64(v)])),
});
function spec(annotations: Record<string, string>): SyncSpec {
  const parsed = parseSyncAnnotations('test', annotations);
  assert.ok(parsed.managed && parsed.spec, JSON.stringify(parsed));
  return parsed.spec;
}
function input(over: Partial<PlanInput> & { spec: SyncSpec }): PlanInput {
  return { resource: 'Deployment ns/web', kind: 'Deployment', name: 'web', cluster: '', secrets: new Map(), ...over };
}

describe('planner: Deployment custom mode', () => {
  const s = spec({
    'vault-sync.io/path': 'secret/data/web',
    'vault-sync.io/secrets': '[{"name":"db","keys":["user","pass"],"prefix":"db_"},{"name":"api"}]',
  });
  const secrets = new Map([['db', secret('db', { user: 'u', pass: 'p', other: 'o' }, '11')], ['api', secret('api', { token: 't' }, '12')]]);

  it('merges the listed keys with prefixes into one document', () => {
    const p = plan(input({ spec: s, secrets }));
    assert.equal(p.mode, 'custom');
    assert.equal(p.documents.length, 1);
    assert.equal(formatPath(p.documents[0]!.path), 'secret/data/web');
    assert.deepEqual(p.documents[0]!.payload.values, { db_pass: 'p', db_user: 'u', token: 't' });
    assert.deepEqual(p.secretVersions, { api: '12', db: '11' });
  });
  it('reads exactly the listed Secrets', () => {
    assert.deepEqual(secretsNeeded(input({ spec: s })), [{ name: 'db', optional: false }, { name: 'api', optional: false }]);
  });
  it('refuses two sources producing the same key', () => {
    const clash = spec({ 'vault-sync.io/path': 'secret/web', 'vault-sync.io/secrets': '[{"name":"a"},{"name":"b"}]' });
    const m = new Map([['a', secret('a', { k: '1' })], ['b', secret('b', { k: '2' })]]);
    assert.throws(() => plan(input({ spec: clash, secrets: m })), (err: unknown) => err instanceof SyncError && err.reason === 'DuplicateKey' && /"k"/.test(err.message));
  });
  it('reports a missing Secret and a missing key by name', () => {
    assert.throws(() => plan(input({ spec: s, secrets: new Map([['api', secret('api', { token: 't' })]]) })), SecretNotFoundError);
    assert.throws(() => plan(input({ spec: s, secrets: new Map([['db', secret('db', { user: 'u' })], ['api', secret('api', {})]]) })),
      (err: unknown) => err instanceof KeyMissingError && /key "pass" is missing from Secret "db"/.test(err.message));
  });
});

describe('planner: Deployment auto-discovery', () => {
  const s = spec({ 'vault-sync.io/path': 'secret/data/web' });
  const podSpec = {
    containers: [{ name: 'c', env: [{ valueFrom: { secretKeyRef: { name: 'db', key: 'pass' } } }], envFrom: [{ secretRef: { name: 'opt', optional: true } }] }],
    volumes: [{ name: 'v', secret: { secretName: 'tls' } }],
  };

  it('writes each referenced Secret to <path>/<secret-name>, skipping missing optional ones', () => {
    const p = plan(input({ spec: s, podSpec, secrets: new Map([['db', secret('db', { pass: 'p', user: 'u' })], ['tls', secret('tls', { 'tls.key': 'k' })], ['opt', undefined]]) }));
    assert.equal(p.mode, 'auto');
    assert.deepEqual(p.documents.map((d) => formatPath(d.path)), ['secret/data/web/db', 'secret/data/web/tls']);
    assert.deepEqual(p.documents[0]!.payload.values, { pass: 'p', user: 'u' });
  });
  it('fails on a missing required Secret or required key, naming the pod template field', () => {
    assert.throws(() => plan(input({ spec: s, podSpec, secrets: new Map([['tls', secret('tls', {})]]) })),
      (err: unknown) => err instanceof SecretNotFoundError && /spec\.template\.spec\.containers\[c\]\.env\[0\]/.test(err.message));
    assert.throws(() => plan(input({ spec: s, podSpec, secrets: new Map([['db', secret('db', { user: 'u' })], ['tls', secret('tls', {})]]) })), KeyMissingError);
  });
  it('scopes by cluster name without breaking the mount', () => {
    const p = plan(input({ spec: s, cluster: 'prod', podSpec: { volumes: [{ secret: { secretName: 'tls' } }] }, secrets: new Map([['tls', secret('tls', { a: 'b' })]]) }));
    assert.equal(formatPath(p.documents[0]!.path), 'secret/data/prod/web/tls');
  });
});

describe('planner: Secret mode', () => {
  const own = secret('creds', { user: 'u', pass: 'p', bin: Buffer.from([0xde, 0xad, 0xbe, 0xef]) });
  const base = { kind: 'Secret' as const, name: 'creds', resource: 'Secret ns/creds', secrets: new Map([['creds', own]]) };

  it('writes all keys, binary ones as base64', () => {
    const p = plan(input({ ...base, spec: spec({ 'vault-sync.io/path': 'secret/creds' }) }));
    assert.equal(p.mode, 'secret');
    assert.deepEqual(p.documents[0]!.payload.values, { bin: '3q2+7w==', pass: 'p', user: 'u' });
    assert.deepEqual(p.documents[0]!.payload.base64Keys, ['bin']);
  });
  it('selects keys with a prefix', () => {
    const p = plan(input({ ...base, spec: spec({ 'vault-sync.io/path': 'secret/creds', 'vault-sync.io/secrets': '[{"name":"creds","keys":["user"],"prefix":"app_"}]' }) }));
    assert.deepEqual(p.documents[0]!.payload.values, { app_user: 'u' });
  });
  it('refuses a secrets annotation that names another Secret', () => {
    assert.throws(() => plan(input({ ...base, spec: spec({ 'vault-sync.io/path': 'secret/creds', 'vault-sync.io/secrets': '[{"name":"other"}]' }) })),
      (err: unknown) => err instanceof ConfigError && /may only name the Secret itself/.test(err.message));
  });
});
