import assert from 'node:assert/strict';
import { deploymentChangeMatters, referencedSecrets } from '../../../controller/cluster-cache.ts';
import { projectDeployment, type DeploymentView } from '../../../shared/resources.ts';

/** A full Deployment as the API returns it. */
function rawDeployment(): any {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {
      name: 'web',
      namespace: 'team-a',
      uid: 'u-1',
      resourceVersion: '100',
      generation: 3,
      labels: { app: 'web' },
      annotations: {
        'vault-sync.io/path': 'secret/data/web',
        'vault-sync.io/reconcile': '5m',
        'deployment.kubernetes.io/revision': '3',
        'kubectl.kubernetes.io/last-applied-configuration': '{"apiVersion":"apps/v1"}',
      },
      finalizers: ['vault-sync.io/finalizer'],
      managedFields: [{ manager: 'kubectl', operation: 'Apply' }],
    },
    spec: {
      replicas: 2,
      selector: { matchLabels: { app: 'web' } },
      template: {
        metadata: { labels: { app: 'web' } },
        spec: {
          containers: [{
            name: 'app',
            image: 'web:1',
            env: [
              { name: 'MODE', value: 'prod' },
              { name: 'DB_PASS', valueFrom: { secretKeyRef: { name: 'db', key: 'password' } } },
            ],
            envFrom: [{ secretRef: { name: 'api' } }, { configMapRef: { name: 'settings' } }],
          }],
          volumes: [
            { name: 'cache', emptyDir: {} },
            { name: 'certs', secret: { secretName: 'tls' } },
          ],
        },
      },
    },
    status: { replicas: 2, readyReplicas: 2, observedGeneration: 3 },
  };
}

function view(edit: (d: any) => void = () => {}): DeploymentView {
  const raw = rawDeployment();
  edit(raw);
  const v = projectDeployment(raw);
  assert.ok(v, 'test Deployment must be tracked');
  return v;
}

describe('deploymentChangeMatters', () => {
  it('an appearance or a disappearance always matters', () => {
    assert.equal(deploymentChangeMatters(undefined, view()), true);
    assert.equal(deploymentChangeMatters(view(), undefined), true);
  });

  it('an identical projection does not matter', () => {
    assert.equal(deploymentChangeMatters(view(), view()), false);
  });

  const ignored: [string, (d: any) => void][] = [
    ['our status annotations', (d) => Object.assign(d.metadata.annotations, {
      'vault-sync.io/status': 'Synced',
      'vault-sync.io/last-sync': '2024-01-01T00:00:00Z',
      'vault-sync.io/message': 'synced 2 documents',
      'vault-sync.io/large-secret': 'true',
      'vault-sync.io/secret-versions': '{"db":"5"}',
      'vault-sync.io/sync-state': '{"v":1,"paths":[]}',
    })],
    ['scaling', (d) => { d.spec.replicas = 5; d.status.replicas = 5; }],
    ['a status update with a new resourceVersion and generation', (d) => { d.metadata.resourceVersion = '101'; d.metadata.generation = 4; d.status.readyReplicas = 1; }],
    ['kubectl last-applied-configuration and other foreign annotations', (d) => {
      d.metadata.annotations['kubectl.kubernetes.io/last-applied-configuration'] = '{"changed":true}';
      d.metadata.annotations['deployment.kubernetes.io/revision'] = '4';
    }],
    ['labels and managedFields', (d) => { d.metadata.labels.tier = 'front'; d.metadata.managedFields.push({ manager: 'other' }); }],
    ['an image or a plain env var', (d) => {
      d.spec.template.spec.containers[0].image = 'web:2';
      d.spec.template.spec.containers[0].env[0].value = 'staging';
    }],
    ['a ConfigMap reference or a non-Secret volume', (d) => {
      d.spec.template.spec.containers[0].envFrom[1].configMapRef.name = 'other-settings';
      d.spec.template.spec.volumes.push({ name: 'conf', configMap: { name: 'c' } });
    }],
  ];
  for (const [what, edit] of ignored) {
    it(`does not matter: ${what}`, () => {
      assert.equal(deploymentChangeMatters(view(), view(edit)), false);
    });
  }

  it('does not matter when only status annotations change on top of identical user annotations (either direction)', () => {
    const withStatus = view((d) => { d.metadata.annotations['vault-sync.io/status'] = 'Failed'; });
    const otherStatus = view((d) => { d.metadata.annotations['vault-sync.io/status'] = 'Synced'; });
    assert.equal(deploymentChangeMatters(withStatus, otherStatus), false);
    assert.equal(deploymentChangeMatters(withStatus, view()), false);
  });

  const mattering: [string, (d: any) => void][] = [
    ['the path', (d) => { d.metadata.annotations['vault-sync.io/path'] = 'secret/data/web2'; }],
    ['the reconcile interval', (d) => { d.metadata.annotations['vault-sync.io/reconcile'] = '10m'; }],
    ['a new secrets selection', (d) => { d.metadata.annotations['vault-sync.io/secrets'] = '[{"name":"db"}]'; }],
    ['a resync request', (d) => { d.metadata.annotations['vault-sync.io/resync-requested-at'] = '2024-05-01T00:00:00Z'; }],
    ['preserve-on-delete set', (d) => { d.metadata.annotations['vault-sync.io/preserve-on-delete'] = 'true'; }],
    ['a pod-template Secret key', (d) => { d.spec.template.spec.containers[0].env[1].valueFrom.secretKeyRef.key = 'pass'; }],
    ['a pod-template Secret name', (d) => { d.spec.template.spec.containers[0].envFrom[0].secretRef.name = 'api-v2'; }],
    ['a new Secret volume', (d) => { d.spec.template.spec.volumes.push({ name: 'more', secret: { secretName: 'more' } }); }],
    ['a new init container reading a Secret', (d) => { d.spec.template.spec.initContainers = [{ name: 'init', envFrom: [{ secretRef: { name: 'mig' } }] }]; }],
    ['a finalizer removed', (d) => { d.metadata.finalizers = []; }],
    ['another controller\'s finalizer added', (d) => { d.metadata.finalizers.push('example.com/other'); }],
    ['a deletionTimestamp', (d) => { d.metadata.deletionTimestamp = '2024-05-01T00:00:00Z'; }],
  ];
  for (const [what, edit] of mattering) {
    it(`matters: ${what}`, () => {
      assert.equal(deploymentChangeMatters(view(), view(edit)), true);
      assert.equal(deploymentChangeMatters(view(edit), view()), true);
    });
  }
});

