// The node profile: Deployments get real pods. Beside the environment's
// kube-apiserver it starts kube-controller-manager and kube-scheduler (in the
// sandbox), and N nodes, each a kubelet with its own containerd + runc in a
// network namespace and a mount namespace of its own:
//
//   sandbox netns (vso0 198.18.0.1/24) ── veth ── node-1 netns: eth0 198.18.0.11, pods on cni0 198.18.16.0/24
//                                      └─ veth ── node-2 netns: eth0 198.18.0.12, pods on cni0 198.18.17.0/24
//
// Pods get addresses from the CNI bridge plugin (Debian's
// containernetworking-plugins); the sandbox and the nodes route each pod CIDR
// to its node. The kubernetes Service IP is forwarded to the apiserver
// (network.ts); there is no kube-proxy, so other ClusterIPs are not served.
//
// Protecting the machine. kubelet and containerd write host-global state:
// sysctls (kernel.panic, kernel.panic_on_oops, vm.overcommit_memory,
// vm.panic_on_oom, kernel.keys.root_max*), fixed paths (/var/lib/kubelet,
// /var/lib/kubelet/device-plugins, /var/log/containers, /var/log/pods,
// /run/containerd, /var/lib/cni). Each node's mount namespace is private
// (propagation private) and has, bind-mounted over those, the node's own
// copies: /var/lib, /var/log and /run are folders of the node, each sysctl
// file is a regular file of the node holding the host's value, and
// /etc/resolv.conf names the node's loopback (no registry is reachable). Nothing
// reaches the host's files. Cgroups: each node's cgroupRoot is one new
// directory per v1 controller (vso-<id>-<node>), removed at stop with
// everything under it; the hierarchy is never remounted or reconfigured.
// hostChanges() reports any difference in those host values and paths.
import { execFileSync } from 'node:child_process';
import { get as httpsGet } from 'node:https';
import { existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { KubeConfig } from '@kubernetes/client-node';
import { KubeHttp } from '../../shared/kube/http.ts';
import { type EnvironmentInfo } from './environment.ts';
import { forward, type Forwarder } from './forward.ts';
import { nodeAddress, podCidr, sandboxAddress, serveKubernetesService } from './network.ts';
import { requireNodeBinaries, type NodeBinaries } from './node-binaries.ts';
import { writeOciImage } from './oci.ts';
import { issueCertificate } from './pki.ts';
import { freePorts } from './ports.ts';
import { onInterrupt, startProcess, waitUntil, type ManagedProcess } from './processes.ts';

export const PAUSE_IMAGE = 'localhost/vso/pause:1';

/** Host-global files kubelet writes (pkg/kubelet/cm setupKernelTunables). */
export const GUARDED_SYSCTLS = ['kernel/panic', 'kernel/panic_on_oops', 'vm/overcommit_memory', 'vm/panic_on_oom', 'kernel/keys/root_maxkeys', 'kernel/keys/root_maxbytes'];
/** Host paths kubelet and containerd write by default; each must stay as it was. */
export const GUARDED_PATHS = ['/var/lib/kubelet', '/var/lib/containerd', '/var/lib/cni', '/var/log/containers', '/var/log/pods', '/run/containerd'];
/** Bind-mounted in each node's mount namespace to folders of the node. */
const PRIVATE_DIRS = ['/var/lib', '/var/log', '/run'];
const CGROUP_ROOT = '/sys/fs/cgroup';

export interface KubeNode {
  name: string;
  address: string;
  podCidr: string;
  dir: string;
  /** The pid whose namespaces are the node's (netns + mount ns). */
  holderPid: number;
  containerd: ManagedProcess;
  kubelet: ManagedProcess;
  containerdSocket: string;
  cgroupRoot: string;
  /** Runs `ctr` against this node's containerd. */
  ctr(args: string[]): string;
  /** The node's own copy of a guarded sysctl (what kubelet wrote). */
  sysctl(name: string): string;
}

export interface NodeCluster {
  nodes: KubeNode[];
  controllerManager: ManagedProcess;
  scheduler: ManagedProcess;
  /** Forwarders the pods need: the kubernetes Service, and OpenBao on the sandbox address. */
  vaultAddrForPods: string;
  /** Imports an OCI archive into every node's containerd (namespace k8s.io). */
  loadImage(archive: string): void;
  /** Host values that changed since the start (should be none). */
  hostChanges(): string[];
  stop(): Promise<void>;
}

interface HostSnapshot {
  sysctls: Record<string, string>;
  paths: Record<string, boolean>;
}

function hostSnapshot(): HostSnapshot {
  return {
    sysctls: Object.fromEntries(GUARDED_SYSCTLS.map((s) => [s, readFileSync(`/proc/sys/${s}`, 'utf8').trim()])),
    paths: Object.fromEntries(GUARDED_PATHS.map((p) => [p, existsSync(p)])),
  };
}

const sh = (cmd: string, args: string[]) => execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
const inNode = (pid: number, ns: ('-n' | '-m')[], cmd: string[]) => sh('nsenter', ['-t', String(pid), ...ns, '--', ...cmd]);

/** Every hierarchy mounted under /sys/fs/cgroup: v1 controllers, systemd's named one, the hybrid's unified one. */
function cgroupControllers(): string[] {
  return readdirSync(CGROUP_ROOT).filter((name) => statSync(join(CGROUP_ROOT, name)).isDirectory() && existsSync(join(CGROUP_ROOT, name, 'cgroup.procs')));
}

function createCgroupRoot(name: string): void {
  for (const c of cgroupControllers()) {
    const dir = join(CGROUP_ROOT, c, name);
    mkdirSync(dir, { recursive: true });
    // A new cpuset has no CPUs or memory nodes until given its parent's.
    if (c === 'cpuset' || c.includes('cpuset')) {
      for (const f of ['cpuset.cpus', 'cpuset.mems']) writeFileSync(join(dir, f), readFileSync(join(CGROUP_ROOT, c, f), 'utf8'));
    }
  }
}

/** Pids in a cgroup subtree (every controller, so nothing escapes). */
function cgroupPids(name: string): number[] {
  const pids = new Set<number>();
  const walk = (dir: string) => {
    if (!existsSync(dir)) return;
    for (const line of readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n')) if (line) pids.add(Number(line));
    for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) walk(join(dir, e.name));
  };
  for (const c of cgroupControllers()) walk(join(CGROUP_ROOT, c, name));
  return [...pids];
}

function removeCgroupRoot(name: string): void {
  const rm = (dir: string) => {
    if (!existsSync(dir)) return;
    for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) rm(join(dir, e.name));
    rmdirSync(dir);
  };
  for (const c of cgroupControllers()) rm(join(CGROUP_ROOT, c, name));
}

