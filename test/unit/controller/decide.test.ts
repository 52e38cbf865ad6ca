import assert from 'node:assert/strict';
import { parseSyncAnnotations, type SyncSpec } from '../../../shared/annotations.ts';
import type { PodSpecLike } from '../../../shared/discovery.ts';
import { configFingerprint, contentFingerprint, decideSync, type DecisionInput } from '../../../controller/decide.ts';

/** A steady state: synced, nothing changed, nothing due. */
function input(over: Partial<DecisionInput> = {}): DecisionInput {
  return {
    synced: true,
    lastFailedRetryable: false,
    recordedConfig: 'cfg',
    config: 'cfg',
    recordedVersions: { db: '10', api: '20' },
    currentVersions: { db: '10', api: '20' },
    rotationCheck: true,
    resyncRequested: false,
    periodicDue: false,
    ...over,
  };
}

function spec(annotations: Record<string, string> = {}): SyncSpec {
  const parsed = parseSyncAnnotations('Deployment team-a/web', { 'vault-sync.io/path': 'secret/data/web', ...annotations });
  assert.ok(parsed.managed && parsed.spec, 'test annotations must parse');
  return parsed.spec;
}

const podSpec: PodSpecLike = {
  containers: [
    {
      name: 'app',
      env: [
        { name: 'DB_PASS', valueFrom: { secretKeyRef: { name: 'db', key: 'password' } } },
        { name: 'OPT', valueFrom: { secretKeyRef: { name: 'maybe', key: 'k', optional: true } } },
      ],
      envFrom: [{ secretRef: { name: 'api' } }],
    },
    { name: 'sidecar', envFrom: [{ secretRef: { name: 'sidecar-creds' } }] },
  ],
  volumes: [{ name: 'certs', secret: { secretName: 'tls', items: [{ key: 'tls.crt' }] } }],
};

describe('decideSync', () => {
  it('skips when nothing changed and nothing is due', () => {
    assert.deepEqual(decideSync(input()), { sync: false });
  });

  it('skips when an optional Secret was absent then and is still absent', () => {
    assert.deepEqual(decideSync(input({ recordedVersions: { db: '10' }, currentVersions: { db: '10', maybe: undefined } })), { sync: false });
  });

  it('resync request: forced and verified, and wins over every other reason', () => {
    const expected = { sync: true, reason: 'resync-requested', force: true, verify: true };
    assert.deepEqual(decideSync(input({ resyncRequested: true })), expected);
    assert.deepEqual(decideSync(input({
      resyncRequested: true, rotationCheck: false, synced: false, lastFailedRetryable: true, recordedConfig: undefined, config: 'new',
      currentVersions: { db: '11' }, periodicDue: true,
    })), expected);
  });

  it('rotation-check disabled: always syncs, forced, verifying only when periodic is due', () => {
    assert.deepEqual(decideSync(input({ rotationCheck: false })), { sync: true, reason: 'rotation-check-disabled', force: true, verify: false });
    assert.deepEqual(decideSync(input({ rotationCheck: false, periodicDue: true })), { sync: true, reason: 'rotation-check-disabled', force: true, verify: true });
  });

  it('rotation-check disabled wins over first sync, config change and Secret change', () => {
    const d = decideSync(input({ rotationCheck: false, synced: false, recordedConfig: undefined, config: 'new', currentVersions: { db: '11' } }));
    assert.deepEqual(d, { sync: true, reason: 'rotation-check-disabled', force: true, verify: false });
  });

  it('first sync when never synced, not forced', () => {
    assert.deepEqual(decideSync(input({ synced: false, recordedConfig: undefined, recordedVersions: {} })), { sync: true, reason: 'first-sync', force: false, verify: false });
  });

  it('retry instead of first sync after a retryable failure', () => {
    assert.deepEqual(decideSync(input({ synced: false, lastFailedRetryable: true })), { sync: true, reason: 'retry', force: false, verify: false });
  });

  it('first sync wins over config and Secret changes, and passes periodicDue on as verify', () => {
    const d = decideSync(input({ synced: false, config: 'new', currentVersions: { db: '11' }, periodicDue: true }));
    assert.deepEqual(d, { sync: true, reason: 'first-sync', force: false, verify: true });
  });

  it('config change', () => {
    assert.deepEqual(decideSync(input({ config: 'new' })), { sync: true, reason: 'config-changed', force: false, verify: false });
  });

  it('a synced resource without a recorded config counts as a config change', () => {
    assert.deepEqual(decideSync(input({ recordedConfig: undefined })), { sync: true, reason: 'config-changed', force: false, verify: false });
  });

  it('config change wins over a Secret change and over periodic', () => {
    const d = decideSync(input({ config: 'new', currentVersions: { db: '11', api: '20' }, periodicDue: true }));
    assert.deepEqual(d, { sync: true, reason: 'config-changed', force: false, verify: true });
  });

  const secretChanges: [string, Partial<DecisionInput>][] = [
    ['a Secret was rotated', { currentVersions: { db: '11', api: '20' } }],
    ['a Secret disappeared', { currentVersions: { db: '10', api: undefined } }],
    ['a Secret appeared', { recordedVersions: { db: '10' }, currentVersions: { db: '10', maybe: '7' } }],
    ['an absent optional Secret appeared', { recordedVersions: { db: '10', api: '20' }, currentVersions: { db: '10', api: '20', maybe: '1' } }],
    ['a Secret is no longer read', { currentVersions: { db: '10' } }],
    ['a Secret was recreated under another name', { currentVersions: { db: '10', api2: '20' } }],
  ];
  for (const [what, over] of secretChanges) {
    it(`Secret change: ${what}`, () => {
      assert.deepEqual(decideSync(input(over)), { sync: true, reason: 'secret-changed', force: false, verify: false });
    });
  }

  it('Secret change wins over periodic and keeps verify from it', () => {
    assert.deepEqual(decideSync(input({ currentVersions: { db: '11', api: '20' }, periodicDue: true })), { sync: true, reason: 'secret-changed', force: false, verify: true });
  });

  it('periodic: verifies Vault, not forced', () => {
    assert.deepEqual(decideSync(input({ periodicDue: true })), { sync: true, reason: 'periodic', force: false, verify: true });
  });

  it('a retryable failure flag alone does not trigger a sync of a synced, unchanged resource', () => {
    assert.deepEqual(decideSync(input({ lastFailedRetryable: true })), { sync: false });
  });
});

