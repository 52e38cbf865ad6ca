// A real control plane for tests: etcd plus kube-apiserver on random loopback
// ports, TLS with a throwaway CA, RBAC on, service-account token issuing
// (TokenRequest) and TokenReview working, and an admin kubeconfig.
//
// There is no controller-manager, scheduler or kubelet: objects are stored and
// watched for real, but Deployments never get pods and namespaces never finish
// terminating. Tests rely only on what the apiserver itself does.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'node:https';
import { createPki, type Pki } from './pki.ts';
import { currentSandbox, KUBERNETES_SERVICE_IP, SERVICE_CIDR } from './network.ts';
import { freePorts } from './ports.ts';
import { startProcess, waitUntil, type ManagedProcess } from './processes.ts';

export const SERVICE_ACCOUNT_ISSUER = 'https://kubernetes.default.svc.cluster.local';

export interface KubeCluster {
  server: string;
  port: number;
  kubeconfigPath: string;
  caPem: string;
  pki: Pki;
  etcd: ManagedProcess;
  apiserver: ManagedProcess;
  /** Restarts kube-apiserver on the same port and storage (etcd keeps running). */
  restartApiserver(): Promise<void>;
  stop(): Promise<void>;
}

export interface KubeOptions {
  dir: string;
  etcdBin: string;
  apiserverBin: string;
}

async function startEtcd(dir: string, etcdBin: string): Promise<{ proc: ManagedProcess; url: string }> {
  const [clientPort, peerPort] = await freePorts(2);
  const url = `http://127.0.0.1:${clientPort}`;
  const peer = `http://127.0.0.1:${peerPort}`;
  const proc = startProcess({
    name: 'etcd',
    command: etcdBin,
    args: [
      '--name=default',
      `--data-dir=${join(dir, 'etcd-data')}`,
      `--listen-client-urls=${url}`,
      `--advertise-client-urls=${url}`,
      `--listen-peer-urls=${peer}`,
      `--initial-advertise-peer-urls=${peer}`,
      `--initial-cluster=default=${peer}`,
      '--listen-metrics-urls=',
      // Tests do not need durability across power loss; fsync is the main cost.
      '--unsafe-no-fsync',
      '--quota-backend-bytes=4294967296',
      '--log-level=warn',
    ],
    logFile: join(dir, 'etcd.log'),
  });
  await waitUntil('etcd', async () => (await fetch(`${url}/health`)).ok, { timeoutMs: 30_000, process: proc });
  return { proc, url };
}

function apiserverArgs(pki: Pki, port: number, etcdUrl: string, certDir: string): string[] {
  return [
    `--etcd-servers=${etcdUrl}`,
    // Inside the sandbox also on its own address (nodes and the service proxy's
    // peers live there); outside it, loopback only.
    `--bind-address=${currentSandbox() ? '0.0.0.0' : '127.0.0.1'}`,
    `--advertise-address=${currentSandbox()?.address ?? '127.0.0.1'}`,
    `--secure-port=${port}`,
    `--cert-dir=${certDir}`,
    `--tls-cert-file=${pki.serverCert}`,
    `--tls-private-key-file=${pki.serverKey}`,
    `--client-ca-file=${pki.caCert}`,
    // Node + NodeRestriction: what the node profile's kubelets are held to, as in a real cluster.
    '--authorization-mode=Node,RBAC',
    '--enable-admission-plugins=NodeRestriction',
    `--kubelet-client-certificate=${pki.kubeletClientCert}`,
    `--kubelet-client-key=${pki.kubeletClientKey}`,
    // Node names resolve nowhere here (and must not be looked up in the machine's DNS).
    '--kubelet-preferred-address-types=InternalIP',
    `--service-account-issuer=${SERVICE_ACCOUNT_ISSUER}`,
    `--service-account-key-file=${pki.serviceAccountPub}`,
    `--service-account-signing-key-file=${pki.serviceAccountKey}`,
    `--service-cluster-ip-range=${SERVICE_CIDR}`,
    // Loopback cannot be advertised through the kubernetes Service endpoints.
    '--endpoint-reconciler-type=none',
    '--allow-privileged=false',
    '--profiling=false',
    // Keep Events around long enough for tests that read them back.
    '--event-ttl=1h',
    '--v=1',
  ];
}

function kubeconfig(server: string, pki: Pki): string {
  const b64 = (file: string) => readFileSync(file).toString('base64');
  // JSON is valid YAML, and every kubeconfig loader accepts it.
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'vault-sync-test', cluster: { server, 'certificate-authority-data': b64(pki.caCert) } }],
    users: [{ name: 'test-admin', user: { 'client-certificate-data': b64(pki.adminCert), 'client-key-data': b64(pki.adminKey) } }],
    contexts: [{ name: 'vault-sync-test', context: { cluster: 'vault-sync-test', user: 'test-admin' } }],
    'current-context': 'vault-sync-test',
  }, null, 2);
}

/** GET on the apiserver with the admin certificate; resolves with the status code. */
function adminGet(port: number, pki: Pki, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({
      host: '127.0.0.1', port, path, method: 'GET',
      ca: readFileSync(pki.caCert), cert: readFileSync(pki.adminCert), key: readFileSync(pki.adminKey),
      timeout: 2000,
    }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.end();
  });
}

export async function startKube(opts: KubeOptions): Promise<KubeCluster> {
  mkdirSync(opts.dir, { recursive: true });
  const pkiDir = join(opts.dir, 'pki');
  mkdirSync(pkiDir, { recursive: true });
  const sandbox = currentSandbox();
  const pki = createPki(pkiDir, ['IP:127.0.0.1', 'DNS:localhost', 'DNS:kubernetes', 'DNS:kubernetes.default.svc', `IP:${KUBERNETES_SERVICE_IP}`,
    ...(sandbox ? [`IP:${sandbox.address}`] : [])]);
  const etcd = await startEtcd(opts.dir, opts.etcdBin);
  const [port] = await freePorts(1);
  const certDir = join(opts.dir, 'apiserver-certs');
  mkdirSync(certDir, { recursive: true });

  const launch = async (): Promise<ManagedProcess> => {
    const proc = startProcess({
      name: 'kube-apiserver',
      command: opts.apiserverBin,
      args: apiserverArgs(pki, port!, etcd.url, certDir),
      logFile: join(opts.dir, 'kube-apiserver.log'),
    });
    // /readyz turns 200 only after the RBAC bootstrap roles, the default
    // namespaces and priority-and-fairness config exist.
    await waitUntil('kube-apiserver', async () => (await adminGet(port!, pki, '/readyz')) === 200, {
      timeoutMs: 120_000, process: proc, intervalMs: 250,
    });
    return proc;
  };

  const server = `https://127.0.0.1:${port}`;
  const kubeconfigPath = join(opts.dir, 'kubeconfig');
  writeFileSync(kubeconfigPath, kubeconfig(server, pki), { mode: 0o600 });
  const cluster: KubeCluster = {
    server,
    port: port!,
    kubeconfigPath,
    caPem: readFileSync(pki.caCert, 'utf8'),
    pki,
    etcd: etcd.proc,
    apiserver: await launch(),
    async restartApiserver() {
      await cluster.apiserver.stop();
      cluster.apiserver = await launch();
    },
    async stop() {
      await cluster.apiserver.stop();
      await cluster.etcd.stop();
    },
  };
  return cluster;
}
