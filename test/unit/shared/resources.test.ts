import assert from 'node:assert/strict';
import { discoverSecretReferences } from '../../../shared/discovery.ts';
import {
  collectionPath, resourceKey, isTracked, objectPath, parseResourceKey, projectDeployment, projectSecret, resourceLabel, type ResourceRef,
} from '../../../shared/resources.ts';

const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';

function metadata(annotations: Record<string, string>, extra: Record<string, unknown> = {}): any {
  return {
    name: 'web',
    namespace: 'team-a',
    uid: 'u-1',
    resourceVersion: '42',
    generation: 7,
    labels: { app: 'web' },
    ownerReferences: [{ kind: 'Thing', name: 'x' }],
    managedFields: [{ manager: 'kubectl-client-side-apply', operation: 'Update', fieldsV1: { 'f:metadata': {} } }],
    annotations,
    ...extra,
  };
}

const fullPodSpec = {
  serviceAccountName: 'web',
  containers: [
    {
      name: 'app',
      image: 'web:1',
      command: ['/bin/web'],
      ports: [{ containerPort: 8080 }],
      resources: { limits: { cpu: '1' } },
      env: [
        { name: 'PLAIN', value: 'x' },
        { name: 'FROM_CM', valueFrom: { configMapKeyRef: { name: 'cm', key: 'k' } } },
        { name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
        { name: 'DB_PASS', valueFrom: { secretKeyRef: { name: 'db', key: 'password' } } },
        { name: 'OPT', valueFrom: { secretKeyRef: { name: 'maybe', key: 'k', optional: true } } },
      ],
      envFrom: [{ configMapRef: { name: 'settings' } }, { secretRef: { name: 'api' }, prefix: 'API_' }],
      volumeMounts: [{ name: 'certs', mountPath: '/certs' }],
    },
    { name: 'sidecar', image: 'proxy:1' },
  ],
  initContainers: [{ name: 'migrate', image: 'm:1', envFrom: [{ secretRef: { name: 'migrations', optional: true } }] }],
  volumes: [
    { name: 'cache', emptyDir: {} },
    { name: 'conf', configMap: { name: 'conf' } },
    { name: 'certs', secret: { secretName: 'tls', items: [{ key: 'tls.crt', path: 'tls.crt' }] } },
    { name: 'proj', projected: { sources: [{ configMap: { name: 'cm' } }, { secret: { name: 'proj-secret', items: [{ key: 'ca' }] } }, { serviceAccountToken: { path: 't' } }] } },
    { name: 'proj-cm-only', projected: { sources: [{ configMap: { name: 'cm' } }, { downwardAPI: { items: [] } }] } },
  ],
};

function deployment(annotations: Record<string, string>, extra: Record<string, unknown> = {}): any {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: metadata(annotations, extra),
    spec: { replicas: 3, template: { metadata: { labels: { app: 'web' } }, spec: structuredClone(fullPodSpec) } },
    status: { replicas: 3 },
  };
}