describe('configFingerprint', () => {
  const base = () => configFingerprint('Deployment', spec(), 'prod', podSpec);

  it('is a stable 16-hex-digit string', () => {
    assert.match(base(), /^[0-9a-f]{16}$/);
    assert.equal(base(), base());
    assert.equal(configFingerprint('Deployment', spec(), 'prod', structuredClone(podSpec)), base());
  });

  it('changes with the path', () => {
    assert.notEqual(configFingerprint('Deployment', spec({ 'vault-sync.io/path': 'secret/data/other' }), 'prod', podSpec), base());
  });

  it('changes with the cluster', () => {
    assert.notEqual(configFingerprint('Deployment', spec(), 'staging', podSpec), base());
    assert.notEqual(configFingerprint('Deployment', spec(), '', podSpec), base());
  });

  it('changes with the kind', () => {
    assert.notEqual(configFingerprint('Secret', spec(), 'prod', undefined), configFingerprint('Deployment', spec(), 'prod', undefined));
  });

  it('changes with adopt', () => {
    assert.notEqual(configFingerprint('Deployment', spec({ 'vault-sync.io/adopt': 'true' }), 'prod', podSpec), base());
  });

  it('changes with the secrets selection (mode, names, keys, prefix)', () => {
    const sel = (raw: string) => configFingerprint('Deployment', spec({ 'vault-sync.io/secrets': raw }), 'prod', podSpec);
    const prints = [
      base(),
      sel('[{"name":"db"}]'),
      sel('[{"name":"api"}]'),
      sel('[{"name":"db","keys":["password"]}]'),
      sel('[{"name":"db","keys":["username"]}]'),
      sel('[{"name":"db","prefix":"db_"}]'),
      sel('[{"name":"db"},{"name":"api"}]'),
    ];
    assert.equal(new Set(prints).size, prints.length, `expected all distinct: ${prints.join(' ')}`);
    assert.equal(sel('[{"name":"db"}]'), sel('[{"name":"db"}]'));
  });

  it('auto mode: changes when the pod template references another Secret, key or optionality', () => {
    const variants: PodSpecLike[] = [
      { ...podSpec, volumes: [] },
      { ...podSpec, volumes: [{ name: 'certs', secret: { secretName: 'tls2', items: [{ key: 'tls.crt' }] } }] },
      { ...podSpec, volumes: [{ name: 'certs', secret: { secretName: 'tls', items: [{ key: 'tls.key' }] } }] },
      { ...podSpec, volumes: [{ name: 'certs', secret: { secretName: 'tls', optional: true, items: [{ key: 'tls.crt' }] } }] },
      { ...podSpec, initContainers: [{ name: 'init', envFrom: [{ secretRef: { name: 'migrations' } }] }] },
      { ...podSpec, containers: [{ ...podSpec.containers![0]!, envFrom: [{ secretRef: { name: 'api', optional: true } }] }, podSpec.containers![1]!] },
    ];
    const prints = [base(), ...variants.map((v) => configFingerprint('Deployment', spec(), 'prod', v))];
    assert.equal(new Set(prints).size, prints.length);
  });

  it('auto mode: ignores where and in which order Secrets are referenced, and non-Secret env', () => {
    const reordered: PodSpecLike = {
      containers: [
        { name: 'sidecar', envFrom: [{ secretRef: { name: 'sidecar-creds' } }] },
        {
          name: 'app',
          env: [
            { name: 'PLAIN' } as never,
            { name: 'OPT', valueFrom: { secretKeyRef: { name: 'maybe', key: 'k', optional: true } } },
            { name: 'DB_PASSWORD_RENAMED', valueFrom: { secretKeyRef: { name: 'db', key: 'password' } } },
          ],
          envFrom: [{ secretRef: { name: 'api' } }],
        },
      ],
      volumes: [{ name: 'renamed-volume', secret: { secretName: 'tls', items: [{ key: 'tls.crt' }] } }],
    };
    assert.equal(configFingerprint('Deployment', spec(), 'prod', reordered), base());
  });

  it('custom mode and Secret mode: the pod template does not count', () => {
    const custom = spec({ 'vault-sync.io/secrets': '[{"name":"db"}]' });
    assert.equal(configFingerprint('Deployment', custom, 'prod', podSpec), configFingerprint('Deployment', custom, 'prod', undefined));
    assert.equal(configFingerprint('Secret', spec(), 'prod', podSpec), configFingerprint('Secret', spec(), 'prod', undefined));
  });

  it('does not change with reconcile interval, preserve-on-delete, rotation-check or a resync request', () => {
    const extras: Record<string, string>[] = [
      { 'vault-sync.io/reconcile': '5m' },
      { 'vault-sync.io/reconcile': '1h' },
      { 'vault-sync.io/preserve-on-delete': 'true' },
      { 'vault-sync.io/rotation-check': 'disabled' },
      { 'vault-sync.io/resync-requested-at': '2024-01-01T00:00:00Z' },
    ];
    for (const extra of extras) {
      assert.equal(configFingerprint('Deployment', spec(extra), 'prod', podSpec), base(), JSON.stringify(extra));
    }
  });
});

