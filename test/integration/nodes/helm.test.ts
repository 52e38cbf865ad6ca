// The chart on nodes that run pods (the node profile, tools/testenv/nodes.ts):
// two kubelets with containerd + runc, each node in its own network
// namespace, the controller image built by tools/image loaded into both
// containerds (no registry), and the real `helm`:
//   - helm install with the chart's defaults (2 replicas): both pods Ready on
//     different nodes, one leads, and it syncs an annotated Deployment into
//     OpenBao after logging in with its projected token (audience "vault");
//   - the VS Code extension's path, the apiserver's service proxy to the
//     chart's Service, reaches the controller;
//   - deleting the leader pod: the standby takes over within the lease
//     duration plus its retry period, and a Secret rotated meanwhile lands;
//   - helm upgrade with a changed value rolls both pods, and a Secret changed
//     during the rollout lands exactly once (one new KV version);
//   - kubectl describe of the annotated Deployment shows our Events;
//   - the machine's sysctls and fixed paths are untouched (kubelet wrote the
//     nodes' own copies), and the nodes' cgroups are gone after the stop.
// Its own apiserver and OpenBao, not the run's shared ones: the
// controller-manager it starts would otherwise make pods for every Deployment
// the other suites left behind (the live fuzz alone leaves hundreds), and
// those fill both nodes' 110 pod slots before the chart's pods are scheduled.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { KubeHttp, MERGE_PATCH } from '../../../shared/kube/http.ts';
import { IMAGE_NAME, readBuiltImage } from '../../../tools/image.ts';
import { requireNodeBinaries } from '../../../tools/testenv/node-binaries.ts';
import { cgroupRootExists, describeNodes, GUARDED_SYSCTLS, PAUSE_IMAGE, startNodes, type NodeCluster } from '../../../tools/testenv/nodes.ts';
import { tailLog } from '../../../tools/testenv/processes.ts';
import { baoApi } from '../../../tools/testenv/openbao.ts';
import { enableKubernetesAuthMount, kvPrefixPolicy, writeRole } from '../../../tools/testenv/vault-kube-auth.ts';
import { waitFor } from '../support/controller.ts';
import { adminKubeConfig, uniqueName } from '../support/kube.ts';
import { startEnvironment, type TestEnvironment } from '../../../tools/testenv/environment.ts';
import { chartDir, deployTools, RESTRICTED } from '../deploy/render.ts';

const run = promisify(execFile);
const LEASE_DURATION_S = 15;
const RETRY_PERIOD_S = 2;

