// End to end under failure: leader election and failover, an apiserver
// restart mid-watch, an OpenBao restart during a batch, periodic reconcile
// restoring deleted data, graceful shutdown, and the same bundle on Deno.
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import type vault from 'node-vault';
import type { V1Deployment } from '@kubernetes/client-node';
import { createNamespace, kubeClients, mergePatch, type KubeClients } from '../support/kube.ts';
import { microTime } from '../../../controller/status.ts';
import { adminVault, readOrUndefined, startPersistentVault } from '../support/vault.ts';
import { ownedEnv } from '../support/env.ts';
import { controllerVaultAccess, startController, stopAllControllers, waitFor, type ControllerProcess } from '../support/controller.ts';

const deployment = (name: string, path: string, secret: string): V1Deployment => ({
  metadata: { name, annotations: { 'vault-sync.io/path': path } },
  spec: {
    selector: { matchLabels: { app: name } },
    template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'c', image: 'busybox', envFrom: [{ secretRef: { name: secret } }] }] } },
  },
});

describe('controller end to end under failure', function () {
  this.timeout(180_000);
  let kube: KubeClients;
  let admin: vault.client;

  const read = async (client: vault.client, path: string) => (await readOrUndefined(client, path))?.data;

  before(() => {
    kube = kubeClients();
    admin = adminVault();
  });
  afterEach(() => stopAllControllers());

  it('elects one leader; when it is killed the other takes over and finishes the work', async () => {
    const ns = await createNamespace(kube.core, 'lease');
    const auth = await controllerVaultAccess(admin, kube, ns);
    const args = [...auth, `--namespaces=${ns}`, '--metrics-auth=false', '--leader-elect', `--leader-election-namespace=${ns}`,
      '--leader-elect-lease-duration=4s', '--leader-elect-renew-deadline=3s', '--leader-elect-retry-period=1s'];
    const a = await startController({ args });
    const b = await startController({ args });
    const leaderOf = async (p: ControllerProcess) => ((await (await fetch(`${p.metricsUrl}/state`)).json()) as any).leader as boolean;
    await waitFor(async () => (await leaderOf(a)) !== (await leaderOf(b)), { what: 'exactly one leader' });
    const [leader, follower] = (await leaderOf(a)) ? [a, b] : [b, a];

    await kube.core.createNamespacedSecret({ namespace: ns, body: { metadata: { name: 's0' }, stringData: { k: '0' } } });
    await kube.apps.createNamespacedDeployment({ namespace: ns, body: deployment('d0', `secret/data/${ns}/d0`, 's0') });
    await waitFor(async () => (await read(admin, `secret/data/${ns}/d0/s0`)) !== undefined, { what: 'leader syncs', proc: leader });
    assert.ok(!follower.logs().includes('"msg":"reconciling"'), 'the follower did no work');

    leader.child.kill('SIGKILL');
    // Work created while nobody leads is picked up by the new leader.
    for (let i = 1; i <= 5; i++) {
      await kube.core.createNamespacedSecret({ namespace: ns, body: { metadata: { name: `s${i}` }, stringData: { k: String(i) } } });
      await kube.apps.createNamespacedDeployment({ namespace: ns, body: deployment(`d${i}`, `secret/data/${ns}/d${i}`, `s${i}`) });
    }
    await waitFor(async () => leaderOf(follower), { what: 'follower takes over', timeoutMs: 20_000, proc: follower });
    for (let i = 1; i <= 5; i++) {
      await waitFor(async () => (await read(admin, `secret/data/${ns}/d${i}/s${i}`))?.k === String(i), { what: `d${i} synced by the new leader`, proc: follower });
    }
    const lease = await kube.kc.makeApiClient((await import('@kubernetes/client-node')).CoordinationV1Api).readNamespacedLease({ name: 'vault-sync-operator.io', namespace: ns });
    assert.ok((lease.spec?.leaseTransitions ?? 0) >= 1);

    // SIGTERM drains and releases the lease at once.
    assert.equal(await follower.stop('SIGTERM'), 0);
    const released = await kube.kc.makeApiClient((await import('@kubernetes/client-node')).CoordinationV1Api).readNamespacedLease({ name: 'vault-sync-operator.io', namespace: ns });
    assert.ok(!released.spec?.holderIdentity, `lease still held by ${released.spec?.holderIdentity}`);
  });

  it('a leader that loses its lease stops and exits non-zero', async () => {
    const ns = await createNamespace(kube.core, 'leaselost');
    const auth = await controllerVaultAccess(admin, kube, ns);
    const ctrl = await startController({ args: [...auth, `--namespaces=${ns}`, '--metrics-auth=false', '--leader-elect', `--leader-election-namespace=${ns}`,
      '--leader-elect-lease-duration=4s', '--leader-elect-renew-deadline=3s', '--leader-elect-retry-period=1s'] });
    const { CoordinationV1Api } = await import('@kubernetes/client-node');
    const leases = kube.kc.makeApiClient(CoordinationV1Api);
    await waitFor(async () => Boolean((await leases.readNamespacedLease({ name: 'vault-sync-operator.io', namespace: ns })).spec?.holderIdentity), { what: 'lease taken', proc: ctrl });
    // Another candidate takes the lease over (as after a network partition).
    await mergePatch(kube.kc, `/apis/coordination.k8s.io/v1/namespaces/${ns}/leases/vault-sync-operator.io`,
      { spec: { holderIdentity: 'someone-else', renewTime: microTime(new Date()), leaseDurationSeconds: 60 } });
    const started = Date.now();
    const code = await Promise.race([ctrl.exited, sleep(15_000).then(() => 'still running')]);
    assert.equal(code, 1, ctrl.logs().split('\n').slice(-5).join('\n'));
    assert.ok(Date.now() - started < 10_000);
    assert.match(ctrl.logs(), /lease lost/);
  });

  it('survives an apiserver restart mid-watch: nothing is lost', async () => {
    const env = ownedEnv(); // needs the servers in-process: run without VSO_TESTENV
    const ns = await createNamespace(kube.core, 'apirestart');
    const auth = await controllerVaultAccess(admin, kube, ns);
    const ctrl = await startController({ args: [...auth, `--namespaces=${ns}`, '--metrics-auth=false'] });
    await kube.core.createNamespacedSecret({ namespace: ns, body: { metadata: { name: 'before' }, stringData: { k: 'v' } } });
    await kube.apps.createNamespacedDeployment({ namespace: ns, body: deployment('before', `secret/data/${ns}/before`, 'before') });
    await waitFor(async () => (await read(admin, `secret/data/${ns}/before/before`)) !== undefined, { what: 'synced before restart', proc: ctrl });

    await env.kube.restartApiserver();
    await kube.core.createNamespacedSecret({ namespace: ns, body: { metadata: { name: 'after' }, stringData: { k: 'v' } } });
    await kube.apps.createNamespacedDeployment({ namespace: ns, body: deployment('after', `secret/data/${ns}/after`, 'after') });
    await waitFor(async () => (await read(admin, `secret/data/${ns}/after/after`)) !== undefined, { what: 'synced after restart', proc: ctrl, timeoutMs: 60_000 });
    await kube.core.replaceNamespacedSecret({ name: 'before', namespace: ns, body: { metadata: { name: 'before' }, stringData: { k: 'rotated' } } });
    await waitFor(async () => (await read(admin, `secret/data/${ns}/before/before`))?.k === 'rotated', { what: 'rotation after restart', proc: ctrl });
    assert.equal((await fetch(`${ctrl.probeUrl}/readyz`)).status, 200);
  });

  it('finishes a batch across an OpenBao restart (persistent storage)', async () => {
    const bao = await startPersistentVault();
    try {
      const ns = await createNamespace(kube.core, 'baorestart');
      const ctrl = await startController({
        args: [`--vault-addr=${bao.addr}`, '--vault-auth-method=token', `--namespaces=${ns}`, '--metrics-auth=false', '--rate-limit=5', '--rate-limit-burst=2', '--vault-timeout=2s'],
        env: { VAULT_TOKEN: bao.rootToken },
      });
      const count = 8;
      for (let i = 0; i < count; i++) await kube.core.createNamespacedSecret({ namespace: ns, body: { metadata: { name: `s${i}`, annotations: { 'vault-sync.io/path': `secret/data/${ns}/s${i}` } }, stringData: { k: String(i) } } });
      // Throttled to 5 requests/s, the batch is still running when OpenBao goes away.
      await sleep(1500);
      await bao.restart();
      const client = (await import('node-vault')).default({ endpoint: bao.addr, token: bao.rootToken } as never);
      for (let i = 0; i < count; i++) {
        await waitFor(async () => (await read(client, `secret/data/${ns}/s${i}`))?.k === String(i), { what: `s${i} after the restart`, proc: ctrl, timeoutMs: 60_000 });
      }
    } finally {
      await bao.stop();
    }
  });

  it('periodic reconcile restores data deleted from Vault behind its back', async function () {
    this.timeout(90_000);
    const ns = await createNamespace(kube.core, 'periodic');
    const auth = await controllerVaultAccess(admin, kube, ns);
    const ctrl = await startController({ args: [...auth, `--namespaces=${ns}`, '--metrics-auth=false'] });
    await kube.core.createNamespacedSecret({ namespace: ns, body: { metadata: { name: 'p', annotations: { 'vault-sync.io/path': `secret/data/${ns}/p`, 'vault-sync.io/reconcile': '30s' } }, stringData: { k: 'v' } } });
    await waitFor(async () => (await read(admin, `secret/data/${ns}/p`)) !== undefined, { what: 'first sync', proc: ctrl });
    await admin.delete(`secret/metadata/${ns}/p`);
    await waitFor(async () => (await read(admin, `secret/data/${ns}/p`))?.k === 'v', { what: 'restored by periodic reconcile', proc: ctrl, timeoutMs: 45_000, intervalMs: 500 });
  });

  it('runs the same bundle on Deno 2', async () => {
    const ns = await createNamespace(kube.core, 'deno');
    const auth = await controllerVaultAccess(admin, kube, ns);
    const ctrl = await startController({ runtime: 'deno', args: [...auth, `--namespaces=${ns}`, '--metrics-auth=false'] });
    await kube.core.createNamespacedSecret({ namespace: ns, body: { metadata: { name: 'd', annotations: { 'vault-sync.io/path': `secret/data/${ns}/d` } }, stringData: { k: 'deno' } } });
    await waitFor(async () => (await read(admin, `secret/data/${ns}/d`))?.k === 'deno', { what: 'sync under Deno', proc: ctrl });
    await waitFor(async () => /vault_sync_operator_sync_attempts_total\{kind="Secret",result="success"\} 1/.test(await (await fetch(`${ctrl.metricsUrl}/metrics`)).text()), { what: 'the sync counted under Deno', proc: ctrl });
    assert.equal(await ctrl.stop('SIGTERM'), 0);
  });
});
