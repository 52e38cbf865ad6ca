// Two clusters sharing one Vault mount, neither with --cluster-name (the
// security review's low finding: the owner id then defaults to
// "default/<namespace>/<kind>/<name>" in both). A user of the second cluster
// who may only edit Deployments in a namespace of the same name must not
// overwrite, or by deleting their Deployment delete, the first cluster's
// secret. The second cluster is a real kube-apiserver + etcd of its own
// (its kube-system namespace has another UID), started by this test.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AppsV1Api, CoreV1Api, RbacAuthorizationV1Api } from '@kubernetes/client-node';
import { requireBinaries } from '../../../tools/testenv/binaries.ts';
import { startKube, type KubeCluster } from '../../../tools/testenv/kube.ts';
import { deploymentGone, startController, stopAllControllers, waitFor, type ControllerProcess } from '../support/controller.ts';
import { testEnv } from '../support/env.ts';
import { adminKubeConfig, deploymentAnnotations, kubeClients, uniqueName, type KubeClients } from '../support/kube.ts';
import { adminVault, readOrUndefined } from '../support/vault.ts';
import { baoKvGet, canI, deployment, limitedTenant } from '../support/tenant.ts';

describe('adversarial: clusters sharing a Vault without --cluster-name', function () {
  this.timeout(240_000);
  const dir = mkdtempSync(join(tmpdir(), 'vso-second-cluster-'));
  let second: KubeCluster;
  let a: KubeClients;
  let b: KubeClients;
  let ctrlA: ControllerProcess;
  let ctrlB: ControllerProcess;
  // The same namespace name in both clusters, so both controllers compute the same owner id.
  const ns = uniqueName('shop');
  const path = `secret/data/${ns}/web`;

  const start = (kubeconfig: string) => startController({
    args: [`--kubeconfig=${kubeconfig}`, '--vault-auth-method=token', `--vault-addr=${testEnv().vaultAddr}`, `--namespaces=${ns}`, '--path-policy=secret/{namespace}/*', '--metrics-auth=false'],
    env: { VAULT_TOKEN: testEnv().vaultToken },
  });
  const app = async (kube: KubeClients, password: string) => {
    await kube.core.createNamespace({ body: { metadata: { name: ns } } });
    await kube.core.createNamespacedSecret({ namespace: ns, body: { metadata: { name: 'db' }, stringData: { password } } });
  };
  const annotationsOf = (kube: KubeClients) => deploymentAnnotations(kube, ns, 'web');

  before(async () => {
    const bins = requireBinaries();
    second = await startKube({ dir, etcdBin: bins.etcd, apiserverBin: bins.kubeApiserver });
    a = kubeClients();
    const kc = adminKubeConfig(second.kubeconfigPath);
    b = { kc, core: kc.makeApiClient(CoreV1Api), apps: kc.makeApiClient(AppsV1Api), rbac: kc.makeApiClient(RbacAuthorizationV1Api) };
    const uids = await Promise.all([a, b].map(async (k) => (await k.core.readNamespace({ name: 'kube-system' })).metadata?.uid));
    assert.notEqual(uids[0], uids[1], 'two clusters, two kube-system UIDs');
    await app(a, 'cluster-a-value');
    await app(b, 'cluster-b-value');
    [ctrlA, ctrlB] = await Promise.all([start(testEnv().kubeconfig), start(second.kubeconfigPath)]);
  });
  after(async () => {
    await stopAllControllers();
    await second?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a namespace user of the other cluster can neither overwrite nor delete this cluster\'s secret of the same owner id', async () => {
    await a.apps.createNamespacedDeployment({ namespace: ns, body: deployment('web', { 'vault-sync.io/path': path }, { volumes: [{ name: 'v', secret: { secretName: 'db' } }] }) });
    await waitFor(async () => (await annotationsOf(a))['vault-sync.io/status'] === 'Synced', { what: 'cluster A synced', proc: ctrlA });
    assert.deepEqual(await baoKvGet('secret', `${ns}/web/db`), { password: 'cluster-a-value' });
    // The ownership marker may follow the data a moment later: the twin must meet it, not an unmarked path.
    const marker = async () => (await readOrUndefined(adminVault(), `secret/metadata/${ns}/web/db`))?.custom_metadata ?? {};
    await waitFor(async () => (await marker())['cluster-id'] !== undefined, { what: 'cluster A\'s marker in Vault', proc: ctrlA });
    assert.equal((await marker()).owner, `default/${ns}/Deployment/web`, 'the owner id both clusters compute');
    assert.equal((await marker())['cluster-id'], (await a.core.readNamespace({ name: 'kube-system' })).metadata?.uid, 'cluster A\'s UID tells them apart');

    // In the second cluster, a user who may only edit Deployments there.
    const attacker = await limitedTenant(b, ns, 'attacker', [{ apiGroups: ['apps'], resources: ['deployments'], verbs: ['*'] }]);
    assert.equal(await canI(attacker, 'get', 'secrets'), false, 'the attacker may not read Secrets');
    await attacker.apps.createNamespacedDeployment({ namespace: ns, body: deployment('web', { 'vault-sync.io/path': path }, { volumes: [{ name: 'v', secret: { secretName: 'db' } }] }) });
    await waitFor(async () => (await annotationsOf(b))['vault-sync.io/status'] !== undefined, { what: 'cluster B processed its twin', proc: ctrlB });
    assert.deepEqual(await baoKvGet('secret', `${ns}/web/db`), { password: 'cluster-a-value' }, 'cluster B did not overwrite it');
    assert.equal((await annotationsOf(b))['vault-sync.io/status'], 'Failed');
    assert.match((await annotationsOf(b))['vault-sync.io/message']!, /another cluster/);

    await attacker.apps.deleteNamespacedDeployment({ name: 'web', namespace: ns });
    await deploymentGone(b, ns, 'web', ctrlB);
    assert.deepEqual(await baoKvGet('secret', `${ns}/web/db`), { password: 'cluster-a-value' }, 'deleting the twin deleted nothing');
  });
});