describe('projectDeployment', () => {
  it('drops Deployments the controller does not manage', () => {
    assert.equal(projectDeployment(deployment({ [LAST_APPLIED]: '{}', 'deployment.kubernetes.io/revision': '1' })), undefined);
    assert.equal(projectDeployment(deployment({})), undefined);
    assert.equal(projectDeployment({ metadata: { name: 'x' } }), undefined);
    assert.equal(projectDeployment(undefined), undefined);
    assert.equal(projectDeployment(null), undefined);
    // Status annotations alone do not make it ours: only the path, the ledger or the finalizer do.
    assert.equal(projectDeployment(deployment({ 'vault-sync.io/status': 'Synced', 'vault-sync.io/secrets': '[{"name":"db"}]' })), undefined);
  });

  it('keeps Deployments with the path annotation, our finalizer, or our ledger', () => {
    assert.ok(projectDeployment(deployment({ 'vault-sync.io/path': 'secret/data/web' })));
    assert.ok(projectDeployment(deployment({}, { finalizers: ['example.com/x', 'vault-sync.io/finalizer'] })));
    assert.ok(projectDeployment(deployment({ 'vault-sync.io/sync-state': '{"v":1,"paths":[]}' })));
    assert.equal(projectDeployment(deployment({}, { finalizers: ['example.com/x'] })), undefined);
  });

  it('keeps only vault-sync.io annotations, finalizers, deletion time and identity', () => {
    const v = projectDeployment(deployment({
      'vault-sync.io/path': 'secret/data/web',
      'vault-sync.io/status': 'Synced',
      [LAST_APPLIED]: '{"metadata":{"annotations":{"vault-sync.io/path":"secret/data/web"}}}',
      'deployment.kubernetes.io/revision': '3',
      'example.com/vault-sync.io/path': 'not ours',
    }, { finalizers: ['vault-sync.io/finalizer'], deletionTimestamp: '2024-05-01T10:00:00Z' }));
    assert.ok(v);
    assert.deepEqual(v.metadata, {
      name: 'web',
      namespace: 'team-a',
      uid: 'u-1',
      resourceVersion: '42',
      annotations: { 'vault-sync.io/path': 'secret/data/web', 'vault-sync.io/status': 'Synced' },
      finalizers: ['vault-sync.io/finalizer'],
      deletionTimestamp: '2024-05-01T10:00:00Z',
    });
    const json = JSON.stringify(v);
    assert.ok(!json.includes('last-applied'));
    assert.ok(!json.includes('managedFields') && !json.includes('kubectl-client-side-apply'));
    assert.ok(!json.includes('labels') && !json.includes('generation') && !json.includes('ownerReferences'));
  });

  it('omits annotations, finalizers and deletion time when there are none of ours', () => {
    const v = projectDeployment(deployment({ [LAST_APPLIED]: '{}' }, { finalizers: ['vault-sync.io/finalizer'] }));
    assert.ok(v);
    assert.equal('annotations' in v.metadata, false);
    assert.equal('deletionTimestamp' in v.metadata, false);
    const bare = projectDeployment(deployment({ 'vault-sync.io/path': 'secret/x' }, { finalizers: [] }));
    assert.ok(bare);
    assert.equal('finalizers' in bare.metadata, false);
  });

  it('copies the finalizer list instead of sharing it', () => {
    const raw = deployment({ 'vault-sync.io/path': 'secret/x' }, { finalizers: ['vault-sync.io/finalizer'] });
    const v = projectDeployment(raw);
    raw.metadata.finalizers.push('late');
    assert.deepEqual(v?.metadata.finalizers, ['vault-sync.io/finalizer']);
  });

  it('trims the pod spec to Secret references only', () => {
    const v = projectDeployment(deployment({ 'vault-sync.io/path': 'secret/data/web' }));
    assert.ok(v);
    assert.deepEqual(v.podSpec, {
      containers: [
        {
          name: 'app',
          env: [
            { name: 'DB_PASS', valueFrom: { secretKeyRef: { name: 'db', key: 'password' } } },
            { name: 'OPT', valueFrom: { secretKeyRef: { name: 'maybe', key: 'k', optional: true } } },
          ],
          envFrom: [{ secretRef: { name: 'api' } }],
        },
        { name: 'sidecar', env: [], envFrom: [] },
      ],
      initContainers: [{ name: 'migrate', env: [], envFrom: [{ secretRef: { name: 'migrations', optional: true } }] }],
      ephemeralContainers: undefined,
      volumes: [
        { name: 'certs', secret: { secretName: 'tls', items: [{ key: 'tls.crt', path: 'tls.crt' }] } },
        { name: 'proj', projected: { sources: [{ secret: { name: 'proj-secret', items: [{ key: 'ca' }] } }] } },
      ],
    });
  });

  it('loses nothing Secret discovery needs', () => {
    const v = projectDeployment(deployment({ 'vault-sync.io/path': 'secret/data/web' }));
    assert.ok(v);
    const strip = (m: ReturnType<typeof discoverSecretReferences>) =>
      [...m.values()].map((r) => ({ name: r.name, optional: r.optional, keys: [...r.requiredKeys].sort() })).sort((a, b) => (a.name < b.name ? -1 : 1));
    assert.deepEqual(strip(discoverSecretReferences(v.podSpec)), strip(discoverSecretReferences(fullPodSpec as never)));
    assert.deepEqual([...discoverSecretReferences(v.podSpec).keys()].sort(), ['api', 'db', 'maybe', 'migrations', 'proj-secret', 'tls']);
  });

  it('copes with a Deployment without a pod template', () => {
    const v = projectDeployment({ metadata: metadata({ 'vault-sync.io/path': 'secret/x' }) });
    assert.ok(v);
    assert.deepEqual(v.podSpec, { containers: undefined, initContainers: undefined, ephemeralContainers: undefined, volumes: [] });
  });
});