/** Pids whose mount namespace is `mntNs` (containerd shims live there, detached from their parent). */
function pidsInMountNs(mntNs: string): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readlinkSync(`/proc/${entry}/ns/mnt`) === mntNs) out.push(Number(entry));
    } catch { /* gone */ }
  }
  return out;
}

function killAll(pids: number[]): void {
  for (const pid of pids) {
    try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
  }
}

function containerdConfig(dir: string, bins: NodeBinaries): string {
  return `version = 2
root = "/var/lib/containerd"
state = "/run/containerd"
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]

[grpc]
  address = "${join(dir, 'containerd.sock')}"
[ttrpc]
  address = "${join(dir, 'containerd.sock.ttrpc')}"
[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = "${join(dir, 'opt')}"

[plugins."io.containerd.grpc.v1.cri"]
  # registry.k8s.io is out of reach: a pause image built here and imported.
  sandbox_image = "${PAUSE_IMAGE}"
  # No CAP_SYS_RESOURCE: a container may not get a lower oom_score_adj than containerd.
  restrict_oom_score_adj = true
  disable_apparmor = true
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        BinaryName = "${bins.runc}"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "${bins.cniBinDir}"
    conf_dir = "${join(dir, 'cni')}"
`;
}

function cniConfig(dir: string, subnet: string): string {
  return JSON.stringify({
    cniVersion: '1.0.0',
    name: 'vso-pods',
    plugins: [{
      type: 'bridge', bridge: 'cni0', isGateway: true, ipMasq: false, hairpinMode: true,
      ipam: { type: 'host-local', ranges: [[{ subnet }]], routes: [{ dst: '0.0.0.0/0' }], dataDir: join(dir, 'cni-ipam') },
    }],
  }, null, 2);
}

