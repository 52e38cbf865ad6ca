// The chart's ValidatingAdmissionPolicy, enforced by the real apiserver
// (medium finding 6: a compromised controller must not use its `patch` on
// Deployments and Secrets to change pod templates or Secret data): the
// controller's ServiceAccount can change only its own vault-sync.io/*
// annotations and its finalizer. Everyone else is untouched by the policy.
import assert from 'node:assert/strict';
import { KubeHttp, MERGE_PATCH, isKubeError } from '../../../shared/kube/http.ts';
import { issueToken } from '../../../tools/testenv/vault-kube-auth.ts';
import { adminKubeConfig, createNamespace, kubeClients, uniqueName } from '../support/kube.ts';
import { waitFor } from '../support/controller.ts';
import { bearerKubeConfig } from '../support/tenant.ts';
import { create, Discovery, helmTemplate, type KubeObject } from '../deploy/render.ts';

describe('adversarial: the chart\'s admission policy: the controller may patch only its own metadata', function () {
  this.timeout(120_000);
  let admin: KubeHttp;
  const created: KubeObject[] = [];
  let ns: string;
  let appNs: string;
  let asController: KubeHttp;

  before(async () => {
    admin = new KubeHttp(adminKubeConfig());
    const kube = kubeClients();
    ns = await createNamespace(kube.core, 'vap');
    appNs = await createNamespace(kube.core, 'vap-app');
    const release = uniqueName('vap');
    const rendered = helmTemplate({ release, namespace: ns, values: { config: { namespaces: [appNs] } } });
    const discovery = new Discovery(admin);
    for (const obj of rendered.filter((o) => ['ServiceAccount', 'Role', 'RoleBinding', 'ValidatingAdmissionPolicy', 'ValidatingAdmissionPolicyBinding'].includes(o.kind))) {
      await create(admin, discovery, obj, { dryRun: false });
      if (!obj.metadata.namespace) created.push(obj);
    }
    const sa = rendered.find((o) => o.kind === 'ServiceAccount')!.metadata.name;
    asController = new KubeHttp(bearerKubeConfig(kube.kc, await issueToken(admin, ns, sa, 600)));
    await admin.request('POST', `/apis/apps/v1/namespaces/${appNs}/deployments`, {
      body: {
        metadata: { name: 'web', labels: { app: 'web' }, annotations: { 'vault-sync.io/path': 'secret/data/x/web', team: 'payments' }, finalizers: ['example.com/keep'] },
        spec: { selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'c', image: 'busybox' }] } } },
      },
    });
    await admin.request('POST', `/api/v1/namespaces/${appNs}/secrets`, { body: { metadata: { name: 'db' }, stringData: { password: 'p' } } });
    // The policy takes effect once the apiserver has loaded it: wait until a forbidden patch is refused.
    await waitFor(async () => {
      try {
        await patch('deployments', 'web', { spec: { replicas: 3 } });
        await admin.request('PATCH', `/apis/apps/v1/namespaces/${appNs}/deployments/web`, { body: { spec: { replicas: 1 } }, contentType: MERGE_PATCH });
        return false;
      } catch (err) {
        return isKubeError(err, 422) || isKubeError(err, 403);
      }
    }, { what: 'the admission policy in effect', timeoutMs: 60_000 });
  });

  after(async () => {
    const discovery = new Discovery(admin);
    for (const obj of created) await admin.request('DELETE', `${await discovery.collectionPath(obj)}/${obj.metadata.name}`, { allow404: true }).catch(() => {});
  });

  const patch = (resource: 'deployments' | 'secrets', name: string, body: unknown) =>
    asController.request('PATCH', resource === 'deployments' ? `/apis/apps/v1/namespaces/${appNs}/deployments/${name}` : `/api/v1/namespaces/${appNs}/secrets/${name}`, {
      body, contentType: MERGE_PATCH,
    });
  const refused = async (what: string, resource: 'deployments' | 'secrets', name: string, body: unknown) => {
    await assert.rejects(patch(resource, name, body), (err: unknown) => isKubeError(err, 422) || isKubeError(err, 403), what);
  };

  it('lets it set and remove its annotations and its finalizer', async () => {
    await patch('deployments', 'web', { metadata: { annotations: { 'vault-sync.io/status': 'Synced' }, finalizers: ['example.com/keep', 'vault-sync.io/finalizer'] } });
    await patch('deployments', 'web', { metadata: { annotations: { 'vault-sync.io/status': null } } });
    await patch('secrets', 'db', { metadata: { annotations: { 'vault-sync.io/status': 'Synced' } } });
    const d = await admin.request('GET', `/apis/apps/v1/namespaces/${appNs}/deployments/web`);
    assert.deepEqual(d.metadata.finalizers, ['example.com/keep', 'vault-sync.io/finalizer']);
  });

  it('refuses anything else: a pod template, labels, foreign annotations and finalizers, Secret data', async () => {
    await refused('spec', 'deployments', 'web', { spec: { template: { spec: { containers: [{ name: 'c', image: 'evil' }] } } } });
    await refused('labels', 'deployments', 'web', { metadata: { labels: { app: 'other' } } });
    await refused('a foreign annotation', 'deployments', 'web', { metadata: { annotations: { team: 'attackers' } } });
    await refused('removing a foreign annotation', 'deployments', 'web', { metadata: { annotations: { team: null } } });
    await refused('a foreign finalizer', 'deployments', 'web', { metadata: { finalizers: ['vault-sync.io/finalizer'] } });
    await refused('Secret data', 'secrets', 'db', { stringData: { password: 'changed' } });
    const s = await admin.request('GET', `/api/v1/namespaces/${appNs}/secrets/db`);
    assert.equal(Buffer.from(s.data.password, 'base64').toString(), 'p');
  });

  it('does not apply to anyone else', async () => {
    await admin.request('PATCH', `/apis/apps/v1/namespaces/${appNs}/deployments/web`, { body: { metadata: { labels: { tier: 'web' } } }, contentType: MERGE_PATCH });
  });
});
