// End to end security properties of the controller: secret values planted as
// canaries never reach logs, Events, annotations, /state or /metrics; and
// /metrics and /state require a token allowed by TokenReview +
// SubjectAccessReview.
import assert from 'node:assert/strict';
import type vault from 'node-vault';
import { allowUrls, createNamespace, kubeClients, serviceAccountToken, type KubeClients } from '../support/kube.ts';
import { adminVault } from '../support/vault.ts';
import { STATUS_ANNOTATION } from '../../../shared/state.ts';
import { controllerVaultAccess, startController, stopAllControllers, waitFor } from '../support/controller.ts';

const CANARY = 'CANARY-b7f3e1-do-not-leak';

describe('controller end to end: security', function () {
  this.timeout(120_000);
  let kube: KubeClients;
  let admin: vault.client;

  before(() => {
    kube = kubeClients();
    admin = adminVault();
  });
  after(() => stopAllControllers());

  it('never leaks secret values into logs, Events, annotations, /state or /metrics', async () => {
    const ns = await createNamespace(kube.core, 'canary');
    const auth = await controllerVaultAccess(admin, kube, ns);
    const ctrl = await startController({ args: [...auth, `--namespaces=${ns}`, '--metrics-auth=false', '--large-secret-threshold=1Ki'] });
    const lastApplied = JSON.stringify({ apiVersion: 'v1', kind: 'Secret', stringData: { password: CANARY } });
    const mk = (name: string, annotations: Record<string, string>, data: Record<string, string>) =>
      kube.core.createNamespacedSecret({ namespace: ns, body: { metadata: { name, annotations: { 'kubectl.kubernetes.io/last-applied-configuration': lastApplied, ...annotations } }, stringData: data } });
    await mk('ok', { 'vault-sync.io/path': `secret/data/${ns}/ok` }, { password: CANARY, binary: `${CANARY}\u0000\u00ff` });
    await mk('large', { 'vault-sync.io/path': `secret/data/${ns}/large` }, { password: CANARY.repeat(100) });
    await admin.write(`secret/data/${ns}/conflict`, { data: { other: 'x' } });
    await mk('conflict', { 'vault-sync.io/path': `secret/data/${ns}/conflict` }, { password: CANARY });
    await mk('denied', { 'vault-sync.io/path': `secret/data/elsewhere-${ns}/x` }, { password: CANARY });
    await mk('badjson', { 'vault-sync.io/path': `secret/data/${ns}/bad`, 'vault-sync.io/secrets': `[{"name":"${CANARY}"` }, { password: CANARY });
    await kube.apps.createNamespacedDeployment({
      namespace: ns,
      body: {
        metadata: { name: 'web', annotations: { 'vault-sync.io/path': `secret/data/${ns}/web`, 'vault-sync.io/secrets': '[{"name":"ok","keys":["password","missing"]}]' } },
        spec: { selector: { matchLabels: { a: 'b' } }, template: { metadata: { labels: { a: 'b' } }, spec: { containers: [{ name: 'c', image: 'x', env: [{ name: 'P', value: CANARY }] }] } } },
      },
    });
    await waitFor(async () => {
      const list = (await kube.core.listNamespacedSecret({ namespace: ns })).items;
      return ['ok', 'large', 'conflict', 'denied', 'badjson'].every((n) => list.find((s) => s.metadata?.name === n)?.metadata?.annotations?.['vault-sync.io/status']);
    }, { what: 'every Secret processed', proc: ctrl });
    await waitFor(async () => (await kube.apps.readNamespacedDeployment({ name: 'web', namespace: ns })).metadata?.annotations?.['vault-sync.io/status'] === 'Failed', { what: 'Deployment processed', proc: ctrl });
    assert.equal((await admin.read(`secret/data/${ns}/ok`)).data.data.password, CANARY, 'the value did reach Vault');

    // What the controller wrote (the user's own annotations may hold anything they typed).
    const written = (a: Record<string, string> | undefined) => Object.entries(a ?? {}).filter(([k]) => (Object.values(STATUS_ANNOTATION) as string[]).includes(k));
    const secretsAnnotations = (await kube.core.listNamespacedSecret({ namespace: ns })).items.map((s) => written(s.metadata?.annotations));
    const deploymentAnnotations = written((await kube.apps.readNamespacedDeployment({ name: 'web', namespace: ns })).metadata?.annotations);
    assert.ok(secretsAnnotations.flat().length >= 20, 'status annotations were written');
    const events = (await kube.kc.makeApiClient((await import('@kubernetes/client-node')).EventsV1Api).listNamespacedEvent({ namespace: ns })).items.map((e) => `${e.reason} ${e.note}`);
    assert.ok(events.some((e) => e.startsWith('OwnershipConflict')) && events.some((e) => e.startsWith('KeyMissing')) && events.some((e) => e.startsWith('LargeSecret')), events.join('\n'));
    const haystacks: [string, string][] = [
      ['log', ctrl.logs()],
      ['events', events.join('\n')],
      ['secret annotations', JSON.stringify(secretsAnnotations)],
      ['deployment annotations', JSON.stringify(deploymentAnnotations)],
      ['/state', await (await fetch(`${ctrl.metricsUrl}/state`)).text()],
      ['/metrics', await (await fetch(`${ctrl.metricsUrl}/metrics`)).text()],
    ];
    for (const [where, text] of haystacks) {
      assert.ok(text.length > 0, `${where} is empty`);
      assert.ok(!text.includes('CANARY'), `${where} leaks the canary: ${text.slice(Math.max(0, text.indexOf('CANARY') - 200), text.indexOf('CANARY') + 50)}`);
    }
  });

  it('protects /metrics and /state with TokenReview and SubjectAccessReview', async () => {
    const ns = await createNamespace(kube.core, 'metricsauth');
    const auth = await controllerVaultAccess(admin, kube, ns);
    const ctrl = await startController({ args: [...auth, `--namespaces=${ns}`, '--metrics-auth=true'] });
    for (const sa of ['scraper', 'nobody']) await kube.core.createNamespacedServiceAccount({ namespace: ns, body: { metadata: { name: sa } } });
    await allowUrls(kube.rbac, ns, 'scraper', ['/metrics', '/state']);
    const allowed = await serviceAccountToken(kube.core, ns, 'scraper');
    const denied = await serviceAccountToken(kube.core, ns, 'nobody');
    const get = (path: string, token?: string) => fetch(`${ctrl.metricsUrl}${path}`, { headers: token ? { Authorization: `Bearer ${token}` } : {} });
    for (const path of ['/metrics', '/state']) {
      assert.equal((await get(path)).status, 401);
      assert.equal((await get(path, 'not-a-token')).status, 401);
      assert.equal((await get(path, denied)).status, 403);
      assert.equal((await get(path, allowed)).status, 200);
    }
    assert.match(await (await get('/metrics', allowed)).text(), /vault_sync_operator_workqueue_depth/);
    assert.equal((await fetch(`${ctrl.probeUrl}/healthz`)).status, 200, 'probes need no token');
  });
});