function kubeletConfig(node: { address: string; cgroupRoot: string; dir: string; caCert: string; servingCert: string; servingKey: string }): string {
  return JSON.stringify({
    apiVersion: 'kubelet.config.k8s.io/v1beta1',
    kind: 'KubeletConfiguration',
    address: node.address,
    port: 10250,
    readOnlyPort: 0,
    healthzBindAddress: '127.0.0.1',
    healthzPort: 10248,
    tlsCertFile: node.servingCert,
    tlsPrivateKeyFile: node.servingKey,
    authentication: { anonymous: { enabled: false }, webhook: { enabled: false }, x509: { clientCAFile: node.caCert } },
    authorization: { mode: 'AlwaysAllow' },
    containerRuntimeEndpoint: `unix://${join(node.dir, 'containerd.sock')}`,
    // cgroup v1 on this machine; kubelet 1.37 refuses it unless told.
    failCgroupV1: false,
    cgroupDriver: 'cgroupfs',
    cgroupRoot: node.cgroupRoot,
    cgroupsPerQOS: true,
    failSwapOn: false,
    // No CAP_SYS_RESOURCE: kubelet must not lower its own OOM score or raise its file limit.
    oomScoreAdj: 0,
    maxOpenFiles: 20000,
    makeIPTablesUtilChains: false,
    // Pods get no resolver of the machine's (no DNS server is reachable anyway).
    resolvConf: '',
    clusterDomain: 'cluster.local',
    serializeImagePulls: false,
    evictionHard: { 'memory.available': '50Mi', 'nodefs.available': '1%', 'imagefs.available': '1%' },
    imageGCHighThresholdPercent: 100,
    imageGCLowThresholdPercent: 99,
    rotateCertificates: false,
    protectKernelDefaults: false,
    registerNode: true,
    nodeStatusReportFrequency: '10s',
  }, null, 2);
}

function nodeKubeconfig(server: string, caCert: string, cert: string, key: string): string {
  return JSON.stringify({
    apiVersion: 'v1', kind: 'Config',
    clusters: [{ name: 'c', cluster: { server, 'certificate-authority': caCert } }],
    users: [{ name: 'u', user: { 'client-certificate': cert, 'client-key': key } }],
    contexts: [{ name: 'c', context: { cluster: 'c', user: 'u' } }],
    'current-context': 'c',
  });
}

/** The pause binary as a one-file OCI image (the pod sandbox image). */
async function pauseImage(dir: string, pauseBin: string): Promise<string> {
  const rootfs = join(dir, 'rootfs');
  mkdirSync(rootfs, { recursive: true });
  execFileSync('install', ['-m', '0755', pauseBin, join(rootfs, 'pause')]);
  const image = await writeOciImage({ rootfs, name: PAUSE_IMAGE, out: join(dir, 'image'), createdBy: 'tools/testenv/nodes.ts', config: { Entrypoint: ['/pause'], User: '65535:65535' } });
  return image.archive;
}

