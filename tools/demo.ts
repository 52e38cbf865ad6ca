// The main job on a local default: a sandbox cluster (real kube-apiserver +
// etcd) plus OpenBao plus the controller, the example manifests applied, and
// what landed in Vault shown with the real `bao kv get`. Ctrl-C stops it all.
//
// Usage: tools/demo   (which bootstraps, builds, then runs this file)
import { spawn } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { mkdirSync, openSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { KubeConfig, loadAllYaml } from '@kubernetes/client-node';
import { KubeHttp } from '../shared/kube/http.ts';
import { requireBinaries, repoRoot } from './testenv/binaries.ts';
import { startEnvironment } from './testenv/environment.ts';
import { freePorts } from './testenv/ports.ts';
import { configureKubernetesAuth } from './testenv/vault-kube-auth.ts';
import { exposeAsService, machineAddress } from './testenv/service-proxy.ts';

const NAMESPACE = 'demo';
const CONTROLLER_NAMESPACE = 'vault-sync-system';
const dir = join(repoRoot, '.testenv', 'demo');
const say = (text: string) => process.stdout.write(`\n== ${text}\n`);

say('starting kube-apiserver + etcd and OpenBao');
// A fresh sandbox every time: the previous run's logs are kept until now.
rmSync(dir, { recursive: true, force: true });
const env = await startEnvironment({ dir: join(dir, 'servers') });
const kc = new KubeConfig();
kc.loadFromFile(env.kubeconfig);
const http = new KubeHttp(kc);
for (const ns of [NAMESPACE, CONTROLLER_NAMESPACE]) await http.request('POST', '/api/v1/namespaces', { body: { metadata: { name: ns } } });

say('configuring OpenBao kubernetes auth against the apiserver (TokenReview)');
const setup = await configureKubernetesAuth({
  http, kubeServer: env.kubeServer, kubeCaPem: env.kubeCaPem, vaultAddr: env.vaultAddr, vaultToken: env.vaultToken,
  namespace: CONTROLLER_NAMESPACE, serviceAccount: 'vault-sync-operator', mount: 'kubernetes', tokenFile: join(dir, 'controller-token'),
  policyRules: readFileSync(join(repoRoot, 'deploy', 'vault', 'policy.hcl'), 'utf8'),
});

say('starting the controller (dist/controller.mjs)');
const [metricsPort, probePort, statusPort] = await freePorts(3);
// The VS Code extension reads the controller through the apiserver's service
// proxy, which refuses loopback: serve it on this machine's own address.
let address: string | undefined;
try {
  address = machineAddress();
} catch (err) {
  process.stdout.write(`   (no service-proxy endpoint for the VS Code extension: ${(err as Error).message})\n`);
}
mkdirSync(dir, { recursive: true });
const logFile = join(dir, 'controller.log');
const controller = spawn(process.execPath, [
  join(repoRoot, 'dist', 'controller.mjs'), `--kubeconfig=${env.kubeconfig}`, ...setup.controllerArgs,
  `--metrics-bind-address=127.0.0.1:${metricsPort}`, `--health-probe-bind-address=127.0.0.1:${probePort}`, '--metrics-auth=false',
  '--leader-elect', `--leader-election-namespace=${CONTROLLER_NAMESPACE}`,
  ...(address ? [`--status-bind-address=${address}:${statusPort}`] : []),
], { stdio: ['ignore', openSync(logFile, 'a'), openSync(logFile, 'a')] });
if (address) {
  await exposeAsService(http, { namespace: CONTROLLER_NAMESPACE, service: 'vault-sync-operator', portName: 'status', port: 8082, address, targetPort: statusPort! });
}

const stopAll = async () => {
  controller.kill('SIGTERM');
  await new Promise((r) => controller.once('exit', r));
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
    if (Date.now() > deadline) throw new Error(`${r.kind} ${r.name} was not synced in 60 s; see ${logFile}`);
    await sleep(200);
  }
}

say('what landed in Vault (bao kv get)');
const bao = requireBinaries().bao;
for (const path of vaultPaths) {
  const logical = path.replace(/^secret\/data\//, '');
  process.stdout.write(`\n$ bao kv get -mount=secret ${logical}\n`);
  process.stdout.write(execFileSync(bao, ['kv', 'get', '-mount=secret', logical], { env: { ...process.env, BAO_ADDR: env.vaultAddr, BAO_TOKEN: env.vaultToken }, encoding: 'utf8' }));
}

say('running; try it:');
process.stdout.write([
  `   export KUBECONFIG=${env.kubeconfig} BAO_ADDR=${env.vaultAddr} BAO_TOKEN=${env.vaultToken}`,
  `   ${bao} kv get -mount=secret demo/my-app`,
  `   curl -s http://127.0.0.1:${metricsPort}/state | head -40      # what the controller knows`,
  `   curl -s http://127.0.0.1:${metricsPort}/metrics | grep vault_   # metrics`,
  `   controller log: ${logFile}`,
  ...(address ? [`   VS Code: install dist/vault-sync-*.vsix (npm run package:vsix), then KUBECONFIG=${env.kubeconfig} code .   (context vault-sync-test)`] : []),
  '   Ctrl-C stops everything.',
  '',
].join('\n'));
if (process.argv.includes('--once')) {
  await stopAll();
  process.exit(0);
}
await new Promise(() => {});
