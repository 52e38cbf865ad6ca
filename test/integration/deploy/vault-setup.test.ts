// deploy/vault/setup.sh and the chart's RBAC, for real: the script configures
// kubernetes auth on the local OpenBao against the test apiserver (reviewer
// service account bound to system:auth-delegator, as in production); the
// chart's ServiceAccount and RBAC objects are created for real; then the real
// controller runs with the chart's own flags, as that ServiceAccount (nothing
// more than the chart grants), logs in to OpenBao through what the script
// configured, and syncs an annotated Secret and Deployment.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { KubeConfig } from '@kubernetes/client-node';
import { KubeHttp, isKubeError } from '../../../shared/kube/http.ts';
import { repoRoot, requireBinaries } from '../../../tools/testenv/binaries.ts';
import { baoApi } from '../../../tools/testenv/openbao.ts';
import { freePorts } from '../../../tools/testenv/ports.ts';
import { exposeAsService, sandboxAddress } from '../../../tools/testenv/service-proxy.ts';
import { issueToken } from '../../../tools/testenv/vault-kube-auth.ts';
import { startController, stopAllControllers, waitFor, type ControllerProcess } from '../support/controller.ts';
import { testEnv } from '../support/env.ts';
import { adminKubeConfig, createNamespace, createWebApp, kubeClients, mergePatch, uniqueName, type KubeClients } from '../support/kube.ts';
import { create, deployTools, Discovery, helmTemplate, type KubeObject } from './render.ts';

const setupScript = join(repoRoot, 'deploy', 'vault', 'setup.sh');
const run = promisify(execFile);

function tokenKubeConfig(server: string, caPem: string, token: string): { kc: KubeConfig; text: string } {
  const text = JSON.stringify({
    apiVersion: 'v1', kind: 'Config',
    clusters: [{ name: 'test', cluster: { server, 'certificate-authority-data': Buffer.from(caPem).toString('base64') } }],
    users: [{ name: 'sa', user: { token } }],
    contexts: [{ name: 'sa', context: { cluster: 'test', user: 'sa' } }],
    'current-context': 'sa',
  });
  const kc = new KubeConfig();
  kc.loadFromString(text);
  return { kc, text };
}

