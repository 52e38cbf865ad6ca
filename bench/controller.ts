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
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { KubeConfig } from '@kubernetes/client-node';
import { KubeHttp, MERGE_PATCH } from '../shared/kube/http.ts';
import { createEngine } from '../shared/engine.ts';
import { parseVaultPath } from '../shared/paths.ts';
import { buildPayload } from '../shared/payload.ts';
import { buildAll } from '../tools/build.ts';
import { startEnvironment } from '../tools/testenv/environment.ts';
import { baoApi } from '../tools/testenv/openbao.ts';
import { IMAGE_NODE_FLAGS, populate as populateIn, sample, startBenchController, value4k, waitForCount } from './support.ts';

const small = process.argv.includes('--small');
const [N1, N2] = small ? [200, 1000] : [1000, 10_000];
const RATE = 100_000;

await buildAll();
const env = await startEnvironment();
const kc = new KubeConfig();
kc.loadFromFile(env.kubeconfig);
const http = new KubeHttp(kc);
const populate = (namespace: string, n: number) => populateIn(http, namespace, n);

// The image's Node flags (deploy/image/entrypoint.sh for the chart's 256 MiB
// limit): a small young generation keeps RSS near the live heap.
const startController = (namespace: string) => startBenchController(env, {
  namespaces: [namespace], nodeFlags: IMAGE_NODE_FLAGS,
  args: [`--rate-limit=${RATE}`, '--rate-limit-burst=1000', '--max-concurrent-reconciles=16'],
});

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
