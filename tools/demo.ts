// The main job on a local default: a sandbox cluster (real kube-apiserver +
// etcd) plus OpenBao plus the controller, the example manifests applied, and
// what landed in Vault shown with the real `bao kv get`. Ctrl-C stops it all.
//
// Usage: tools/demo [--with-nodes] [--once]   (bootstraps, builds, then runs this file)
//
// How a person sees the sandbox: everything runs inside a network namespace
// that tools/testenv/netns creates (nothing is sent to any address outside
// it). This file runs twice: on the host it starts itself inside the sandbox,
// waits until the inner run has written `ready.json`, then forwards a port on
// the host's loopback to each server through a Unix socket file the inner run
// listens on (a socket file is reachable from both namespaces, so the host
// gets no interface or route of ours). The commands it prints use those
// loopback ports and a kubectl built from the same Kubernetes version.
//
// --with-nodes: the node profile (two kubelets with containerd, the
// controller-manager and the scheduler); the controller then runs as pods
// from the image built by tools/image, installed by the Helm chart.
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { KubeConfig, loadAllYaml } from '@kubernetes/client-node';
import { KubeHttp } from '../shared/kube/http.ts';
import { IMAGE_NAME, readBuiltImage } from './image.ts';
import { requireBinaries, repoRoot } from './testenv/binaries.ts';
import { ensureDeployTools } from './testenv/deploy-tools.ts';
import { startEnvironment } from './testenv/environment.ts';
import { forward, type Forwarder } from './testenv/forward.ts';
import { currentSandbox } from './testenv/network.ts';
import { requireNodeBinaries } from './testenv/node-binaries.ts';
import { startNodes, type NodeCluster } from './testenv/nodes.ts';
import { freePorts } from './testenv/ports.ts';
import { configureKubernetesAuth, enableKubernetesAuthMount, writeRole } from './testenv/vault-kube-auth.ts';
import { exposeAsService, sandboxAddress } from './testenv/service-proxy.ts';

const NAMESPACE = 'demo';
const CONTROLLER_NAMESPACE = 'vault-sync-system';
const dir = join(repoRoot, '.testenv', 'demo');
const socketDir = join(dir, 'sockets');
const readyFile = join(dir, 'ready.json');
const withNodes = process.argv.includes('--with-nodes');
const say = (text: string) => process.stdout.write(`\n== ${text}\n`);

/** What the inner run hands to the outer one. */
interface Ready {
  kubeconfig: string;
  vaultToken: string;
  /** name -> Unix socket in socketDir, forwarded to a sandbox TCP port. */
  sockets: { apiserver: string; vault: string; metrics?: string };
  /** Where the controller's log is: a file, or the pods (--with-nodes). */
  logFile?: string;
  vaultPaths: string[];
}

if (!currentSandbox()) await host();
else await inside();

// --- on the host ---------------------------------------------------------------