describe('deploy/vault/setup.sh + the chart\'s RBAC: the controller logs in and syncs', function () {
  this.timeout(120_000);
  let kube: KubeClients;
  let admin: KubeHttp;
  let ns: string;
  let appNs: string;
  let release: string;
  let fullname: string;
  let ctrl: ControllerProcess;
  const dir = mkdtempSync(join(tmpdir(), 'vso-setup-'));
  const cluster = uniqueName('c');
  const clusterScoped: KubeObject[] = [];
  let rendered: KubeObject[];
  let statusPort: number;

  const vaultGet = async (path: string) => baoApi(testEnv().vaultAddr, testEnv().vaultToken, 'GET', path);
  const sar = async (user: string, attributes: Record<string, string>): Promise<boolean> => {
    const review = await admin.request('POST', '/apis/authorization.k8s.io/v1/subjectaccessreviews', {
      body: { apiVersion: 'authorization.k8s.io/v1', kind: 'SubjectAccessReview', spec: { user, groups: ['system:serviceaccounts', `system:serviceaccounts:${ns}`, 'system:authenticated'], resourceAttributes: attributes } },
    });
    return Boolean(review.status?.allowed);
  };

  before(async function () {
    this.timeout(900_000); // a cold build of helm and kustomize, once per machine (tools/bootstrap does it ahead)
    deployTools();
    const env = testEnv();
    kube = kubeClients();
    admin = new KubeHttp(adminKubeConfig());
    ns = await createNamespace(kube.core, 'vso-system');
    appNs = await createNamespace(kube.core, 'vso-app');
    release = uniqueName('vso');
    fullname = `${release}-vault-sync-operator`;

    // The chart, rendered for this install: watch appNs only, Vault on the test OpenBao.
    rendered = helmTemplate({
      release, namespace: ns,
      values: {
        config: {
          vaultAddr: env.vaultAddr, vaultAuthPath: `k8s-${release}`, vaultRole: release, clusterName: cluster,
          namespaces: [appNs], pathPolicy: 'secret/{cluster}/{namespace}/*',
        },
        vault: { tokenAudience: 'vault' },
        rbac: {
          statusReader: { subjects: [{ kind: 'ServiceAccount', name: 'viewer', namespace: ns }] },
          metricsReader: { subjects: [{ kind: 'ServiceAccount', name: 'scraper', namespace: ns }] },
        },
      },
    });
    // Its ServiceAccount and RBAC, for real (no kubelet here: the Deployment itself cannot run).
    const discovery = new Discovery(admin);
    for (const obj of rendered.filter((o) => ['ServiceAccount', 'Role', 'RoleBinding', 'ClusterRole', 'ClusterRoleBinding'].includes(o.kind))) {
      await create(admin, discovery, obj, { dryRun: false });
      if (!obj.metadata.namespace) clusterScoped.push(obj);
    }
    for (const sa of ['viewer', 'scraper', 'nobody', 'token-reviewer']) {
      await kube.core.createNamespacedServiceAccount({ namespace: ns, body: { metadata: { name: sa } } });
    }
    const reviewerBinding: KubeObject = {
      apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: { name: `${release}-token-reviewer` },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'system:auth-delegator' },
      subjects: [{ kind: 'ServiceAccount', name: 'token-reviewer', namespace: ns }],
    } as KubeObject;
    await create(admin, discovery, reviewerBinding, { dryRun: false });
    clusterScoped.push(reviewerBinding);
  });

  after(async () => {
    await stopAllControllers();
    // Cluster-scoped objects outlive the test namespaces: remove them.
    for (const obj of clusterScoped) {
      const path = `${await new Discovery(admin).collectionPath(obj)}/${obj.metadata.name}`;
      await admin.request('DELETE', path).catch((err) => {
        if (!isKubeError(err, 404)) throw err;
      });
    }
  });

  it('setup.sh configures the auth mount, policy and role (and is idempotent)', async () => {
    const env = testEnv();
    writeFileSync(join(dir, 'ca.pem'), env.kubeCaPem);
    writeFileSync(join(dir, 'reviewer.jwt'), await issueToken(admin, ns, 'token-reviewer', 3600), { mode: 0o600 });
    const cleanEnv: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(process.env)) if (!/^(VAULT_|BAO_)/.test(k)) cleanEnv[k] = v;
    const args = [
      setupScript, `--kubernetes-host=${env.kubeServer}`, `--kubernetes-ca-file=${join(dir, 'ca.pem')}`, `--reviewer-jwt-file=${join(dir, 'reviewer.jwt')}`,
      `--auth-path=k8s-${release}`, `--role=${release}`, `--policy-name=${release}`, `--namespace=${ns}`, `--service-account=${fullname}`, '--audience=vault',
    ];
    const scriptEnv = { ...cleanEnv, VAULT_CLI: requireBinaries().bao, VAULT_ADDR: env.vaultAddr, VAULT_TOKEN: env.vaultToken };
    const first = await run('sh', args, { env: scriptEnv });
    assert.match(first.stderr, new RegExp(`enabling the kubernetes auth method at auth/k8s-${release}`));
    const again = await run('sh', args, { env: scriptEnv });
    assert.match(again.stderr, /exists/);
    assert.match(again.stderr, new RegExp(`--vault-auth-path=k8s-${release} --vault-role=${release}`));

    const config = (await vaultGet(`auth/k8s-${release}/config`)).json.data;
    assert.equal(config.kubernetes_host, env.kubeServer);
    assert.equal(config.token_reviewer_jwt_set, true);
    const role = (await vaultGet(`auth/k8s-${release}/role/${release}`)).json.data;
    assert.deepEqual(role.bound_service_account_names, [fullname]);
    assert.deepEqual(role.bound_service_account_namespaces, [ns]);
    assert.deepEqual(role.token_policies, [release]);
    assert.equal(role.audience, 'vault');
    const policy = (await vaultGet(`sys/policies/acl/${release}`)).json.data.policy as string;
    assert.match(policy, /path "secret\/data\/\+\/\*"/, 'prefix-scoped: below one segment');
  });

  it('the controller runs with the chart\'s flags as its ServiceAccount, logs in, and syncs a Secret and a Deployment', async () => {
    const env = testEnv();
    // What kubelet would give the pod: an API token (default audience) and the projected Vault token (audience "vault").
    const apiToken = await issueToken(admin, ns, fullname, 3600);
    writeFileSync(join(dir, 'kubeconfig'), tokenKubeConfig(env.kubeServer, env.kubeCaPem, apiToken).text, { mode: 0o600 });
    const vaultTokenRes = await admin.request('POST', `/api/v1/namespaces/${ns}/serviceaccounts/${fullname}/token`, {
      body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { audiences: ['vault'], expirationSeconds: 3600 } },
    });
    writeFileSync(join(dir, 'vault-token'), vaultTokenRes.status.token, { mode: 0o600 });

    const deployment = rendered.find((o) => o.kind === 'Deployment')!;
    const chartArgs: string[] = deployment.spec.template.spec.containers[0].args;
    assert.ok(chartArgs.includes('--service-account-token-file=/var/run/secrets/vault-sync-operator/token'));
    statusPort = (await freePorts(1))[0]!;
    const args = [
      // The chart's flags, except what only makes sense inside the pod: listen addresses and file paths.
      ...chartArgs.filter((a) => !/^--(metrics|health-probe|status)-bind-address=|^--service-account-token-file=/.test(a)),
      `--kubeconfig=${join(dir, 'kubeconfig')}`,
      `--service-account-token-file=${join(dir, 'vault-token')}`,
      `--status-bind-address=${sandboxAddress()}:${statusPort}`,
    ];
    for (const flag of ['--vault-auth-method=kubernetes', `--vault-auth-path=k8s-${release}`, `--vault-role=${release}`, '--leader-elect=true', '--metrics-auth=true']) {
      assert.ok(args.includes(flag), `the chart passes ${flag}`);
    }
    ctrl = await startController({ args, env: { POD_NAMESPACE: ns } });

    // Secret mode.
    await kube.core.createNamespacedSecret({
      namespace: appNs,
      body: { metadata: { name: 'app-creds', annotations: { 'vault-sync.io/path': `secret/data/${appNs}/app` } }, stringData: { user: 'app', password: 'pw-1' } },
    });
    const secretPath = `secret/data/${cluster}/${appNs}/app`;
    await waitFor(async () => (await vaultGet(secretPath)).status === 200, { what: `${secretPath} in OpenBao`, proc: ctrl });
    const written = (await vaultGet(secretPath)).json.data;
    assert.deepEqual(written.data, { user: 'app', password: 'pw-1' });
    // The ownership marker follows in spare throttle budget.
    await waitFor(async () => (await vaultGet(secretPath.replace('/data/', '/metadata/'))).json?.data?.custom_metadata?.owner === `${cluster}/${appNs}/Secret/app-creds`, { what: 'ownership marker', proc: ctrl });
    await waitFor(async () => (await kube.core.readNamespacedSecret({ name: 'app-creds', namespace: appNs })).metadata?.annotations?.['vault-sync.io/status'] === 'Synced', { what: 'status annotation', proc: ctrl });

    // Deployment, auto-discovery.
    await createWebApp(kube, appNs, { url: 'postgres://db' });
    const webPath = `secret/data/${cluster}/${appNs}/web/db`;
    await waitFor(async () => (await vaultGet(webPath)).status === 200, { what: `${webPath} in OpenBao`, proc: ctrl });
    assert.deepEqual((await vaultGet(webPath)).json.data.data, { url: 'postgres://db' });

    // Events (events.k8s.io create) and the Lease (leader election) worked under the chart's RBAC.
    const events: any = await admin.request('GET', `/apis/events.k8s.io/v1/namespaces/${appNs}/events`);
    assert.ok(events.items.some((e: any) => e.reason === 'Synced' && e.regarding.name === 'app-creds'), 'Synced Event');
    const lease: any = await admin.request('GET', `/apis/coordination.k8s.io/v1/namespaces/${ns}/leases/vault-sync-operator.io`);
    assert.ok(lease.spec.holderIdentity, 'the Lease has a holder');
    assert.doesNotMatch(ctrl.logs(), /HTTP 403/, 'no request was forbidden');

    // Rotation, then cleanup through the finalizer: the Vault policy allows update and delete.
    await mergePatch(kube.kc, `/api/v1/namespaces/${appNs}/secrets/app-creds`, { stringData: { password: 'pw-2' } });
    await waitFor(async () => (await vaultGet(secretPath)).json?.data?.data?.password === 'pw-2', { what: 'rotated password in OpenBao', proc: ctrl });
    await kube.core.deleteNamespacedSecret({ name: 'app-creds', namespace: appNs });
    await waitFor(async () => (await vaultGet(`secret/metadata/${cluster}/${appNs}/app`)).status === 404, { what: 'cleanup of the Vault secret', proc: ctrl });
  });

  it('/metrics checks tokens: the chart\'s metrics-reader binding lets the scraper in, nobody else', async () => {
    const scraper = await issueToken(admin, ns, 'scraper', 600);
    const nobody = await issueToken(admin, ns, 'nobody', 600);
    assert.equal((await fetch(`${ctrl.metricsUrl}/metrics`)).status, 401);
    assert.equal((await fetch(`${ctrl.metricsUrl}/metrics`, { headers: { Authorization: `Bearer ${nobody}` } })).status, 403);
    const ok = await fetch(`${ctrl.metricsUrl}/metrics`, { headers: { Authorization: `Bearer ${scraper}` } });
    assert.equal(ok.status, 200);
    assert.match(await ok.text(), /vault_sync_operator_leader 1/);
  });

  it('the status port is readable through the service proxy with the chart\'s status-reader Role, and only with it', async () => {
    await exposeAsService(admin, { namespace: ns, service: fullname, portName: 'status', port: 8082, address: sandboxAddress(), targetPort: statusPort });
    const proxyPath = `/api/v1/namespaces/${ns}/services/${fullname}:status/proxy/state`;
    const as = async (sa: string) => {
      const { kc } = tokenKubeConfig(testEnv().kubeServer, testEnv().kubeCaPem, await issueToken(admin, ns, sa, 600));
      return new KubeHttp(kc).open('GET', proxyPath);
    };
    const denied = await as('nobody');
    assert.equal(denied.status, 403);
    denied.cancel();
    const res = await as('viewer');
    const text = await res.text();
    assert.equal(res.status, 200, text);
    const state: any = JSON.parse(text);
    assert.equal(state.clusterName, cluster);
    assert.deepEqual(state.resources, [], 'without proof of who is asking, no tenant\'s resources');
    // A caller who proves who they are (their token in x-vault-sync-authorization) sees the namespaces they may list.
    // (A Role of its own: the aggregated "view" ClusterRole stays empty without kube-controller-manager.)
    await admin.request('POST', `/apis/rbac.authorization.k8s.io/v1/namespaces/${appNs}/roles`, {
      body: { metadata: { name: 'deployment-viewer' }, rules: [{ apiGroups: ['apps'], resources: ['deployments'], verbs: ['get', 'list', 'watch'] }] },
    });
    await admin.request('POST', `/apis/rbac.authorization.k8s.io/v1/namespaces/${appNs}/rolebindings`, {
      body: { metadata: { name: 'deployment-viewer' }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'deployment-viewer' }, subjects: [{ kind: 'ServiceAccount', name: 'viewer', namespace: ns }] },
    });
    // RBAC takes a moment to see a new binding; the controller caches a denial for 30 s.
    await waitFor(() => sar(`system:serviceaccount:${ns}:viewer`, { verb: 'list', group: 'apps', resource: 'deployments', namespace: appNs }), { what: 'the view binding in effect' });
    const viewerToken = await issueToken(admin, ns, 'viewer', 600);
    const { kc } = tokenKubeConfig(testEnv().kubeServer, testEnv().kubeCaPem, viewerToken);
    const identified = await new KubeHttp(kc).request('GET', proxyPath, { headers: { 'x-vault-sync-authorization': `Bearer ${viewerToken}` } });
    assert.ok(identified.resources.some((r: any) => r.kind === 'Deployment' && r.name === 'web'), 'the Deployment is in /state');
    assert.ok(identified.resources.every((r: any) => r.namespace === appNs));
  });

  it('the chart grants no more than it says: no Secrets outside the watched namespace, no deletes, one Lease', async () => {
    const user = `system:serviceaccount:${ns}:${fullname}`;
    assert.equal(await sar(user, { verb: 'list', resource: 'secrets', namespace: appNs }), true);
    assert.equal(await sar(user, { verb: 'get', resource: 'secrets', namespace: appNs }), true);
    assert.equal(await sar(user, { verb: 'patch', group: 'apps', resource: 'deployments', namespace: appNs }), true);
    assert.equal(await sar(user, { verb: 'list', resource: 'secrets' }), false, 'no cluster-wide Secret list');
    assert.equal(await sar(user, { verb: 'get', resource: 'secrets', namespace: ns }), false, 'no Secrets in its own namespace');
    assert.equal(await sar(user, { verb: 'get', resource: 'secrets', name: `${fullname}-ledger-key`, namespace: ns }), true, 'but its ledger key');
    assert.equal(await sar(user, { verb: 'get', resource: 'secrets', namespace: 'kube-system' }), false);
    for (const verb of ['create', 'update', 'delete']) assert.equal(await sar(user, { verb, resource: 'secrets', namespace: appNs }), false, `no ${verb} on Secrets`);
    assert.equal(await sar(user, { verb: 'update', group: 'apps', resource: 'deployments', namespace: appNs }), false);
    assert.equal(await sar(user, { verb: 'get', resource: 'pods', namespace: appNs }), false);
    assert.equal(await sar(user, { verb: 'update', group: 'coordination.k8s.io', resource: 'leases', name: 'vault-sync-operator.io', namespace: ns }), true);
    assert.equal(await sar(user, { verb: 'update', group: 'coordination.k8s.io', resource: 'leases', name: 'other', namespace: ns }), false);
    assert.equal(await sar(user, { verb: 'delete', group: 'coordination.k8s.io', resource: 'leases', name: 'vault-sync-operator.io', namespace: ns }), false);
    assert.ok(!rendered.some((o) => o.kind === 'ClusterRole' && o.rules.some((r: any) => r.resources?.includes('secrets'))), 'no ClusterRole grants Secrets');
  });
});
