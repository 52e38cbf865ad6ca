// SIGTERM behind a throttle backlog (issue 10, Low): a namespace user who may
// only edit Deployments queues minutes of Vault work; the controller must not
// wait for every queued Vault request at the throttle's pace (the kubelet
// would SIGKILL it and the Lease would stay held until it expires). It lets
// in-flight work finish for --graceful-shutdown-timeout, aborts the rest,
// releases the Lease and exits 0.
import assert from 'node:assert/strict';
import { metricValue, startController, waitFor } from '../support/controller.ts';
import { testEnv } from '../support/env.ts';
import { createNamespace, kubeClients } from '../support/kube.ts';
import { deployment, limitedTenant } from '../support/tenant.ts';

describe('adversarial: shutdown behind a throttle backlog', function () {
  this.timeout(120_000);

  it('SIGTERM with minutes of queued Vault work: exits 0 within the drain bound and releases the Lease', async () => {
    const kube = kubeClients();
    const ns = await createNamespace(kube.core, 'drain');
    const refs = Array.from({ length: 20 }, (_, i) => `s${i}`);
    for (const name of refs) await kube.core.createNamespacedSecret({ namespace: ns, body: { metadata: { name }, stringData: { k: name } } });
    const ctrl = await startController({
      args: [`--vault-addr=${testEnv().vaultAddr}`, '--vault-auth-method=token', `--namespaces=${ns}`, '--metrics-auth=false',
        '--leader-elect', `--leader-election-namespace=${ns}`, '--rate-limit=0.5', '--rate-limit-burst=1', '--graceful-shutdown-timeout=2s'],
      env: { VAULT_TOKEN: testEnv().vaultToken },
    });
    // One Deployment, 20 Secrets: at 0.5 requests/s that is most of a minute of Vault work.
    const attacker = await limitedTenant(kube, ns, 'attacker', [{ apiGroups: ['apps'], resources: ['deployments'], verbs: ['*'] }]);
    await attacker.apps.createNamespacedDeployment({
      namespace: ns,
      body: deployment('big', { 'vault-sync.io/path': `secret/data/${ns}/big` }, { volumes: refs.map((name) => ({ name, secret: { secretName: name } })) }),
    });
    await waitFor(async () => (await metricValue(ctrl, /^vault_rate_limit_queued_requests /)) >= 3, { what: 'a backlog in the throttle', timeoutMs: 30_000, proc: ctrl });

    const t0 = Date.now();
    const code = await ctrl.stop('SIGTERM');
    const tookMs = Date.now() - t0;
    assert.equal(code, 0, ctrl.logs().split('\n').slice(-10).join('\n'));
    assert.ok(tookMs < 2000 + 6000, `SIGTERM took ${tookMs} ms (drain bound 2 s)`);
    assert.match(ctrl.logs(), /did not finish within the drain bound/);
    const { CoordinationV1Api } = await import('@kubernetes/client-node');
    const lease = await kube.kc.makeApiClient(CoordinationV1Api).readNamespacedLease({ name: 'vault-sync-operator.io', namespace: ns });
    assert.ok(!lease.spec?.holderIdentity, `the Lease is still held by ${lease.spec?.holderIdentity}`);
  });
});