describe('referencedSecrets', () => {
  it('auto mode: lists every Secret the pod template references', () => {
    const v = view((d) => {
      d.spec.template.spec.initContainers = [{ name: 'init', env: [{ name: 'T', valueFrom: { secretKeyRef: { name: 'opt', key: 't', optional: true } } }] }];
      d.spec.template.spec.volumes.push({ name: 'p', projected: { sources: [{ secret: { name: 'proj' } }, { configMap: { name: 'cm' } }] } });
    });
    assert.deepEqual(referencedSecrets(v).sort(), ['api', 'db', 'opt', 'proj', 'tls']);
  });

  it('custom mode: lists the selected Secrets once each, not the pod template ones', () => {
    const v = view((d) => {
      d.metadata.annotations['vault-sync.io/secrets'] = '[{"name":"db","keys":["password"]},{"name":"extra"},{"name":"db","keys":["user"],"prefix":"u_"}]';
    });
    assert.deepEqual(referencedSecrets(v).sort(), ['db', 'extra']);
  });

  it('auto mode with no Secret references lists nothing', () => {
    const v = view((d) => { d.spec.template.spec = { containers: [{ name: 'app', image: 'x' }] }; });
    assert.deepEqual(referencedSecrets(v), []);
  });

  it('invalid annotations give no references', () => {
    for (const annotations of [
      { 'vault-sync.io/path': 'secret/../sys' },
      { 'vault-sync.io/path': 'secret/data/web', 'vault-sync.io/secrets': 'not json' },
      { 'vault-sync.io/path': 'secret/data/web', 'vault-sync.io/secrets': '[]' },
      { 'vault-sync.io/path': 'secret/data/web', 'vault-sync.io/secrets': '[{"name":"Bad_Name"}]' },
    ]) {
      const v = view((d) => { d.metadata.annotations = annotations; });
      assert.deepEqual(referencedSecrets(v), [], JSON.stringify(annotations));
    }
  });

  it('a Deployment tracked only by our finalizer (annotation removed) references nothing', () => {
    const v = view((d) => { d.metadata.annotations = {}; });
    assert.deepEqual(referencedSecrets(v), []);
  });
});
