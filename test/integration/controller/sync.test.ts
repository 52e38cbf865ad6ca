// End to end: the controller bundle against the real apiserver and OpenBao,
// logged in with kubernetes auth. Each behaviour is observed from outside:
// what lands in Vault, what the resource's annotations and Events say.
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import type vault from 'node-vault';
import type { V1Deployment } from '@kubernetes/client-node';
import { createNamespace, kubeClients, mergePatch, type KubeClients } from '../support/kube.ts';
import { adminVault, readOrUndefined } from '../support/vault.ts';
import { controllerVaultAccess, deploymentGone, metricValue, startController, stopAllControllers, waitFor, type ControllerProcess } from '../support/controller.ts';

function deployment(name: string, annotations: Record<string, string>, secretRefs: string[] = []): V1Deployment {
  return {
    metadata: { name, annotations },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: { containers: [{ name: 'app', image: 'busybox', envFrom: secretRefs.map((s) => ({ secretRef: { name: s } })) }] },
      },
    },
  };
}

describe('controller end to end (kubernetes auth, real apiserver and OpenBao)', function () {
  this.timeout(120_000);
  let kube: KubeClients;
  let admin: vault.client;
  let ns: string;
  let ctrl: ControllerProcess;

  const vaultData = async (path: string): Promise<Record<string, string> | undefined> => (await readOrUndefined(admin, path))?.data;
  const vaultMeta = (path: string): Promise<any> => readOrUndefined(admin, path);
  const annotationsOf = async (kind: 'Deployment' | 'Secret', name: string) =>
    (kind === 'Deployment' ? await kube.apps.readNamespacedDeployment({ name, namespace: ns }) : await kube.core.readNamespacedSecret({ name, namespace: ns })).metadata?.annotations ?? {};
  const secret = (name: string, data: Record<string, string>, annotations?: Record<string, string>) =>
    kube.core.createNamespacedSecret({ namespace: ns, body: { metadata: { name, annotations }, stringData: data } });
  const objPath = (kind: 'Deployment' | 'Secret', name: string) =>
    kind === 'Deployment' ? `/apis/apps/v1/namespaces/${ns}/deployments/${name}` : `/api/v1/namespaces/${ns}/secrets/${name}`;
  const patch = (kind: 'Deployment' | 'Secret', name: string, body: unknown) => mergePatch(kube.kc, objPath(kind, name), body);
  const patchAnnotations = (kind: 'Deployment' | 'Secret', name: string, annotations: Record<string, string | null>) =>
    patch(kind, name, { metadata: { annotations } });
  const events = async (name: string) =>
    ((await kube.kc.makeApiClient((await import('@kubernetes/client-node')).EventsV1Api).listNamespacedEvent({ namespace: ns })).items ?? [])
      .filter((e) => e.regarding?.name === name)
      .map((e) => `${e.reason}: ${e.note}`);

  before(async () => {
    kube = kubeClients();
    admin = adminVault();
    ns = await createNamespace(kube.core, 'e2e');
    const auth = await controllerVaultAccess(admin, kube, ns);
    ctrl = await startController({ args: [...auth, `--namespaces=${ns}`, '--metrics-auth=false', '--large-secret-threshold=64Ki'] });
  });
  after(async () => {
    await stopAllControllers();
  });

  it('syncs a Deployment in custom mode: listed keys with prefixes, status, finalizer, Event', async () => {
    await secret('db', { username: 'app', password: 'pw1', ignored: 'x' });
    await secret('api', { token: 't1' });
    await kube.apps.createNamespacedDeployment({
      namespace: ns,
      body: deployment('custom', {
        'vault-sync.io/path': `secret/data/${ns}/custom`,
        'vault-sync.io/secrets': '[{"name":"db","keys":["username","password"],"prefix":"db_"},{"name":"api"}]',
      }),
    });
    await waitFor(async () => (await vaultData(`secret/data/${ns}/custom`)) !== undefined, { what: 'custom document', proc: ctrl });
    assert.deepEqual(await vaultData(`secret/data/${ns}/custom`), { db_username: 'app', db_password: 'pw1', token: 't1' });
    await waitFor(async () => (await annotationsOf('Deployment', 'custom'))['vault-sync.io/status'] === 'Synced', { what: 'status', proc: ctrl });
    const d = await kube.apps.readNamespacedDeployment({ name: 'custom', namespace: ns });
    assert.ok(d.metadata?.finalizers?.includes('vault-sync.io/finalizer'));
    const a = d.metadata!.annotations!;
    assert.ok(JSON.parse(a['vault-sync.io/secret-versions']!).db);
    const record = JSON.parse(a['vault-sync.io/sync-state']!);
    assert.deepEqual(record.paths[0].keys.sort(), ['db_password', 'db_username', 'token']);
    await waitFor(async () => (await events('custom')).some((e) => e.startsWith('Synced:')), { what: 'Synced event' });
  });

  it('auto-discovers referenced Secrets into <path>/<secret-name>', async () => {
    await secret('auto-a', { k: 'a' });
    await secret('auto-b', { k: 'b' });
    await kube.apps.createNamespacedDeployment({ namespace: ns, body: deployment('auto', { 'vault-sync.io/path': `secret/data/${ns}/auto` }, ['auto-a', 'auto-b']) });
    await waitFor(async () => (await vaultData(`secret/data/${ns}/auto/auto-b`)) !== undefined, { what: 'auto sub-paths', proc: ctrl });
    assert.deepEqual(await vaultData(`secret/data/${ns}/auto/auto-a`), { k: 'a' });
    assert.equal(await vaultData(`secret/data/${ns}/auto`), undefined, 'nothing at the base path itself');
  });

  it('re-syncs within seconds when a referenced Secret rotates (the Go operator waited for a Deployment change)', async () => {
    const before = (await vaultMeta(`secret/metadata/${ns}/custom`)).current_version;
    const started = Date.now();
    await patch('Secret', 'db', { stringData: { password: 'pw2' } });
    await waitFor(async () => (await vaultData(`secret/data/${ns}/custom`))?.db_password === 'pw2', { what: 'rotation', proc: ctrl, timeoutMs: 10_000 });
    assert.ok(Date.now() - started < 5000, `took ${Date.now() - started} ms`);
    assert.equal((await vaultMeta(`secret/metadata/${ns}/custom`)).current_version, before + 1);
  });

  it('costs zero Vault calls for changes that do not matter (scale, unrelated annotation)', async () => {
    // Earlier tests' ownership markers go out in spare budget; let them finish first.
    await waitFor(async () => (await metricValue(ctrl, /^vault_sync_operator_ownership_markers_pending/)) === 0, { what: 'markers written', proc: ctrl });
    await sleep(500);
    const before = await metricValue(ctrl, /^vault_sync_operator_vault_requests_total/);
    await patch('Deployment', 'custom', { spec: { replicas: 3 }, metadata: { annotations: { team: 'payments' } } });
    await sleep(1500);
    assert.equal(await metricValue(ctrl, /^vault_sync_operator_vault_requests_total/), before);
  });

  it('syncs a Secret in Secret mode without looping on its own annotation writes', async () => {
    await secret('self', { a: '1', b: '2' }, { 'vault-sync.io/path': `secret/data/${ns}/self` });
    await waitFor(async () => (await annotationsOf('Secret', 'self'))['vault-sync.io/status'] === 'Synced', { what: 'secret mode sync', proc: ctrl });
    assert.deepEqual(await vaultData(`secret/data/${ns}/self`), { a: '1', b: '2' });
    const rv1 = (await kube.core.readNamespacedSecret({ name: 'self', namespace: ns })).metadata!.resourceVersion;
    const writes1 = await metricValue(ctrl, /^vault_sync_operator_vault_requests_total\{operation="write"/);
    await sleep(3000);
    const rv2 = (await kube.core.readNamespacedSecret({ name: 'self', namespace: ns })).metadata!.resourceVersion;
    assert.equal(rv2, rv1, 'the Secret is not rewritten over and over');
    assert.equal(await metricValue(ctrl, /^vault_sync_operator_vault_requests_total\{operation="write"/), writes1);
    assert.equal((await vaultMeta(`secret/metadata/${ns}/self`)).current_version, 1);
  });

  it('forces one sync on a new resync-requested-at value, and records it', async () => {
    const before = (await vaultMeta(`secret/metadata/${ns}/auto/auto-a`)).current_version;
    await patchAnnotations('Deployment', 'auto', { 'vault-sync.io/resync-requested-at': '2026-11-27T10:00:00Z' });
    await waitFor(async () => JSON.parse((await annotationsOf('Deployment', 'auto'))['vault-sync.io/sync-state'] ?? '{}').resync === '2026-11-27T10:00:00Z', { what: 'resync recorded', proc: ctrl });
    assert.equal((await vaultMeta(`secret/metadata/${ns}/auto/auto-a`)).current_version, before + 1);
    await sleep(1000);
    assert.equal((await vaultMeta(`secret/metadata/${ns}/auto/auto-a`)).current_version, before + 1, 'exactly one forced write');
  });

  it('moves the data when the path changes: new path written, old path removed', async () => {
    await patchAnnotations('Deployment', 'auto', { 'vault-sync.io/path': `secret/data/${ns}/moved` });
    await waitFor(async () => (await vaultData(`secret/data/${ns}/moved/auto-a`)) !== undefined, { what: 'new path', proc: ctrl });
    await waitFor(async () => (await vaultMeta(`secret/metadata/${ns}/auto/auto-a`)) === undefined, { what: 'old path cleaned', proc: ctrl });
    const record = JSON.parse((await annotationsOf('Deployment', 'auto'))['vault-sync.io/sync-state']!);
    assert.deepEqual(record.paths.map((p: any) => p.path).sort(), [`secret/data/${ns}/moved/auto-a`, `secret/data/${ns}/moved/auto-b`]);
  });

  it('cleans every path, auto-discovery sub-paths included, when the Deployment is deleted', async () => {
    await kube.apps.deleteNamespacedDeployment({ name: 'auto', namespace: ns });
    await waitFor(async () => (await vaultMeta(`secret/metadata/${ns}/moved/auto-a`)) === undefined && (await vaultMeta(`secret/metadata/${ns}/moved/auto-b`)) === undefined, { what: 'cleanup', proc: ctrl });
    await deploymentGone(kube, ns, 'auto');
  });

  it('keeps Vault data on delete with preserve-on-delete', async () => {
    await secret('keep-src', { k: 'v' });
    await kube.apps.createNamespacedDeployment({ namespace: ns, body: deployment('keep', { 'vault-sync.io/path': `secret/data/${ns}/keep`, 'vault-sync.io/preserve-on-delete': 'true' }, ['keep-src']) });
    await waitFor(async () => (await vaultData(`secret/data/${ns}/keep/keep-src`)) !== undefined, { what: 'keep synced', proc: ctrl });
    await kube.apps.deleteNamespacedDeployment({ name: 'keep', namespace: ns });
    await waitFor(async () => (await events('keep')).some((e) => e.startsWith('Cleaned: kept')), { what: 'Cleaned event', proc: ctrl });
    assert.deepEqual(await vaultData(`secret/data/${ns}/keep/keep-src`), { k: 'v' });
  });

  it('cleans up and drops the finalizer and status when the path annotation is removed', async () => {
    await patchAnnotations('Secret', 'self', { 'vault-sync.io/path': null });
    await waitFor(async () => (await vaultMeta(`secret/metadata/${ns}/self`)) === undefined, { what: 'cleanup on unannotate', proc: ctrl });
    await waitFor(async () => {
      const s = await kube.core.readNamespacedSecret({ name: 'self', namespace: ns });
      return !s.metadata?.finalizers?.length && s.metadata?.annotations?.['vault-sync.io/status'] === undefined;
    }, { what: 'finalizer and status removed', proc: ctrl });
  });

  it('reports bad input with a Failed status, an Event naming the field and fix, and a metric; nothing is written', async () => {
    const parseErrors = await metricValue(ctrl, /^vault_sync_operator_config_parse_errors_total/);
    await kube.apps.createNamespacedDeployment({ namespace: ns, body: deployment('bad', { 'vault-sync.io/path': `secret/data/${ns}/../../sys/policies/acl/x`, 'vault-sync.io/secrets': 'not json' }) });
    await waitFor(async () => (await annotationsOf('Deployment', 'bad'))['vault-sync.io/status'] === 'Failed', { what: 'Failed status', proc: ctrl });
    await waitFor(async () => (await events('bad')).length >= 2, { what: 'both InvalidConfig events', proc: ctrl });
    const evs = await events('bad');
    assert.ok(evs.some((e) => e.startsWith('InvalidConfig:') && e.includes('vault-sync.io/path') && e.includes('fix:')), evs.join('\n'));
    assert.ok(evs.some((e) => e.startsWith('InvalidConfig:') && e.includes('vault-sync.io/secrets')), evs.join('\n'));
    assert.ok(await metricValue(ctrl, /^vault_sync_operator_config_parse_errors_total/) >= parseErrors + 2);
    assert.equal((await fetch(`${ctrl.probeUrl}/healthz`)).status, 200, 'still alive');
  });

  it('reports a missing Secret and a missing key, and recovers when the Secret appears', async () => {
    await kube.apps.createNamespacedDeployment({ namespace: ns, body: deployment('waits', { 'vault-sync.io/path': `secret/data/${ns}/waits`, 'vault-sync.io/secrets': '[{"name":"later","keys":["k"]}]' }) });
    await waitFor(async () => (await events('waits')).some((e) => e.startsWith('SecretNotFound:')), { what: 'SecretNotFound', proc: ctrl });
    await secret('later', { other: 'x' });
    await waitFor(async () => (await events('waits')).some((e) => e.startsWith('KeyMissing:')), { what: 'KeyMissing', proc: ctrl });
    await patch('Secret', 'later', { stringData: { k: 'now' } });
    await waitFor(async () => (await vaultData(`secret/data/${ns}/waits`))?.k === 'now', { what: 'recovered', proc: ctrl });
  });

  it('refuses to overwrite a Vault secret it does not own (OwnershipConflict), leaving it intact', async () => {
    await admin.write(`secret/data/${ns}/taken`, { data: { owner: 'someone else' } });
    await secret('taker-src', { k: 'v' });
    await kube.apps.createNamespacedDeployment({ namespace: ns, body: deployment('taker', { 'vault-sync.io/path': `secret/data/${ns}/taken`, 'vault-sync.io/secrets': '[{"name":"taker-src"}]' }) });
    await waitFor(async () => (await events('taker')).some((e) => e.startsWith('OwnershipConflict:')), { what: 'OwnershipConflict event', proc: ctrl });
    assert.deepEqual(await vaultData(`secret/data/${ns}/taken`), { owner: 'someone else' });
    await kube.apps.deleteNamespacedDeployment({ name: 'taker', namespace: ns });
    await sleep(1500);
    assert.deepEqual(await vaultData(`secret/data/${ns}/taken`), { owner: 'someone else' }, 'deleting the Deployment does not delete what it never owned');
  });

  it('flags a large secret with an annotation, an Event and a metric', async () => {
    await kube.core.createNamespacedSecret({ namespace: ns, body: { metadata: { name: 'big', annotations: { 'vault-sync.io/path': `secret/data/${ns}/big` } }, stringData: { blob: 'x'.repeat(100 * 1024) } } });
    await waitFor(async () => (await annotationsOf('Secret', 'big'))['vault-sync.io/large-secret'] === 'true', { what: 'large flag', proc: ctrl });
    await waitFor(async () => (await events('big')).some((e) => e.startsWith('LargeSecret:')), { what: 'LargeSecret Event', proc: ctrl });
    assert.ok(await metricValue(ctrl, /^vault_large_secret_count/) >= 1);
  });

  it('serves /healthz, /readyz and a /state without values', async () => {
    assert.equal((await fetch(`${ctrl.probeUrl}/healthz`)).status, 200);
    assert.equal((await fetch(`${ctrl.probeUrl}/readyz`)).status, 200);
    const state = await (await fetch(`${ctrl.metricsUrl}/state`)).json() as any;
    assert.equal(state.leader, true);
    assert.ok(state.resources.some((r: any) => r.name === 'custom' && r.status === 'Synced' && r.paths[0].keys.includes('db_password')));
    assert.ok(state.resources.some((r: any) => r.name === 'bad' && r.status === 'Failed'));
    const text = JSON.stringify(state);
    for (const value of ['pw1', 'pw2', '"t1"', 'xxxxxxxx']) assert.ok(!text.includes(value), `state leaks ${value}`);
  });
});