async function startNode(opts: { index: number; id: string; dir: string; env: EnvironmentInfo; pkiDir: string; bins: NodeBinaries }): Promise<KubeNode> {
  const { index, bins } = opts;
  const name = `vso-node-${index + 1}`;
  const dir = join(opts.dir, name);
  const address = nodeAddress(index);
  const cidr = podCidr(index);
  for (const d of ['cni', 'cni-ipam', 'opt', 'sysctl', ...PRIVATE_DIRS.map((p) => `private${p}`)]) mkdirSync(join(dir, d), { recursive: true });

  // The node's namespaces, held by a process that only sleeps.
  const holder = startProcess({
    name: `${name}-namespaces`, command: 'unshare', args: ['--net', '--mount', '--propagation', 'private', '--', 'sleep', 'infinity'],
    logFile: join(dir, 'namespaces.log'),
  });
  const holderPid = holder.child.pid!;
  // unshare has made the namespaces once it has exec'd sleep.
  await waitUntil(`${name} namespaces`, async () => readFileSync(`/proc/${holderPid}/comm`, 'utf8').trim() === 'sleep', { timeoutMs: 10_000, process: holder, intervalMs: 20 });

  // Network: a veth from the sandbox bridge into the node, routes for the pod CIDR.
  const host = `vso${index + 1}h`;
  const peer = `vso${index + 1}n`;
  sh('ip', ['link', 'add', host, 'type', 'veth', 'peer', 'name', peer]);
  sh('ip', ['link', 'set', host, 'master', 'vso0', 'up']);
  sh('ip', ['link', 'set', peer, 'netns', String(holderPid)]);
  for (const cmd of [
    ['ip', 'link', 'set', 'lo', 'up'],
    ['ip', 'link', 'set', peer, 'name', 'eth0'],
    ['ip', 'addr', 'add', `${address}/24`, 'dev', 'eth0'],
    ['ip', 'link', 'set', 'eth0', 'up'],
    ['ip', 'route', 'add', 'default', 'via', sandboxAddress()],
    // Per network namespace: pods reach the sandbox through the node.
    ['sh', '-c', 'echo 1 > /proc/sys/net/ipv4/ip_forward'],
  ]) inNode(holderPid, ['-n'], cmd);
  sh('ip', ['route', 'replace', cidr, 'via', address]);

  // Mounts: the node's own /var/lib, /var/log, /run and sysctl files.
  for (const path of PRIVATE_DIRS) inNode(holderPid, ['-m'], ['mount', '--bind', join(dir, `private${path}`), path]);
  // containerd resolves image names itself: give it a resolver on the node's
  // own loopback, so a pull of a registry image fails at once and sends
  // nothing towards the machine's DNS server.
  const resolv = join(dir, 'resolv.conf');
  writeFileSync(resolv, 'nameserver 127.0.0.1\n');
  inNode(holderPid, ['-m'], ['mount', '--bind', resolv, '/etc/resolv.conf']);
  for (const s of GUARDED_SYSCTLS) {
    const copy = join(dir, 'sysctl', s.replaceAll('/', '.'));
    writeFileSync(copy, readFileSync(`/proc/sys/${s}`, 'utf8'));
    inNode(holderPid, ['-m'], ['mount', '--bind', copy, `/proc/sys/${s}`]);
  }

  const cgroupRoot = `/vso-${opts.id}-${name}`;
  createCgroupRoot(cgroupRoot);

  writeFileSync(join(dir, 'containerd.toml'), containerdConfig(dir, bins));
  writeFileSync(join(dir, 'cni', '10-vso.conflist'), cniConfig(dir, cidr));
  const enter = (cmd: string, args: string[]) => ({ command: 'nsenter', args: ['-t', String(holderPid), '-n', '-m', '--', cmd, ...args] });
  const containerd = startProcess({ name: `${name}-containerd`, ...enter(bins.containerd, ['--config', join(dir, 'containerd.toml')]), logFile: join(dir, 'containerd.log') });
  const socket = join(dir, 'containerd.sock');
  const ctr = (args: string[]) => inNode(holderPid, ['-n', '-m'], [bins.ctr, '--address', socket, '--namespace', 'k8s.io', ...args]);
  await waitUntil(`${name} containerd`, async () => { ctr(['version']); return true; }, { timeoutMs: 30_000, process: containerd, intervalMs: 200 });

  const client = issueCertificate(opts.pkiDir, `kubelet-client-${name}`, `/O=system:nodes/CN=system:node:${name}`);
  const serving = issueCertificate(opts.pkiDir, `kubelet-serving-${name}`, `/CN=${name}`, { serverSans: [`IP:${address}`, `DNS:${name}`] });
  const caCert = join(opts.pkiDir, 'ca.crt');
  const kubeconfig = join(dir, 'kubelet.kubeconfig');
  const apiPort = new URL(opts.env.kubeServer).port;
  writeFileSync(kubeconfig, nodeKubeconfig(`https://${sandboxAddress()}:${apiPort}`, caCert, client.cert, client.key), { mode: 0o600 });
  writeFileSync(join(dir, 'kubelet.json'), kubeletConfig({ address, cgroupRoot, dir, caCert, servingCert: serving.cert, servingKey: serving.key }));
  const kubelet = startProcess({
    name: `${name}-kubelet`,
    ...enter(bins.kubelet, [`--config=${join(dir, 'kubelet.json')}`, `--kubeconfig=${kubeconfig}`, `--hostname-override=${name}`, `--node-ip=${address}`, '--v=1']),
    logFile: join(dir, 'kubelet.log'),
  });
  return {
    name, address, podCidr: cidr, dir, holderPid, containerd, kubelet, containerdSocket: socket, cgroupRoot, ctr,
    sysctl: (s) => readFileSync(join(dir, 'sysctl', s.replaceAll('/', '.')), 'utf8').trim(),
  };
}

/** 200 from a control-plane component's /healthz on loopback (its serving certificate is self-signed). */
function healthy(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = httpsGet({ host: '127.0.0.1', port, path: '/healthz', rejectUnauthorized: false, timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => req.destroy());
  });
}

