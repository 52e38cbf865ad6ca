// Benchmark of the controller bundle against a real kube-apiserver + etcd and
// OpenBao (started here). Prints each figure and a summary line.
//
//   convergence  time for a freshly started controller to sync N annotated
//                Deployments (each with its own 4 KiB Secret), N = 1,000 and
//                10,000, next to the core writer alone writing the same number
//                of documents in the same run (the ceiling the controller can
//                approach); throttle set high so Vault is not rate-limited.
//   latency      from a Secret update to the new Vault version, p50 and p99
//                over 200 updates, throttle not binding.
//   restart      Vault writes made when a controller restarts over the 1,000
//                already-synced Deployments (target 0).
//   memory       controller RSS with 10,000 Deployments + 10,000 Secrets of 4 KiB.
//
// Usage: node bench/controller.ts [--small]   (npm run bench:controller)
//   --small runs N = 200 and 1,000 instead (a quick check).
import { spawn, type ChildProcess } from 'node:child_process';
import { openSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { randomBytes } from 'node:crypto';
import { KubeConfig } from '@kubernetes/client-node';
import { KubeHttp, MERGE_PATCH } from '../shared/kube/http.ts';
import { createEngine } from '../shared/engine.ts';
import { parseVaultPath } from '../shared/paths.ts';
import { buildPayload } from '../shared/payload.ts';
import { buildAll } from '../tools/build.ts';
import { repoRoot } from '../tools/testenv/binaries.ts';
import { startEnvironment } from '../tools/testenv/environment.ts';
import { baoApi } from '../tools/testenv/openbao.ts';
import { freePorts } from '../tools/testenv/ports.ts';

const small = process.argv.includes('--small');
const [N1, N2] = small ? [200, 1000] : [1000, 10_000];
const RATE = 100_000;
// As deploy/Dockerfile's entrypoint sets them for the chart's default 256 MiB memory limit.
const CONTROLLER_NODE_FLAGS = ['--max-semi-space-size=4', '--max-old-space-size=128', '--optimize-for-size'];

await buildAll();
const env = await startEnvironment();
const kc = new KubeConfig();
kc.loadFromFile(env.kubeconfig);
const http = new KubeHttp(kc);
const value4k = () => randomBytes(2048).toString('hex');

async function inParallel<T>(items: T[], concurrency: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < items.length) await fn(items[next++]!);
  }));
}

