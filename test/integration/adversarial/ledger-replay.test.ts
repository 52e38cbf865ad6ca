// A replayed ledger (high finding 1: whatever the controller trusts from the
// ledger must be authenticated, or re-verified against Vault). A signed
// ledger cannot be forged or copied (tenant-isolation.test.ts), but a user
// who may edit a Deployment can save its valid ledger and put it back later,
// after the path it lists has become another resource's. The controller then
// must not trust the old version and tag it names: the path is claimed by
// someone else, so Vault's ownership marker decides, and the secret stays.
import assert from 'node:assert/strict';
import { startController, stopAllControllers, waitFor, type ControllerProcess } from '../support/controller.ts';
import { testEnv } from '../support/env.ts';
import { createNamespace, deploymentAnnotations, kubeClients, mergePatch, type KubeClients } from '../support/kube.ts';
import { baoKvGet, canI, deployment, limitedTenant, type Tenant } from '../support/tenant.ts';

const SYNC_STATE = 'vault-sync.io/sync-state';

describe('adversarial: a replayed ledger', function () {
  this.timeout(120_000);
  let kube: KubeClients;
  let ns: string;
  let attacker: Tenant;
  let ctrl: ControllerProcess;

  const annotationsOf = (name: string) => deploymentAnnotations(kube, ns, name);
  const volumes = [{ name: 'v', secret: { secretName: 'db' } }];

  before(async () => {
    kube = kubeClients();
    ns = await createNamespace(kube.core, 'replay');
    attacker = await limitedTenant(kube, ns, 'attacker', [{ apiGroups: ['apps'], resources: ['deployments'], verbs: ['*'] }]);
    assert.equal(await canI(attacker, 'get', 'secrets'), false, 'the attacker may not read Secrets');
    await kube.core.createNamespacedSecret({ namespace: ns, body: { metadata: { name: 'db' }, stringData: { password: 'shared-value' } } });
    ctrl = await startController({
      args: ['--vault-auth-method=token', `--vault-addr=${testEnv().vaultAddr}`, `--namespaces=${ns}`, '--path-policy=secret/{namespace}/*', '--metrics-auth=false'],
      env: { VAULT_TOKEN: testEnv().vaultToken },
    });
  });
  after(() => stopAllControllers());

  it('putting back a saved, validly signed ledger deletes nothing that has since become another resource\'s', async () => {
    // 1. The attacker's Deployment writes secret/<ns>/shared/db; its signed ledger is saved.
    await attacker.apps.createNamespacedDeployment({ namespace: ns, body: deployment('old', { 'vault-sync.io/path': `secret/data/${ns}/shared` }, { volumes }) });
    await waitFor(async () => (await annotationsOf('old'))['vault-sync.io/status'] === 'Synced', { what: 'old synced', proc: ctrl });
    const saved = (await annotationsOf('old'))[SYNC_STATE]!;
    assert.match(saved, /shared\/db/);
    // 2. It moves elsewhere: the controller cleans shared/db up.
    const patchOld = (annotations: Record<string, string>) => mergePatch(attacker.kc, `/apis/apps/v1/namespaces/${ns}/deployments/old`, { metadata: { annotations } });
    await patchOld({ 'vault-sync.io/path': `secret/data/${ns}/moved` });
    await waitFor(async () => (await baoKvGet('secret', `${ns}/shared/db`)) === undefined && (await baoKvGet('secret', `${ns}/moved/db`)) !== undefined, { what: 'old moved', proc: ctrl });
    // 3. Another resource (the namespace owner's) now writes shared/db.
    await kube.apps.createNamespacedDeployment({ namespace: ns, body: deployment('owner', { 'vault-sync.io/path': `secret/data/${ns}/shared` }, { volumes }) });
    await waitFor(async () => (await annotationsOf('owner'))['vault-sync.io/status'] === 'Synced', { what: 'owner synced', proc: ctrl });
    assert.deepEqual(await baoKvGet('secret', `${ns}/shared/db`), { password: 'shared-value' });

    // 4. The replay: the saved ledger back on the attacker's own Deployment (its MAC is valid: same resource, same UID).
    // With a resync request (the attacker may set that too), so the controller reconciles at once: the
    // listed path is not planned any more, so it is a cleanup candidate.
    await patchOld({ [SYNC_STATE]: saved, 'vault-sync.io/resync-requested-at': new Date().toISOString() });
    await waitFor(async () => (await annotationsOf('old'))[SYNC_STATE] !== saved, { what: 'the replayed ledger handled', proc: ctrl });
    assert.deepEqual(await baoKvGet('secret', `${ns}/shared/db`), { password: 'shared-value' }, 'the other resource\'s secret survived the replay');
    assert.equal((await annotationsOf('owner'))['vault-sync.io/status'], 'Synced');
    // And deleting the attacker's Deployment (its ledger still may name shared/db) deletes only what it owns.
    await attacker.apps.deleteNamespacedDeployment({ name: 'old', namespace: ns });
    await waitFor(async () => (await baoKvGet('secret', `${ns}/moved/db`)) === undefined, { what: 'old cleaned up', proc: ctrl });
    assert.deepEqual(await baoKvGet('secret', `${ns}/shared/db`), { password: 'shared-value' }, 'and survived its deletion');
  });
});