describe('projectSecret', () => {
  it('keeps every Secret, metadata only, without foreign annotations', () => {
    const raw = {
      apiVersion: 'v1',
      kind: 'Secret',
      type: 'Opaque',
      metadata: metadata({
        [LAST_APPLIED]: '{"data":{"password":"czNjcmV0"}}',
        'vault-sync.io/path': 'secret/data/db',
        'vault-sync.io/secret-versions': '{"db":"41"}',
        'other.io/note': 'hello',
      }),
      data: { password: 'czNjcmV0' },
      stringData: { token: 'plain-token' },
    };
    const v = projectSecret(raw);
    assert.deepEqual(v, {
      metadata: {
        name: 'web', namespace: 'team-a', uid: 'u-1', resourceVersion: '42',
        annotations: { 'vault-sync.io/path': 'secret/data/db', 'vault-sync.io/secret-versions': '{"db":"41"}' },
      },
    });
    const json = JSON.stringify(v);
    assert.ok(!json.includes('czNjcmV0') && !json.includes('plain-token'), 'no Secret data may survive the projection');
  });

  it('keeps unannotated Secrets too (their resourceVersion is the rotation signal)', () => {
    const v = projectSecret({ metadata: metadata({ [LAST_APPLIED]: '{"data":{}}' }) });
    assert.deepEqual(v, { metadata: { name: 'web', namespace: 'team-a', uid: 'u-1', resourceVersion: '42' } });
    assert.equal(isTracked(v.metadata), false);
  });

  it('copes with a missing object', () => {
    assert.deepEqual(projectSecret(undefined).metadata.annotations, undefined);
  });
});

describe('isTracked', () => {
  it('is true for the path annotation, the ledger or our finalizer only', () => {
    assert.equal(isTracked(undefined), false);
    assert.equal(isTracked({}), false);
    assert.equal(isTracked({ annotations: { 'vault-sync.io/path': '' } }), true);
    assert.equal(isTracked({ annotations: { 'vault-sync.io/sync-state': '{}' } }), true);
    assert.equal(isTracked({ finalizers: ['vault-sync.io/finalizer'] }), true);
    assert.equal(isTracked({ annotations: { 'vault-sync.io/status': 'Synced', 'vault-sync.io/message': 'x' } }), false);
    assert.equal(isTracked({ finalizers: ['vault-sync.io/other'] }), false);
  });
});

describe('resource keys and API paths', () => {
  const keys: ResourceRef[] = [
    { kind: 'Deployment', namespace: 'team-a', name: 'web' },
    { kind: 'Secret', namespace: 'kube-system', name: 'db.credentials-1' },
  ];

  it('resourceKey and parseResourceKey round-trip', () => {
    assert.equal(resourceKey(keys[0]!), 'Deployment/team-a/web');
    assert.equal(resourceKey(keys[1]!), 'Secret/kube-system/db.credentials-1');
    for (const k of keys) assert.deepEqual(parseResourceKey(resourceKey(k)), k);
  });

  for (const bad of ['', 'Deployment', 'Deployment/team-a', 'Deployment/team-a/', 'Deployment//web', '/team-a/web', 'Pod/team-a/web', 'deployment/team-a/web', 'ConfigMap/a/b', 'Deployment/a/b/c']) {
    it(`parseResourceKey rejects ${JSON.stringify(bad)}`, () => {
      assert.throws(() => parseResourceKey(bad), /bad resource key/);
    });
  }

  it('objectPath', () => {
    assert.equal(objectPath(keys[0]!), '/apis/apps/v1/namespaces/team-a/deployments/web');
    assert.equal(objectPath(keys[1]!), '/api/v1/namespaces/kube-system/secrets/db.credentials-1');
  });

  it('collectionPath, namespaced and cluster-wide', () => {
    assert.equal(collectionPath('Deployment', 'team-a'), '/apis/apps/v1/namespaces/team-a/deployments');
    assert.equal(collectionPath('Secret', 'team-a'), '/api/v1/namespaces/team-a/secrets');
    assert.equal(collectionPath('Deployment', undefined), '/apis/apps/v1/deployments');
    assert.equal(collectionPath('Secret', undefined), '/api/v1/secrets');
    assert.equal(collectionPath('Secret', ''), '/api/v1/secrets');
  });

  it('resourceLabel', () => {
    assert.equal(resourceLabel('Deployment', 'team-a', 'web'), 'Deployment team-a/web');
  });
});
