// The node profile's binaries: kubelet, kube-controller-manager,
// kube-scheduler and kubectl (upstream main packages of k8s.io/kubernetes) and
// our pause, compiled from the Go module proxy (tools/kube-node) into the
// per-machine cache beside kube-apiserver, keyed the same way (version, link
// flags, a hash of the module files). containerd and runc come from Debian
// packages (tools/versions.sh), the CNI plugins too.
//
//   node tools/testenv/node-binaries.ts          build when missing, print the folder
//   node tools/testenv/node-binaries.ts --check  exit 1 when not built
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { cacheRoot, KUBE_VERSION, kubeLdflags, repoRoot } from './binaries.ts';

const moduleDir = join(repoRoot, 'tools', 'kube-node');
const UPSTREAM = ['kubelet', 'kube-controller-manager', 'kube-scheduler', 'kubectl'] as const;

export interface NodeBinaries {
  kubelet: string;
  kubeControllerManager: string;
  kubeScheduler: string;
  kubectl: string;
  /** Static pause binary for the sandbox image. */
  pause: string;
  /** Debian's, on PATH. */
  containerd: string;
  runc: string;
  ctr: string;
  /** Debian's containernetworking-plugins. */
  cniBinDir: string;
}

function cacheKey(): string {
  const hash = createHash('sha256').update(kubeLdflags());
  for (const file of ['go.mod', 'go.sum', 'cmd/pause/main.go']) hash.update(file).update(readFileSync(join(moduleDir, file)));
  return `kube-node-${KUBE_VERSION}-${hash.digest('hex').slice(0, 12)}`;
}

export function nodeBinaryDir(): string {
  return join(cacheRoot(), cacheKey());
}

export function nodeBinaryPaths(): NodeBinaries {
  const dir = nodeBinaryDir();
  return {
    kubelet: join(dir, 'kubelet'),
    kubeControllerManager: join(dir, 'kube-controller-manager'),
    kubeScheduler: join(dir, 'kube-scheduler'),
    kubectl: join(dir, 'kubectl'),
    pause: join(dir, 'pause'),
    containerd: '/usr/bin/containerd',
    runc: '/usr/sbin/runc',
    ctr: '/usr/bin/ctr',
    cniBinDir: '/usr/lib/cni',
  };
}

const built = (b: NodeBinaries) => [b.kubelet, b.kubeControllerManager, b.kubeScheduler, b.kubectl, b.pause];

/** Builds into a temporary folder renamed into place, like ensureKubeBinaries. */
export function ensureNodeBinaries(log: (line: string) => void = () => {}): NodeBinaries {
  const bins = nodeBinaryPaths();
  if (built(bins).every((f) => existsSync(f))) return bins;
  const finalDir = nodeBinaryDir();
  const tmpDir = `${finalDir}.tmp-${process.pid}`;
  rmSync(tmpDir, { recursive: true, force: true });
  mkdirSync(tmpDir, { recursive: true });
  log(`building kubelet, kube-controller-manager, kube-scheduler, kubectl ${KUBE_VERSION} and pause from the Go module proxy into ${finalDir} (once per machine)`);
  const started = Date.now();
  execFileSync('go', ['build', '-trimpath', '-ldflags', kubeLdflags(), '-o', `${tmpDir}/`, ...UPSTREAM.map((c) => `k8s.io/kubernetes/cmd/${c}`)], {
    cwd: moduleDir, stdio: ['ignore', 'inherit', 'inherit'],
  });
  // The sandbox image has nothing but this file: no libc, so no cgo.
  execFileSync('go', ['build', '-trimpath', '-ldflags', '-s -w', '-o', join(tmpDir, 'pause'), './cmd/pause'], {
    cwd: moduleDir, stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, CGO_ENABLED: '0' },
  });
  rmSync(finalDir, { recursive: true, force: true });
  renameSync(tmpDir, finalDir);
  log(`built in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return bins;
}

export function requireNodeBinaries(): NodeBinaries {
  const bins = nodeBinaryPaths();
  for (const file of [...built(bins), bins.containerd, bins.runc, bins.ctr, join(bins.cniBinDir, 'bridge')]) {
    if (!existsSync(file)) throw new Error(`node profile: ${file} missing; run tools/bootstrap (it builds the node binaries and installs containerd, runc and the CNI plugins)`);
  }
  return bins;
}

if (import.meta.main) {
  try {
    if (process.argv.includes('--check')) requireNodeBinaries();
    else ensureNodeBinaries((line) => process.stderr.write(`[node-binaries] ${line}\n`));
    process.stdout.write(`${nodeBinaryDir()}\n`);
  } catch (err) {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  }
}