async function host(): Promise<void> {
  rmSync(dir, { recursive: true, force: true }); // a fresh sandbox every time
  mkdirSync(socketDir, { recursive: true });
  const inner = spawn(join(repoRoot, 'tools', 'testenv', 'netns'), [process.execPath, import.meta.filename, ...process.argv.slice(2)], { stdio: 'inherit' });
  // If this side fails, the inner run (and every server in it) must not outlive it.
  process.on('exit', () => inner.kill('SIGTERM'));
  const innerExit = new Promise<number>((resolve) => inner.once('exit', (code, signal) => resolve(code ?? (signal ? 130 : 1))));
  // Ctrl-C reaches the inner run too (same process group); wait for it to stop its servers.
  process.on('SIGINT', () => {});
  process.on('SIGTERM', () => inner.kill('SIGTERM'));
  let ready: Ready | undefined;
  while (!ready) {
    const code = await Promise.race([innerExit, sleep(200).then(() => undefined)]);
    if (code !== undefined) process.exit(code);
    if (existsSync(readyFile)) ready = JSON.parse(readFileSync(readyFile, 'utf8')) as Ready;
  }
  const forwarders: Forwarder[] = [];
  const port: Record<string, number> = {};
  for (const [name, path] of Object.entries(ready.sockets)) {
    const f = await forward({ host: '127.0.0.1', port: 0 }, { path });
    forwarders.push(f);
    port[name] = (f.listening as { port: number }).port;
  }
  // The same cluster credentials, pointed at the host-side forward (the serving certificate covers 127.0.0.1).
  const kubeconfig = join(dir, 'kubeconfig');
  const inner_ = JSON.parse(readFileSync(ready.kubeconfig, 'utf8'));
  inner_.clusters[0].cluster.server = `https://127.0.0.1:${port.apiserver}`;
  writeFileSync(kubeconfig, JSON.stringify(inner_, null, 2), { mode: 0o600 });
  const binDir = join(dir, 'bin');
  mkdirSync(binDir, { recursive: true });
  symlinkSync(requireNodeBinaries().kubectl, join(binDir, 'kubectl'));
  symlinkSync(requireBinaries().bao, join(binDir, 'bao'));

  const vaultAddr = `http://127.0.0.1:${port.vault}`;
  // Asynchronous on purpose: the forwarders these commands go through live in this process.
  const run = async (bin: string, args: string[], env: NodeJS.ProcessEnv) => (await promisify(execFile)(join(binDir, bin), args, { env: { ...process.env, ...env }, encoding: 'utf8' })).stdout;
  say('what landed in Vault (bao kv get, from the host through the forward)');
  for (const path of ready.vaultPaths) {
    const logical = path.replace(/^secret\/data\//, '');
    process.stdout.write(`\n$ bao kv get -mount=secret ${logical}\n${await run('bao', ['kv', 'get', '-mount=secret', logical], { BAO_ADDR: vaultAddr, BAO_TOKEN: ready.vaultToken })}`);
  }
  process.stdout.write(`\n$ kubectl get deployments,secrets -n ${NAMESPACE}\n`);
  process.stdout.write(await run('kubectl', ['get', 'deployments,secrets', '-n', NAMESPACE], { KUBECONFIG: kubeconfig }));
  if (!ready.logFile) {
    process.stdout.write(`\n$ kubectl get pods -n ${CONTROLLER_NAMESPACE} -o wide\n`);
    process.stdout.write(await run('kubectl', ['get', 'pods', '-n', CONTROLLER_NAMESPACE, '-o', 'wide'], { KUBECONFIG: kubeconfig }));
  }

  say('running; the sandbox is forwarded to this machine\'s loopback. Try it:');
  const rel = (p: string) => p.replace(`${repoRoot}/`, '');
  process.stdout.write([
    `   export PATH=${binDir}:$PATH KUBECONFIG=${kubeconfig} BAO_ADDR=${vaultAddr} BAO_TOKEN=${ready.vaultToken}`,
    `   kubectl apply -n ${NAMESPACE} -f deploy/examples/custom-mode.yaml      # the examples are applied already; edit one and apply`,
    `   kubectl describe deployment my-app -n ${NAMESPACE}                      # our Events at the bottom`,
    `   kubectl get events -n ${NAMESPACE}`,
    `   bao kv get -mount=secret demo/my-app`,
    ...(ready.logFile ? [
      `   curl -s http://127.0.0.1:${port.metrics}/state | head -40      # what the controller knows (/state)`,
      `   curl -s http://127.0.0.1:${port.metrics}/metrics | grep vault_   # metrics`,
      `   controller log: ${rel(ready.logFile!)}`,
    ] : [
      `   kubectl get pods -n ${CONTROLLER_NAMESPACE} -o wide                # the controller as pods from the built image (helm install)`,
      `   kubectl get lease -n ${CONTROLLER_NAMESPACE} vault-sync-operator.io   # which pod leads`,
      `   kubectl logs -n ${CONTROLLER_NAMESPACE} deployment/vault-sync-operator`,
      `   kubectl get --raw /api/v1/namespaces/${CONTROLLER_NAMESPACE}/services/vault-sync-operator:status/proxy/state   # /state, the VS Code extension's way`,
      `   kubectl get nodes -o wide; kubectl get pods -n ${NAMESPACE}   # the examples' nginx pods cannot pull: no registry here`,
    ]),
    `   VS Code: install dist/vault-sync-*.vsix (npm run package:vsix), then KUBECONFIG=${kubeconfig} code .   (context vault-sync-test)`,
    '   Ctrl-C stops everything.',
    '',
  ].join('\n'));
  if (process.argv.includes('--once')) {
    inner.kill('SIGTERM');
  }
  const code = await innerExit;
  for (const f of forwarders) await f.close();
  process.exit(code === 130 ? 0 : code);
}

// --- inside the sandbox ----------------------------------------------------------

async function inside(): Promise<void> {
  say('starting kube-apiserver + etcd and OpenBao (inside the sandbox network namespace)');
  const env = await startEnvironment({ dir: join(dir, 'servers') });
  const kc = new KubeConfig();
  kc.loadFromFile(env.kubeconfig);
  const http = new KubeHttp(kc);
  for (const ns of [NAMESPACE, CONTROLLER_NAMESPACE]) await http.request('POST', '/api/v1/namespaces', { body: { metadata: { name: ns } } });

  const forwarders: Forwarder[] = [];
  const stops: (() => Promise<void>)[] = [];
  let metricsPort: number | undefined;
  let logFile: string | undefined;
  if (withNodes) {
    say('starting two nodes (kubelet + containerd + runc each), kube-controller-manager and kube-scheduler');
    const image = readBuiltImage();
    const cluster: NodeCluster = await startNodes({ env, dir: join(dir, 'nodes'), images: [image.archive], log: (l) => process.stdout.write(`   ${l}\n`) });
    stops.push(() => cluster.stop());
    say(`OpenBao kubernetes auth (role wants the chart's token audience "vault"), helm install of deploy/helm/vault-sync-operator with the image built by tools/image (${image.digest.slice(0, 19)}...)`);
    const mount = await enableKubernetesAuthMount({ http, kubeServer: env.kubeServer, kubeCaPem: env.kubeCaPem, vaultAddr: env.vaultAddr, vaultToken: env.vaultToken, namespace: CONTROLLER_NAMESPACE, mount: 'kubernetes' });
    await writeRole({
      vaultAddr: env.vaultAddr, vaultToken: env.vaultToken, mount, role: 'vault-sync-operator', namespace: CONTROLLER_NAMESPACE, serviceAccount: 'vault-sync-operator',
      policyRules: readFileSync(join(repoRoot, 'deploy', 'vault', 'policy.hcl'), 'utf8'), audience: 'vault',
    });
    const values = join(dir, 'values.json');
    writeFileSync(values, JSON.stringify({
      image: { repository: IMAGE_NAME.slice(0, IMAGE_NAME.lastIndexOf(':')), tag: IMAGE_NAME.slice(IMAGE_NAME.lastIndexOf(':') + 1), pullPolicy: 'Never' },
      config: { vaultAddr: cluster.vaultAddrForPods, vaultAuthPath: mount, vaultRole: 'vault-sync-operator' },
      vault: { tokenAudience: 'vault' },
    }));
    const helm = ensureDeployTools().helm;
    process.stdout.write(await promisify(execFile)(helm, ['install', 'vault-sync-operator', join(repoRoot, 'deploy', 'helm', 'vault-sync-operator'), '-n', CONTROLLER_NAMESPACE, '-f', values, '--kubeconfig', env.kubeconfig, '--wait', '--timeout', '180s'], { encoding: 'utf8' }).then((r) => r.stdout.split('\n').slice(0, 6).join('\n')));
    stops.unshift(async () => { await promisify(execFile)(helm, ['uninstall', 'vault-sync-operator', '-n', CONTROLLER_NAMESPACE, '--kubeconfig', env.kubeconfig]).catch(() => {}); });
  } else {
    say('configuring OpenBao kubernetes auth against the apiserver (TokenReview), starting the controller (dist/controller.mjs)');
    const setup = await configureKubernetesAuth({
      http, kubeServer: env.kubeServer, kubeCaPem: env.kubeCaPem, vaultAddr: env.vaultAddr, vaultToken: env.vaultToken,
      namespace: CONTROLLER_NAMESPACE, serviceAccount: 'vault-sync-operator', mount: 'kubernetes', tokenFile: join(dir, 'controller-token'),
      policyRules: readFileSync(join(repoRoot, 'deploy', 'vault', 'policy.hcl'), 'utf8'),
    });
    const [metrics, probePort, statusPort] = await freePorts(3);
    metricsPort = metrics;
    // The VS Code extension reads the controller through the apiserver's service
    // proxy, which refuses loopback: the status port listens on the sandbox's address.
    const address = sandboxAddress();
    logFile = join(dir, 'controller.log');
    const controller = spawn(process.execPath, [
      join(repoRoot, 'dist', 'controller.mjs'), `--kubeconfig=${env.kubeconfig}`, ...setup.controllerArgs,
      `--metrics-bind-address=127.0.0.1:${metricsPort}`, `--health-probe-bind-address=127.0.0.1:${probePort}`, '--metrics-auth=false',
      '--leader-elect', `--leader-election-namespace=${CONTROLLER_NAMESPACE}`, `--status-bind-address=${address}:${statusPort}`,
    ], { stdio: ['ignore', openSync(logFile, 'a'), openSync(logFile, 'a')] });
    await exposeAsService(http, { namespace: CONTROLLER_NAMESPACE, service: 'vault-sync-operator', portName: 'status', port: 8082, address, targetPort: statusPort! });
    stops.push(async () => {
      controller.kill('SIGTERM');
      await new Promise((r) => controller.once('exit', r));
    });
  }

  const stopAll = async () => {
    for (const f of forwarders) await f.close();
    for (const stop of stops) await stop();
    await env.stop({ keepDir: true });
  };
  process.once('SIGINT', () => void stopAll().then(() => process.exit(0)));
  process.once('SIGTERM', () => void stopAll().then(() => process.exit(0)));

  say(`applying deploy/examples/*.yaml to namespace "${NAMESPACE}"`);
  const examples = join(repoRoot, 'deploy', 'examples');
  const synced: { kind: string; name: string }[] = [];
  for (const file of readdirSync(examples).filter((f) => f.endsWith('.yaml')).sort()) {
    for (const obj of loadAllYaml(readFileSync(join(examples, file), 'utf8')) as any[]) {
      const path = obj.kind === 'Deployment' ? `/apis/apps/v1/namespaces/${NAMESPACE}/deployments` : `/api/v1/namespaces/${NAMESPACE}/secrets`;
      await http.request('POST', path, { body: obj });
      if (obj.metadata?.annotations?.['vault-sync.io/path']) synced.push({ kind: obj.kind, name: obj.metadata.name });
      process.stdout.write(`   ${file}: ${obj.kind} ${obj.metadata.name}\n`);
    }
  }

  say('waiting for the controller to sync');
  const deadline = Date.now() + 60_000;
  const vaultPaths: string[] = [];
  for (const r of synced) {
    const objPath = r.kind === 'Deployment' ? `/apis/apps/v1/namespaces/${NAMESPACE}/deployments/${r.name}` : `/api/v1/namespaces/${NAMESPACE}/secrets/${r.name}`;
    for (;;) {
      const obj = await http.request('GET', objPath);
      const a = obj.metadata?.annotations ?? {};
      if (a['vault-sync.io/status']) {
        process.stdout.write(`   ${r.kind} ${r.name}: ${a['vault-sync.io/status']} - ${a['vault-sync.io/message']}\n`);
        for (const p of JSON.parse(a['vault-sync.io/sync-state'] ?? '{"paths":[]}').paths) vaultPaths.push(p.path);
        break;
      }
      if (Date.now() > deadline) throw new Error(`${r.kind} ${r.name} was not synced in 60 s; see ${logFile ?? `kubectl logs -n ${CONTROLLER_NAMESPACE} deployment/vault-sync-operator`}`);
      await sleep(200);
    }
  }

  // Unix sockets the host side forwards its loopback ports to.
  const targets: Record<string, number> = { apiserver: env.kube.port, vault: Number(new URL(env.vaultAddr).port), ...(metricsPort ? { metrics: metricsPort } : {}) };
  const sockets: Record<string, string> = {};
  for (const [name, port] of Object.entries(targets)) {
    sockets[name] = join(socketDir, `${name}.sock`);
    forwarders.push(await forward({ path: sockets[name]! }, { host: '127.0.0.1', port }));
  }
  const ready: Ready = { kubeconfig: env.kubeconfig, vaultToken: env.vaultToken, sockets: sockets as Ready['sockets'], logFile, vaultPaths };
  writeFileSync(readyFile, JSON.stringify(ready, null, 2), { mode: 0o600 });
  await new Promise(() => {});
}