// A node the scheduler may use: Ready, and without the NoSchedule taints the
// node lifecycle controller puts on (not-ready, unreachable) until it has seen
// the node Ready. On a loaded machine that lags the Ready condition.
async function nodeSchedulable(http: KubeHttp, name: string): Promise<boolean> {
  const node = await http.request<any>('GET', `/api/v1/nodes/${name}`);
  return (node?.spec?.taints ?? []).every((t: any) => t.effect !== 'NoSchedule' && t.effect !== 'NoExecute') && !node?.spec?.unschedulable;
}

/** One line per node: conditions and taints (for a test that finds pods unscheduled). */
export async function describeNodes(http: KubeHttp): Promise<string> {
  const list = await http.request<any>('GET', '/api/v1/nodes');
  return (list?.items ?? []).map((n: any) => `node ${n.metadata.name}: ${(n.status?.conditions ?? []).map((c: any) => `${c.type}=${c.status}`).join(' ')}; taints ${JSON.stringify(n.spec?.taints ?? [])}`).join('\n');
}

async function nodeReady(http: KubeHttp, name: string): Promise<boolean> {
  const node: any = await http.request('GET', `/api/v1/nodes/${name}`, { allow404: true });
  return Boolean(node?.status?.conditions?.some((c: any) => c.type === 'Ready' && c.status === 'True'));
}