describe('node profile: helm install on two nodes, failover, upgrade', function () {
  this.timeout(300_000);
  let cluster: NodeCluster;
  let env: TestEnvironment;
  let http: KubeHttp;
  const release = uniqueName('vso');
  const fullname = `${release}-vault-sync-operator`;
  const ns = uniqueName('vso-nodes');
  const appNs = uniqueName('vso-nodes-app');
  const work = mkdtempSync(join(tmpdir(), 'vso-nodes-'));
  const valuesFile = join(work, 'values.json');
  const vaultPath = `secret/data/${appNs}/web/db`;
  const hostSysctls = Object.fromEntries(GUARDED_SYSCTLS.map((s) => [s, readFileSync(`/proc/sys/${s}`, 'utf8').trim()]));
  const [repository, tag] = [IMAGE_NAME.slice(0, IMAGE_NAME.lastIndexOf(':')), IMAGE_NAME.slice(IMAGE_NAME.lastIndexOf(':') + 1)];

  const vaultGet = (path: string) => baoApi(env.vaultAddr, env.vaultToken, 'GET', path);
  const vaultVersion = async () => (await vaultGet(`secret/metadata/${appNs}/web/db`)).json?.data?.current_version as number | undefined;
  const helm = (args: string[]) => run(deployTools().helm, [...args, '--kubeconfig', env.kubeconfig], { encoding: 'utf8' });
  const kubectl = (args: string[]) => run(requireNodeBinaries().kubectl, ['--kubeconfig', env.kubeconfig, ...args], { encoding: 'utf8' });
  const pods = async (): Promise<any[]> => (await http.request('GET', `/api/v1/namespaces/${ns}/pods`, { query: { labelSelector: `app.kubernetes.io/instance=${release}` } })).items;
  const ready = (pod: any) => pod.status?.conditions?.some((c: any) => c.type === 'Ready' && c.status === 'True') && !pod.metadata.deletionTimestamp;
  const holder = async (): Promise<string> => ((await http.request('GET', `/apis/coordination.k8s.io/v1/namespaces/${ns}/leases/vault-sync-operator.io`, { allow404: true })) as any)?.spec?.holderIdentity ?? '';
  const rotate = (password: string) => http.request('PATCH', `/api/v1/namespaces/${appNs}/secrets/db`, { body: { stringData: { password } }, contentType: MERGE_PATCH });
  const rolledOut = async () => {
    const d: any = await http.request('GET', `/apis/apps/v1/namespaces/${ns}/deployments/${fullname}`);
    const s = d.status ?? {};
    return s.observedGeneration >= d.metadata.generation && s.updatedReplicas === 2 && s.readyReplicas === 2 && s.replicas === 2 && (s.unavailableReplicas ?? 0) === 0;
  };
  const logsOf = async () => {
    const out: string[] = [];
    for (const p of await pods()) {
      // Unbound pods have no logs; their PodScheduled condition says why.
      const conditions = (p.status.conditions ?? []).filter((c: any) => c.status !== 'True').map((c: any) => `${c.type}: ${c.reason ?? ''} ${c.message ?? ''}`).join('; ');
      out.push(`--- ${p.metadata.name} on ${p.spec.nodeName ?? '(no node)'}: ${p.status.phase}${conditions ? ` (${conditions})` : ''}\n${await kubectl(['logs', '-n', ns, p.metadata.name, '--tail=15']).then((r) => r.stdout, (e) => String(e.stderr ?? e))}`);
    }
    out.push(await describeNodes(http).catch((e) => `nodes: ${e}`));
    if (cluster) out.push(`--- kube-scheduler log\n${tailLog(cluster.scheduler.logFile, 15)}`);
    return out.join('\n');
  };

  before(async function () {
    env = await startEnvironment();
    http = new KubeHttp(adminKubeConfig(env.kubeconfig));
    const image = readBuiltImage();
    const started = Date.now();
    cluster = await startNodes({ env, images: [image.archive], log: (l) => process.stderr.write(`      ${l}\n`) });
    process.stderr.write(`      nodes up and image ${image.digest.slice(0, 19)} loaded in ${Date.now() - started} ms\n`);
    await http.request('POST', '/api/v1/namespaces', { body: { metadata: { name: ns, labels: RESTRICTED } } });
    await http.request('POST', '/api/v1/namespaces', { body: { metadata: { name: appNs } } });

    // OpenBao: kubernetes auth whose role wants the chart's dedicated audience.
    const mount = await enableKubernetesAuthMount({ http, kubeServer: env.kubeServer, kubeCaPem: env.kubeCaPem, vaultAddr: env.vaultAddr, vaultToken: env.vaultToken, namespace: ns, mount: `k8s-${release}` });
    await writeRole({ vaultAddr: env.vaultAddr, vaultToken: env.vaultToken, mount, role: release, namespace: ns, serviceAccount: fullname, policyRules: kvPrefixPolicy(appNs), audience: 'vault' });
    writeFileSync(valuesFile, JSON.stringify({
      image: { repository, tag, pullPolicy: 'Never' },
      config: { vaultAddr: cluster.vaultAddrForPods, vaultAuthPath: mount, vaultRole: release, namespaces: [appNs] },
      vault: { tokenAudience: 'vault' },
    }));
  });

  after(async function () {
    this.timeout(120_000);
    if (process.exitCode || this.currentTest?.state === 'failed') process.stderr.write(`${await logsOf().catch(() => '')}\n`);
    await helm(['uninstall', release, '-n', ns, '--wait', '--timeout', '60s']).catch(() => {});
    const roots = cluster?.nodes.map((n) => n.cgroupRoot) ?? [];
    await cluster?.stop();
    await env?.stop({ keepDir: this.currentTest?.state === 'failed' });
    for (const root of roots) assert.ok(!cgroupRootExists(root), `cgroup ${root} removed`);
  });

  it('helm install: 2 replicas Ready on 2 nodes, one leads, and it syncs an annotated Deployment with its projected token', async () => {
    const started = Date.now();
    const { stdout } = await helm(['install', release, chartDir, '-n', ns, '-f', valuesFile]);
    assert.match(stdout, /STATUS: deployed/);
    await waitFor(async () => (await pods()).filter(ready).length === 2, { what: 'two Ready controller pods', timeoutMs: 120_000, intervalMs: 250 })
      .catch(async (err) => { throw new Error(`${err.message}\n${await logsOf()}`); });
    process.stderr.write(`      both pods Ready ${Date.now() - started} ms after helm install\n`);
    const running = await pods();
    assert.equal(new Set(running.map((p) => p.spec.nodeName)).size, 2, 'one pod per node');
    for (const p of running) assert.match(p.status.podIP, /^198\.18\.1[67]\./, 'pod addresses from the nodes\' pod CIDRs');
    await waitFor(async () => {
      const h = await holder();
      return running.some((p) => h.startsWith(`${p.metadata.name}_`));
    }, { what: 'one of the pods leading', timeoutMs: 30_000 });
    const leader = await holder();
    assert.ok(running.some((p) => leader.startsWith(`${p.metadata.name}_`)), `the Lease holder ${leader} is one of the pods`);

    // An application with real pods (the pause image), whose Secret goes to Vault.
    await http.request('POST', `/api/v1/namespaces/${appNs}/secrets`, { body: { metadata: { name: 'db' }, stringData: { url: 'postgres://db', password: 'pw-1' } } });
    await http.request('POST', `/apis/apps/v1/namespaces/${appNs}/deployments`, {
      body: {
        metadata: { name: 'web', annotations: { 'vault-sync.io/path': `secret/data/${appNs}/web` } },
        spec: {
          selector: { matchLabels: { app: 'web' } },
          template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'web', image: PAUSE_IMAGE, imagePullPolicy: 'Never', envFrom: [{ secretRef: { name: 'db' } }] }] } },
        },
      },
    });
    await waitFor(async () => (await vaultGet(vaultPath)).json?.data?.data?.password === 'pw-1', { what: `${vaultPath} in OpenBao`, timeoutMs: 60_000 })
      .catch(async (err) => { throw new Error(`${err.message}\n${await logsOf()}`); });
    // The status annotation follows the Vault write.
    await waitFor(async () => ((await http.request('GET', `/apis/apps/v1/namespaces/${appNs}/deployments/web`)) as any).metadata.annotations?.['vault-sync.io/status'] === 'Synced', { what: 'the Synced status annotation' });
    await waitFor(async () => ((await http.request('GET', `/apis/apps/v1/namespaces/${appNs}/deployments/web`)) as any).status?.availableReplicas === 1, { what: 'the application pod running', timeoutMs: 60_000 });
    const { stdout: leaderLogs } = await kubectl(['logs', '-n', ns, leader.replace(/_[^_]+$/, '')]);
    assert.match(leaderLogs, /became leader/);
    assert.doesNotMatch(leaderLogs, /pw-1/, 'no value in the logs');
  });

  it('the service-proxy path (the VS Code extension\'s) reaches the chart\'s Service', async () => {
    const res = await http.open('GET', `/api/v1/namespaces/${ns}/services/${fullname}:status/proxy/state`);
    const text = await res.text();
    assert.equal(res.status, 200, text.slice(0, 500));
    const state = JSON.parse(text);
    assert.ok(Array.isArray(state.resources), 'a /state document');
  });

  it('delete the leader pod: the other takes over within lease duration + retry period; a Secret rotated meanwhile lands', async () => {
    const leader = await holder();
    const leaderPod = leader.replace(/_[^_]+$/, '');
    const t0 = Date.now();
    await http.request('DELETE', `/api/v1/namespaces/${ns}/pods/${leaderPod}`);
    await rotate('pw-2');
    await waitFor(async () => {
      const h = await holder();
      return h !== '' && !h.startsWith(`${leaderPod}_`);
    }, { what: 'a new leader', timeoutMs: 60_000, intervalMs: 100 });
    const takeoverMs = Date.now() - t0;
    process.stderr.write(`      takeover ${takeoverMs} ms after deleting the leader pod\n`);
    assert.ok(takeoverMs <= (LEASE_DURATION_S + RETRY_PERIOD_S) * 1000, `takeover in ${takeoverMs} ms`);
    await waitFor(async () => (await vaultGet(vaultPath)).json?.data?.data?.password === 'pw-2', { what: 'the rotated password in OpenBao', timeoutMs: 60_000 });
    await waitFor(rolledOut, { what: 'two Ready replicas again', timeoutMs: 120_000 });
  });

  it('helm upgrade with a changed value rolls the pods; a Secret changed during the rollout lands exactly once', async () => {
    await waitFor(async () => (await vaultGet(vaultPath)).json?.data?.data?.password === 'pw-2', { what: 'the previous rotation' });
    const before = await vaultVersion();
    const oldPods = new Set((await pods()).map((p) => p.metadata.uid));
    await helm(['upgrade', release, chartDir, '-n', ns, '-f', valuesFile, '--set', 'config.logLevel=debug']);
    // Mid-rollout: a new pod exists while an old one still runs.
    await waitFor(async () => {
      const now = await pods();
      return now.some((p) => !oldPods.has(p.metadata.uid)) && now.some((p) => oldPods.has(p.metadata.uid) && !p.metadata.deletionTimestamp);
    }, { what: 'the rollout under way', timeoutMs: 60_000, intervalMs: 100 });
    await rotate('pw-3');
    await waitFor(async () => (await rolledOut()) && (await pods()).every((p) => !oldPods.has(p.metadata.uid)), { what: 'the rollout finished', timeoutMs: 180_000 })
      .catch(async (err) => { throw new Error(`${err.message}\n${await logsOf()}`); });
    await waitFor(async () => (await vaultGet(vaultPath)).json?.data?.data?.password === 'pw-3', { what: 'pw-3 in OpenBao', timeoutMs: 60_000 });
    // Let a second writer, if there were one, write too.
    await waitFor(async () => Boolean(await holder()), { what: 'a leader after the rollout' });
    await new Promise((r) => setTimeout(r, 5_000));
    assert.equal(await vaultVersion(), before! + 1, 'one new KV version for one change');
    const args: string[] = ((await http.request('GET', `/apis/apps/v1/namespaces/${ns}/deployments/${fullname}`)) as any).spec.template.spec.containers[0].args;
    assert.ok(args.includes('--log-level=debug'), 'the new value is in the rolled-out pods');
  });

  it('kubectl describe of the annotated Deployment shows our Events', async () => {
    const { stdout } = await kubectl(['describe', 'deployment', 'web', '-n', appNs]);
    assert.match(stdout, /vault-sync\.io\/status:\s+Synced/);
    assert.match(stdout, /Events:/);
    assert.match(stdout, /Normal\s+Synced\s+.*vault-sync/);
  });

  it('leaves the machine alone: host sysctls and paths unchanged, kubelet wrote the nodes\' own copies', () => {
    assert.deepEqual(cluster.hostChanges(), []);
    for (const s of GUARDED_SYSCTLS) assert.equal(readFileSync(`/proc/sys/${s}`, 'utf8').trim(), hostSysctls[s], s);
    for (const n of cluster.nodes) {
      assert.equal(n.sysctl('kernel/panic'), '10', `kubelet set ${n.name}'s kernel.panic copy`);
      assert.equal(n.sysctl('vm/overcommit_memory'), '1', `kubelet set ${n.name}'s vm.overcommit_memory copy`);
    }
  });
});
