// What the controller benchmarks share: populating the test apiserver,
// running the controller bundle as a child process, reading its metrics, and
// reading convergence from an OpenBao audit log.
import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { randomBytes } from 'node:crypto';
import { Agent, request } from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';
import type { KubeHttp } from '../shared/kube/http.ts';
import type { AuditEntry } from '../tools/testenv/audit.ts';
import { repoRoot } from '../tools/testenv/binaries.ts';
import type { TestEnvironment } from '../tools/testenv/environment.ts';
import { freePorts } from '../tools/testenv/ports.ts';

// As deploy/image/entrypoint.sh sets them for the chart's default 256 MiB memory limit.
export const IMAGE_NODE_FLAGS = ['--max-semi-space-size=4', '--max-old-space-size=128', '--optimize-for-size'];
// And the environment it sets (glibc's malloc arenas, see the entrypoint).
export const IMAGE_ENV = { MALLOC_ARENA_MAX: '2' };

export const value4k = () => randomBytes(2048).toString('hex');

export async function inParallel<T>(items: T[], concurrency: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < items.length) await fn(items[next++]!);
  }));
}

/** `n` Deployments, each reading its own 4 KiB Secret (auto-discovery), in a new namespace. */
export async function populate(http: KubeHttp, namespace: string, n: number, opts: { annotations?: Record<string, string>; pathOf?: (i: number) => string } = {}): Promise<void> {
  await http.request('POST', '/api/v1/namespaces', { body: { metadata: { name: namespace } } });
  const t0 = performance.now();
  await inParallel([...Array(n).keys()], 32, async (i) => {
    await http.request('POST', `/api/v1/namespaces/${namespace}/secrets`, { body: { metadata: { name: `s${i}` }, stringData: { value: value4k() } } });
    await http.request('POST', `/apis/apps/v1/namespaces/${namespace}/deployments`, {
      body: {
        metadata: { name: `d${i}`, annotations: { 'vault-sync.io/path': opts.pathOf?.(i) ?? `secret/data/${namespace}/d${i}`, ...opts.annotations } },
        spec: {
          selector: { matchLabels: { app: `d${i}` } },
          template: { metadata: { labels: { app: `d${i}` } }, spec: { containers: [{ name: 'c', image: 'x', envFrom: [{ secretRef: { name: `s${i}` } }] }] } },
        },
      },
    });
  });
  process.stderr.write(`  created ${n} Deployments + ${n} Secrets in ${namespace} in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
}

/**
 * GET on the apiserver over plain node:https with a keep-alive agent (the
 * kubeconfig's certificates or token), answering the body as text: the
 * per-call bench's reference, and a reader for /metrics (not JSON).
 */
export function rawKubeGetter(kc: KubeConfig): { get(path: string): Promise<string>; close(): void } {
  const cluster = kc.getCurrentCluster()!;
  const user = kc.getCurrentUser()!;
  const material = (data?: string, file?: string) => (data ? Buffer.from(data, 'base64') : file ? readFileSync(file) : undefined);
  const agent = new Agent({ keepAlive: true, maxSockets: 4, ca: material(cluster.caData, cluster.caFile), cert: material(user.certData, user.certFile), key: material(user.keyData, user.keyFile) });
  const server = new URL(cluster.server);
  const headers = { accept: 'application/json', ...(user.token ? { authorization: `Bearer ${user.token}` } : {}) };
  const get = (path: string) =>
    new Promise<string>((resolve, reject) => {
      const req = request({ agent, host: server.hostname, port: server.port, path, method: 'GET', headers }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => (res.statusCode === 200 ? resolve(text) : reject(new Error(`GET ${path}: HTTP ${res.statusCode}`))));
      });
      req.on('error', reject);
      req.end();
    });
  return { get, close: () => agent.destroy() };
}

/** apiserver_request_total summed by "VERB resource[/subresource]", from the apiserver's /metrics text. */
export function apiserverRequests(metricsText: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const line of metricsText.split('\n')) {
    if (!line.startsWith('apiserver_request_total{')) continue;
    const label = (name: string) => new RegExp(`[{,]${name}="([^"]*)"`).exec(line)?.[1] ?? '';
    const sub = label('subresource');
    const key = `${label('verb')} ${label('resource')}${sub ? `/${sub}` : ''}`;
    counts.set(key, (counts.get(key) ?? 0) + Number(line.split(' ').at(-1)));
  }
  return counts;
}