export async function startNodes(opts: { env: EnvironmentInfo; count?: number; dir?: string; images?: string[]; log?: (line: string) => void }): Promise<NodeCluster> {
  const before = hostSnapshot();
  const bins = requireNodeBinaries();
  const env = opts.env;
  const dir = opts.dir ?? join(env.dir, 'nodes');
  const pkiDir = join(env.dir, 'kube', 'pki');
  const id = `${process.pid}-${Date.now().toString(36)}`;
  mkdirSync(dir, { recursive: true });
  const log = opts.log ?? (() => {});
  const started = Date.now();

  const kubernetesService = await serveKubernetesService(Number(new URL(env.kubeServer).port));
  // OpenBao listens on the sandbox's loopback; pods reach it on the sandbox address.
  const vaultPort = Number(new URL(env.vaultAddr).port);
  const vaultForward: Forwarder = await forward({ host: sandboxAddress(), port: 0 }, { host: '127.0.0.1', port: vaultPort });
  const vaultAddrForPods = `http://${sandboxAddress()}:${(vaultForward.listening as { port: number }).port}`;

  const adminKubeconfig = env.kubeconfig;
  const caCert = join(pkiDir, 'ca.crt');
  const [kcmPort, schedPort] = await freePorts(2);
  const controllerManager = startProcess({
    name: 'kube-controller-manager', command: bins.kubeControllerManager,
    args: [`--kubeconfig=${adminKubeconfig}`, `--authentication-kubeconfig=${adminKubeconfig}`, `--authorization-kubeconfig=${adminKubeconfig}`,
      '--bind-address=127.0.0.1', `--secure-port=${kcmPort}`, '--leader-elect=false', '--use-service-account-credentials=false',
      `--service-account-private-key-file=${join(pkiDir, 'sa.key')}`, `--root-ca-file=${caCert}`,
      `--cluster-signing-cert-file=${caCert}`, `--cluster-signing-key-file=${join(pkiDir, 'ca.key')}`,
      '--controllers=*', '--node-monitor-grace-period=20s', '--v=1'],
    logFile: join(dir, 'kube-controller-manager.log'),
  });
  const scheduler = startProcess({
    name: 'kube-scheduler', command: bins.kubeScheduler,
    args: [`--kubeconfig=${adminKubeconfig}`, `--authentication-kubeconfig=${adminKubeconfig}`, `--authorization-kubeconfig=${adminKubeconfig}`,
      '--bind-address=127.0.0.1', `--secure-port=${schedPort}`, '--leader-elect=false', '--v=1'],
    logFile: join(dir, 'kube-scheduler.log'),
  });

  const nodes: KubeNode[] = [];
  const count = opts.count ?? 2;
  for (let i = 0; i < count; i++) nodes.push(await startNode({ index: i, id, dir, env, pkiDir, bins }));
  // Each node routes the other nodes' pod CIDRs to them.
  for (const n of nodes) for (const other of nodes) if (other !== n) inNode(n.holderPid, ['-n'], ['ip', 'route', 'replace', other.podCidr, 'via', other.address]);

  const images = [await pauseImage(join(dir, 'pause'), bins.pause), ...(opts.images ?? [])];
  const loadImage = (archive: string) => {
    for (const n of nodes) n.ctr(['images', 'import', archive]);
  };
  for (const archive of images) loadImage(archive);

  const kc = new KubeConfig();
  kc.loadFromFile(adminKubeconfig);
  const http = new KubeHttp(kc);
  for (const n of nodes) await waitUntil(`node ${n.name} Ready`, () => nodeReady(http, n.name), { timeoutMs: 120_000, process: n.kubelet, intervalMs: 250 });
  // Pods get bound only when the scheduler serves and the lifecycle controller
  // has lifted the not-ready taints: wait for both, so a dead or slow
  // component fails here with its log instead of as Pending pods later.
  await waitUntil('kube-scheduler healthz', () => healthy(schedPort!), { timeoutMs: 60_000, process: scheduler, intervalMs: 250 });
  await waitUntil('kube-controller-manager healthz', () => healthy(kcmPort!), { timeoutMs: 60_000, process: controllerManager, intervalMs: 250 });
  for (const n of nodes) {
    await waitUntil(`node ${n.name} schedulable (no NoSchedule taint)`, () => nodeSchedulable(http, n.name), { timeoutMs: 120_000, process: controllerManager, intervalMs: 250 })
      .catch(async (err) => { throw new Error(`${(err as Error).message}\n${await describeNodes(http).catch(() => '')}`); });
  }
  log(`node profile up in ${Date.now() - started} ms: ${nodes.map((n) => `${n.name} ${n.address}`).join(', ')}`);

  let stopping: Promise<void> | undefined;
  const cluster: NodeCluster = {
    nodes, controllerManager, scheduler, vaultAddrForPods, loadImage,
    hostChanges() {
      const now = hostSnapshot();
      const changes: string[] = [];
      for (const [k, v] of Object.entries(before.sysctls)) if (now.sysctls[k] !== v) changes.push(`/proc/sys/${k}: ${v} -> ${now.sysctls[k]}`);
      for (const [k, v] of Object.entries(before.paths)) if (now.paths[k] !== v) changes.push(`${k}: ${v ? 'existed' : 'absent'} -> ${now.paths[k] ? 'exists' : 'gone'}`);
      return changes;
    },
    stop() {
      // One stop, however many callers (the test's after(), an interrupt).
      stopping ??= stopNodes();
      return stopping;
    },
  };
  async function stopNodes(): Promise<void> {
    for (const n of nodes) await n.kubelet.stop();
    await Promise.all([controllerManager.stop(), scheduler.stop()]);
    for (const n of nodes) {
      // Containers, then containerd, then its shims (they outlive it, detached, in the node's mount namespace).
      killAll(cgroupPids(n.cgroupRoot));
      await n.containerd.stop();
      let mntNs: string | undefined;
      try { mntNs = readlinkSync(`/proc/${n.holderPid}/ns/mnt`); } catch { /* holder gone */ }
      if (mntNs) killAll(pidsInMountNs(mntNs).filter((p) => p !== n.holderPid));
      await sleep(200);
      killAll(cgroupPids(n.cgroupRoot));
      for (let attempt = 0; ; attempt++) {
        try {
          removeCgroupRoot(n.cgroupRoot);
          break;
        } catch (err) {
          if (attempt > 50) throw new Error(`node ${n.name}: cgroup ${n.cgroupRoot} not removable: ${(err as Error).message}`);
          await sleep(100);
        }
      }
      try { sh('ip', ['route', 'del', n.podCidr]); } catch { /* gone with the veth */ }
      try { sh('ip', ['link', 'del', `vso${nodes.indexOf(n) + 1}h`]); } catch { /* gone with the namespace */ }
    }
    for (const n of nodes) {
      try { process.kill(n.holderPid, 'SIGKILL'); } catch { /* gone */ }
    }
    await vaultForward.close();
    await kubernetesService.close();
    unregister();
  }
  // Ctrl-C or SIGTERM: containers and shims are not our children; stop them first.
  const unregister = onInterrupt(() => cluster.stop());
  return cluster;
}

/** Whether a cgroup root still exists under any controller (for tests). */
export function cgroupRootExists(name: string): boolean {
  return cgroupControllers().some((c) => existsSync(join(CGROUP_ROOT, c, name)));
}
