// helm, kustomize and two small checkers for the deploy/ tests, compiled
// from the Go module proxy.
//
// Same design as kube-apiserver and etcd (binaries.ts): a tiny Go module
// (tools/deploy-tools) names the upstream commands as `tool` dependencies at
// pinned versions, and `go build` of those upstream main packages (plus
// cmd/yaml2json, a few lines of our own) makes the binaries. A second module,
// tools/deploy-tools/promql, builds promql-check on Prometheus' own PromQL
// parser, kept apart so that its dependencies never change the versions helm
// is built with. All go into the per-machine cache (~/.cache/vault-sync-operator,
// or VSO_CACHE_DIR) under a folder keyed by the versions and a hash of the
// module files, so a version bump rebuilds and nothing else does.
//
//   node tools/testenv/deploy-tools.ts          build when missing, print the paths
//   node tools/testenv/deploy-tools.ts --check  exit 1 when not built (no build)
import { createHash } from 'node:crypto';
import { execFileSync, type ExecFileSyncOptions } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { cacheRoot, repoRoot } from './binaries.ts';

const moduleDir = join(repoRoot, 'tools', 'deploy-tools');
const HELM_PACKAGE = 'helm.sh/helm/v3/cmd/helm';
const KUSTOMIZE_PACKAGE = 'sigs.k8s.io/kustomize/kustomize/v5';

function moduleVersion(goMod: string, module: string): string {
  const escaped = module.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  return new RegExp(`^\\s*${escaped} (v[^\\s]+)`, 'm').exec(goMod)?.[1] ?? 'unknown';
}

function goModText(): string {
  return readFileSync(join(moduleDir, 'go.mod'), 'utf8');
}

export const HELM_VERSION = moduleVersion(goModText(), 'helm.sh/helm/v3');
export const KUSTOMIZE_VERSION = moduleVersion(goModText(), 'sigs.k8s.io/kustomize/kustomize/v5');

function cacheKey(): string {
  const hash = createHash('sha256');
  for (const file of ['go.mod', 'go.sum', 'cmd/yaml2json/main.go', 'promql/go.mod', 'promql/go.sum', 'promql/main.go']) {
    hash.update(file).update(readFileSync(join(moduleDir, file)));
  }
  hash.update(ldflags().join(' '));
  return `deploy-tools-helm-${HELM_VERSION}-kustomize-${KUSTOMIZE_VERSION}-${hash.digest('hex').slice(0, 12)}`;
}

/**
 * The link flags helm's own Makefile sets: its version, and the Kubernetes
 * version `helm template` assumes (.Capabilities.KubeVersion), which defaults
 * to v1.20 without them and would fail a chart's kubeVersion constraint.
 */
function ldflags(): string[] {
  const clientGo = moduleVersion(goModText(), 'k8s.io/client-go'); // v0.37.1 -> Kubernetes 1.37
  const minor = /^v0\.(\d+)\./.exec(clientGo)?.[1] ?? '20';
  return [
    '-s', '-w',
    `-X helm.sh/helm/v3/internal/version.version=${HELM_VERSION}`,
    '-X helm.sh/helm/v3/internal/version.gitTreeState=clean',
    '-X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=1',
    `-X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=${minor}`,
    '-X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1',
    `-X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=${minor}`,
  ];
}

export interface DeployTools {
  helm: string;
  kustomize: string;
  /** Multi-document YAML on stdin to a JSON array on stdout, converted as kubectl does (sigs.k8s.io/yaml, strict). */
  yaml2json: string;
  /** A JSON array of PromQL expressions on stdin; parse errors, metric and label names on stdout. */
  promqlCheck: string;
}

export function deployToolPaths(): DeployTools {
  const dir = join(cacheRoot(), cacheKey());
  return { helm: join(dir, 'helm'), kustomize: join(dir, 'kustomize'), yaml2json: join(dir, 'yaml2json'), promqlCheck: join(dir, 'promql-check') };
}

/**
 * Builds helm and kustomize unless this exact module version is cached.
 * Builds into a temporary folder and renames it into place, so an
 * interrupted build never leaves a half-filled cache entry behind.
 */
export function ensureDeployTools(log: (line: string) => void = () => {}): DeployTools {
  const tools = deployToolPaths();
  if (Object.values(tools).every((path) => existsSync(path))) return tools;
  const finalDir = resolve(tools.helm, '..');
  const tmpDir = `${finalDir}.tmp-${process.pid}`;
  rmSync(tmpDir, { recursive: true, force: true });
  mkdirSync(tmpDir, { recursive: true });
  log(`building helm ${HELM_VERSION}, kustomize ${KUSTOMIZE_VERSION}, yaml2json and promql-check from the Go module proxy into ${finalDir} (once per machine)`);
  const started = Date.now();
  // CGO off as in helm's release builds: static binaries, no C toolchain needed.
  const options: ExecFileSyncOptions = { env: { ...process.env, CGO_ENABLED: '0' }, stdio: ['ignore', 'inherit', 'inherit'] };
  execFileSync('go', ['build', '-trimpath', '-buildvcs=false', '-ldflags', ldflags().join(' '), '-o', `${tmpDir}/`, HELM_PACKAGE, KUSTOMIZE_PACKAGE, './cmd/yaml2json'], { ...options, cwd: moduleDir });
  execFileSync('go', ['build', '-trimpath', '-buildvcs=false', '-ldflags', '-s -w', '-o', join(tmpDir, 'promql-check'), '.'], { ...options, cwd: join(moduleDir, 'promql') });
  rmSync(finalDir, { recursive: true, force: true });
  renameSync(tmpDir, finalDir);
  log(`built in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return tools;
}

/** The paths, or an error saying how to build them. */
export function requireDeployTools(): DeployTools {
  const tools = deployToolPaths();
  for (const [name, path] of Object.entries(tools)) {
    if (!existsSync(path)) throw new Error(`${name} missing at ${path}; run: node tools/testenv/deploy-tools.ts (tools/bootstrap does)`);
  }
  return tools;
}

if (import.meta.main) {
  try {
    if (process.argv.includes('--check')) {
      const tools = requireDeployTools();
      process.stdout.write(`${Object.values(tools).join('\n')}\n`);
    } else {
      const tools = ensureDeployTools((line) => process.stderr.write(`[deploy-tools] ${line}\n`));
      process.stdout.write(`${Object.values(tools).join('\n')}\n`);
    }
  } catch (err) {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  }
}