async function populate(namespace: string, n: number): Promise<void> {
  await http.request('POST', '/api/v1/namespaces', { body: { metadata: { name: namespace } } });
  const t0 = performance.now();
  await inParallel([...Array(n).keys()], 32, async (i) => {
    await http.request('POST', `/api/v1/namespaces/${namespace}/secrets`, { body: { metadata: { name: `s${i}` }, stringData: { value: value4k() } } });
    await http.request('POST', `/apis/apps/v1/namespaces/${namespace}/deployments`, {
      body: {
        metadata: { name: `d${i}`, annotations: { 'vault-sync.io/path': `secret/data/${namespace}/d${i}` } },
        spec: {
          selector: { matchLabels: { app: `d${i}` } },
          template: { metadata: { labels: { app: `d${i}` } }, spec: { containers: [{ name: 'c', image: 'x', envFrom: [{ secretRef: { name: `s${i}` } }] }] } },
        },
      },
    });
  });
  process.stderr.write(`  created ${n} Deployments + ${n} Secrets in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
}

interface Controller {
  child: ChildProcess;
  metrics(): Promise<string>;
  stop(): Promise<void>;
}

async function startController(namespace: string): Promise<Controller> {
  const [metricsPort, probePort] = await freePorts(2);
  const log = openSync(join(env.dir, `controller-${namespace}-${Date.now()}.log`), 'a');
  // The same Node flags as the container image (deploy/Dockerfile): a small
  // young generation keeps RSS near the live heap under steady allocation.
  const child = spawn(process.execPath, [
    ...CONTROLLER_NODE_FLAGS, join(repoRoot, 'dist', 'controller.mjs'), `--kubeconfig=${env.kubeconfig}`, `--vault-addr=${env.vaultAddr}`, '--vault-auth-method=token',
    `--namespaces=${namespace}`, '--metrics-auth=false', `--metrics-bind-address=127.0.0.1:${metricsPort}`, `--health-probe-bind-address=127.0.0.1:${probePort}`,
    `--rate-limit=${RATE}`, '--rate-limit-burst=1000', '--max-concurrent-reconciles=16', '--log-level=warn',
  ], { env: { ...process.env, VAULT_TOKEN: env.vaultToken }, stdio: ['ignore', log, log] });
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
    async stop() {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    },
  };
}

function sample(text: string, re: RegExp): number {
  return text.split('\n').filter((l) => !l.startsWith('#') && re.test(l)).reduce((sum, l) => sum + Number(l.split(' ').at(-1)), 0);
}

async function waitForCount(c: Controller, re: RegExp, target: number, timeoutMs: number): Promise<number> {
  const t0 = performance.now();
  for (;;) {
    const n = sample(await c.metrics(), re);
    if (n >= target) return (performance.now() - t0) / 1000;
    if (performance.now() - t0 > timeoutMs) throw new Error(`only ${n} of ${target} after ${timeoutMs} ms`);
    await sleep(100);
  }
}

async function convergence(namespace: string, n: number) {
  await populate(namespace, n);
  const t0 = performance.now();
  const c = await startController(namespace);
  await waitForCount(c, /^vault_sync_operator_reconcile_total\{kind="Deployment",outcome="synced"\}/, n, 30 * 60_000);
  const seconds = (performance.now() - t0) / 1000;
  const failed = sample(await c.metrics(), /^vault_sync_operator_reconcile_total\{kind="Deployment",outcome="(failed|terminal)"\}/);
  return { c, seconds, rate: n / seconds, failed };
}

async function writerRate(namespace: string, n: number): Promise<number> {
  const engine = createEngine({ connection: { addr: env.vaultAddr }, auth: { method: 'token', token: env.vaultToken }, rateLimit: RATE, burst: 1000, batchSize: 16 });
  const ctx = { namespace, name: 'w', kind: 'Deployment', cluster: '' };
  const ops = Array.from({ length: n }, (_, i) => ({
    kind: 'upsert' as const, id: String(i), resource: 'bench', path: parseVaultPath(`secret/data/${namespace}-writer/w${i}`, 'bench'), ctx,
    owner: `default/${namespace}/Deployment/w${i}`, payload: buildPayload([['value', { value: value4k(), base64: false }]]),
  }));
  const t0 = performance.now();
  await engine.run(ops);
  await engine.stop();
  return n / ((performance.now() - t0) / 1000);
}

async function latency(namespace: string, updates: number) {
  const samples: number[] = [];
  for (let u = 0; u < updates; u++) {
    const i = u % 50;
    const meta = async () => (await baoApi(env.vaultAddr, env.vaultToken, 'GET', `secret/metadata/${namespace}/d${i}/s${i}`)).json?.data?.current_version as number;
    const before = await meta();
    const t0 = performance.now();
    await http.request('PATCH', `/api/v1/namespaces/${namespace}/secrets/s${i}`, { body: { stringData: { value: value4k() } }, contentType: MERGE_PATCH });
    while ((await meta()) === before) {
      if (performance.now() - t0 > 10_000) throw new Error('update not synced within 10 s');
      await sleep(2);
    }
    samples.push(performance.now() - t0);
  }
  samples.sort((a, b) => a - b);
  const pct = (p: number) => samples[Math.min(samples.length - 1, Math.floor((p / 100) * samples.length))]!;
  return { p50: pct(50), p99: pct(99), max: samples.at(-1)! };
}

async function restartWrites(namespace: string, n: number) {
  const c = await startController(namespace);
  await waitForCount(c, /^vault_sync_operator_reconcile_total\{kind="Deployment",outcome="(skipped|synced)"\}/, n, 10 * 60_000);
  await sleep(1000);
  const m = await c.metrics();
  await c.stop();
  return {
    writes: sample(m, /^vault_sync_operator_vault_requests_total\{operation="(write|write_metadata|delete|delete_metadata)"/),
    requests: sample(m, /^vault_sync_operator_vault_requests_total\{operation="(read|read_metadata|write|write_metadata|delete|delete_metadata|mount)"/),
    resynced: sample(m, /^vault_sync_operator_reconcile_total\{kind="Deployment",outcome="synced"\}/),
  };
}

try {
  process.stderr.write(`convergence N=${N1}\n`);
  const small1 = await convergence('bench1', N1);
  const writer1 = await writerRate('bench1', N1);
  console.log(`convergence N=${N1}: ${small1.seconds.toFixed(1)} s = ${small1.rate.toFixed(0)} Deployments/s (${small1.failed} failed); core writer alone: ${writer1.toFixed(0)} documents/s; controller/writer = ${(small1.rate / writer1).toFixed(2)}`);

  const lat = await latency('bench1', 200);
  console.log(`latency Secret update -> new Vault version (200 updates, ${N1} resources watched): p50 ${lat.p50.toFixed(0)} ms, p99 ${lat.p99.toFixed(0)} ms, max ${lat.max.toFixed(0)} ms`);
  await small1.c.stop();

  const restart = await restartWrites('bench1', N1);
  console.log(`restart over ${N1} synced Deployments: ${restart.writes} Vault writes, ${restart.requests} Vault KV requests, ${restart.resynced} re-syncs`);

  process.stderr.write(`convergence N=${N2}\n`);
  const big = await convergence('bench2', N2);
  const writer2 = await writerRate('bench2', Math.min(N2, 5000));
  await sleep(2000);
  const rss = sample(await big.c.metrics(), /^process_resident_memory_bytes/) / 2 ** 20;
  const heap = sample(await big.c.metrics(), /^nodejs_heap_size_used_bytes/) / 2 ** 20;
  console.log(`convergence N=${N2}: ${big.seconds.toFixed(1)} s = ${big.rate.toFixed(0)} Deployments/s (${big.failed} failed); core writer alone: ${writer2.toFixed(0)} documents/s; controller/writer = ${(big.rate / writer2).toFixed(2)}`);
  console.log(`memory: controller RSS ${rss.toFixed(0)} MiB (heap used ${heap.toFixed(0)} MiB) watching ${N2} Deployments + ${N2} Secrets of 4 KiB`);
  await big.c.stop();
  console.log(`SUMMARY controller: N=${N1} ${small1.rate.toFixed(0)}/s (${(small1.rate / writer1).toFixed(2)} of writer), N=${N2} ${big.rate.toFixed(0)}/s (${(big.rate / writer2).toFixed(2)} of writer); latency p50 ${lat.p50.toFixed(0)} ms (target <= 250), p99 ${lat.p99.toFixed(0)} ms (target <= 1000); restart writes ${restart.writes} (target 0); RSS ${rss.toFixed(0)} MiB (target <= 200)`);
} finally {
  await env.stop();
}