describe('contentFingerprint', () => {
  it('is a 32-hex-digit digest, independent of key order', () => {
    const a = contentFingerprint({ username: 'YWRtaW4=', password: 'czNjcmV0' });
    assert.match(a, /^[0-9a-f]{32}$/);
    assert.equal(contentFingerprint({ password: 'czNjcmV0', username: 'YWRtaW4=' }), a);
  });

  it('differs on any change of content', () => {
    const prints = [
      contentFingerprint({ a: 'x', b: 'y' }),
      contentFingerprint({ a: 'x', b: 'z' }),
      contentFingerprint({ a: 'x', c: 'y' }),
      contentFingerprint({ a: 'x' }),
      contentFingerprint({ a: 'x', b: 'y', c: '' }),
      contentFingerprint({ a: 'xb', '': 'y' }),
    ];
    assert.equal(new Set(prints).size, prints.length);
  });

  it('cannot be fooled by moving characters between key and value', () => {
    assert.notEqual(contentFingerprint({ 'a=b': 'c' }), contentFingerprint({ a: 'b=c' }));
    assert.notEqual(contentFingerprint({ ab: 'c' }), contentFingerprint({ a: 'bc' }));
    assert.notEqual(contentFingerprint({ a: 'b;c=d' }), contentFingerprint({ a: 'b', c: 'd' }));
  });

  it('treats absent data as empty', () => {
    assert.equal(contentFingerprint(undefined), contentFingerprint({}));
    assert.notEqual(contentFingerprint({}), contentFingerprint({ a: '' }));
  });
});
