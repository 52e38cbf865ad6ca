// The shipped Vault policy is the outer bound (medium finding 7: it granted
// the whole mount). The controller runs on a token holding exactly
// deploy/vault/policy.hcl, with the binary's permissive default path policy
// `*` (the Go operator's manifests need it); a user who may only edit
// Deployments then aims one at the top of the mount and one at another mount.
// Vault itself must refuse both; the namespaced shape still works.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../../../tools/testenv/binaries.ts';
import { startController, stopAllControllers, waitFor, type ControllerProcess } from '../support/controller.ts';
import { testEnv } from '../support/env.ts';
import { createNamespace, deploymentAnnotations, kubeClients, uniqueName, type KubeClients } from '../support/kube.ts';
import { adminVault, mountKv } from '../support/vault.ts';
import { baoKvGet, deployment, limitedTenant, type Tenant } from '../support/tenant.ts';

describe('adversarial: the shipped Vault policy bounds a permissive path policy', function () {
  this.timeout(120_000);
  let kube: KubeClients;
  let ns: string;
  let other: string;
  let attacker: Tenant;
  let ctrl: ControllerProcess;
  const top = uniqueName('top');

  const outcome = async (name: string) => {
    await waitFor(async () => (await deploymentAnnotations(kube, ns, name))['vault-sync.io/status'] !== undefined, { what: `${name} processed`, proc: ctrl });
    return deploymentAnnotations(kube, ns, name);
  };
  const aim = (name: string, path: string) => attacker.apps.createNamespacedDeployment({
    namespace: ns, body: deployment(name, { 'vault-sync.io/path': path, 'vault-sync.io/secrets': '[{"name":"db"}]' }),
  });

  before(async () => {
    kube = kubeClients();
    const admin = adminVault();
    ns = await createNamespace(kube.core, 'policy');
    other = await mountKv(admin, 2, 'other');
    const policy = uniqueName('vso-shipped');
    await admin.addPolicy({ name: policy, rules: readFileSync(join(repoRoot, 'deploy', 'vault', 'policy.hcl'), 'utf8') });
    const token = (await admin.tokenCreate({ policies: [policy], ttl: '1h' })).auth.client_token as string;
    await kube.core.createNamespacedSecret({ namespace: ns, body: { metadata: { name: 'db' }, stringData: { password: 'p' } } });
    attacker = await limitedTenant(kube, ns, 'attacker', [{ apiGroups: ['apps'], resources: ['deployments'], verbs: ['*'] }]);
    ctrl = await startController({
      args: ['--vault-auth-method=token', `--vault-addr=${testEnv().vaultAddr}`, `--namespaces=${ns}`, '--path-policy=*', '--metrics-auth=false'],
      env: { VAULT_TOKEN: token },
    });
  });
  after(() => stopAllControllers());

  it('a Deployment aimed at the top of the mount, or at another mount, is refused by Vault; a namespaced path is written', async () => {
    await aim('at-top', `secret/data/${top}`);
    await aim('at-other', `${other}/data/${ns}/x`);
    await aim('in-shape', `secret/data/${ns}/app`);
    assert.equal((await outcome('in-shape'))['vault-sync.io/status'], 'Synced', 'the namespaced shape is what the policy grants');
    assert.deepEqual(await baoKvGet('secret', `${ns}/app`), { password: 'p' });
    for (const name of ['at-top', 'at-other']) {
      const a = await outcome(name);
      assert.equal(a['vault-sync.io/status'], 'Failed', `${name}: ${a['vault-sync.io/message']}`);
      assert.match(a['vault-sync.io/message']!, /permission denied|403/i, 'refused by Vault, not by the path policy');
    }
    assert.equal(await baoKvGet('secret', top), undefined, 'nothing at the top of the mount');
    assert.equal(await baoKvGet(other, `${ns}/x`), undefined, 'nothing in the other mount');
  });
});