export interface BenchController {
  child: ChildProcess;
  /** CPU seconds (user + system) the process used so far, from /proc. */
  cpuSeconds(): number;
  metrics(): Promise<string>;
  stop(): Promise<void>;
}

export async function startBenchController(env: TestEnvironment, opts: {
  namespaces: string[];
  vaultAddr?: string;
  vaultToken?: string;
  nodeFlags?: string[];
  args?: string[];
  /** The program to run (default: the bundle; controller/main.ts runs the sources, e.g. for readable profiles). */
  entry?: string;
  /** Added to the inherited environment (e.g. IMAGE_ENV). */
  env?: Record<string, string>;
}): Promise<BenchController> {
  const [metricsPort, probePort] = await freePorts(2);
  const log = openSync(join(env.dir, `controller-${opts.namespaces.join('_').slice(0, 60)}-${Date.now()}.log`), 'a');
  const child = spawn(process.execPath, [
    ...(opts.nodeFlags ?? []), opts.entry ?? join(repoRoot, 'dist', 'controller.mjs'), `--kubeconfig=${env.kubeconfig}`, `--vault-addr=${opts.vaultAddr ?? env.vaultAddr}`, '--vault-auth-method=token',
    `--namespaces=${opts.namespaces.join(',')}`, '--metrics-auth=false', `--metrics-bind-address=127.0.0.1:${metricsPort}`, `--health-probe-bind-address=127.0.0.1:${probePort}`,
    '--log-level=warn', ...(opts.args ?? []),
  ], { env: { ...process.env, ...opts.env, VAULT_TOKEN: opts.vaultToken ?? env.vaultToken }, stdio: ['ignore', log, log] });
  const metrics = async () => (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(`http://127.0.0.1:${probePort}/healthz`)).ok) break;
    } catch { /* starting */ }
    if (i > 300) throw new Error('controller did not start');
    await sleep(50);
  }
  return {
    child, metrics,
    cpuSeconds: () => procCpuSeconds(child.pid!),
    async stop() {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    },
  };
}

export function sample(text: string, re: RegExp): number {
  return text.split('\n').filter((l) => !l.startsWith('#') && re.test(l)).reduce((sum, l) => sum + Number(l.split(' ').at(-1)), 0);
}

/**
 * Polls the controller's /metrics until the counter reaches `target`. Each
 * scrape costs the controller CPU (2-4 ms for its ~35 KB of text, measured
 * in a scratch run), so a bench that measures CPU polls rarely (`everyMs`):
 * at 10 Hz the polling alone added ~3 ms per resource to a 300-resource
 * run at the default throttle.
 */
export async function waitForCount(c: BenchController, re: RegExp, target: number, timeoutMs: number, everyMs = 100): Promise<number> {
  const t0 = performance.now();
  for (;;) {
    const n = sample(await c.metrics(), re);
    if (n >= target) return (performance.now() - t0) / 1000;
    if (performance.now() - t0 > timeoutMs) throw new Error(`only ${n} of ${target} after ${timeoutMs} ms`);
    await sleep(everyMs);
  }
}

/** Resident set size of a process, MiB, from /proc (what the kernel charges it). */
export function rssMiB(text: string): number {
  return sample(text, /^process_resident_memory_bytes/) / 2 ** 20;
}

/** utime + stime of a process, in seconds (Linux /proc; clock ticks are 100 Hz here). */
export function procCpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Accepted KV v2 data writes under `secret/data/<prefix>` (an audit log's response entries). */
export function acceptedWrites(entries: AuditEntry[], prefix: string): AuditEntry[] {
  return entries.filter((e) => e.path.startsWith(`secret/data/${prefix}`) && (e.operation === 'create' || e.operation === 'update') && !e.error);
}

/** Seconds from the first to the last of these writes: the convergence time. */
export function writeSpan(writes: AuditEntry[]): number {
  return writes.length < 2 ? 0 : (Date.parse(writes.at(-1)!.time) - Date.parse(writes[0]!.time)) / 1000;
}
