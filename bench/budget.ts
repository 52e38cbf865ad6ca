// Does the controller spend Vault's budget on data? Measured against real
// servers (kube-apiserver + etcd, and an OpenBao with a file audit device
// that counts every request), at the default throttle (10 req/s, burst 20),
// side by side with the baseline: a plain loop that writes each path once
// through the same throttle (the physical limit while the throttle binds).
//
//   convergence  N fresh Deployments (each with its own Secret): our paths/s
//                ÷ the baseline's paths/s (target >= 0.95), and the requests
//                per path the audit log shows (target 1 on the critical path).
//   rotations    R Secret updates: our updates/s ÷ the baseline's (>= 0.95).
//   operations   audit-log requests per operation: create, update, unchanged,
//                unchanged after a restart, periodic verify, delete.
//   cpu          controller CPU seconds per synced resource (target <= 3 ms),
//                from its own process_cpu_seconds_total.
//   memory       RSS after 200 synced resources on plain `node` (<= 80 MiB),
//                and with 10,000 Deployments + 10,000 Secrets with the image's
//                flags and environment (<= 128 MiB; skip with --no-10k).
//
// Usage: node bench/budget.ts [--n=1000] [--rotations=500] [--no-10k]   (npm run bench:budget)
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { KubeConfig } from '@kubernetes/client-node';
import { KubeHttp, MERGE_PATCH } from '../shared/kube/http.ts';
import { createThrottle } from '../shared/throttle.ts';
import { buildAll } from '../tools/build.ts';
import { AuditLog, type AuditEntry } from '../tools/testenv/audit.ts';
import { requireBinaries } from '../tools/testenv/binaries.ts';
import { startEnvironment } from '../tools/testenv/environment.ts';
import { baoApi, startDevOpenBao } from '../tools/testenv/openbao.ts';
import { apiserverRequests, IMAGE_ENV, IMAGE_NODE_FLAGS, inParallel, populate, rawKubeGetter, rssMiB, sample, startBenchController, value4k, waitForCount, type BenchController } from './support.ts';

const arg = (name: string, fallback: number) => Number(process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? fallback);
const N = arg('n', 1000);
const ROTATIONS = arg('rotations', 500);
const WITH_10K = !process.argv.includes('--no-10k');
const RATE = 10;
const BURST = 20;
/** Where CPU is measured, the bench scrapes the controller every 2 s, as a busy Prometheus might, not at 10 Hz (see waitForCount). */
const CPU_POLL_MS = 2000;

await buildAll();
const env = await startEnvironment();
const bao = await startDevOpenBao({ dir: mkdtempSync(join(tmpdir(), 'vso-bench-bao-')), bin: requireBinaries().bao, audit: true });
const audit = new AuditLog(bao.auditLog!);
const kc = new KubeConfig();
kc.loadFromFile(env.kubeconfig);
const http = new KubeHttp(kc);
const rawKube = rawKubeGetter(kc);
const controller = (namespaces: string[], opts: { args?: string[]; nodeFlags?: string[]; env?: Record<string, string> } = {}) =>
  startBenchController(env, { namespaces, vaultAddr: bao.addr, vaultToken: bao.rootToken, ...opts });

const under = (prefix: string) => (e: AuditEntry) => e.path.includes(`/${prefix}/`) || e.path.endsWith(`/${prefix}`);
const creates = (entries: AuditEntry[]) => entries.filter((e) => e.path.startsWith('secret/data/') && (e.operation === 'create' || e.operation === 'update') && !e.error);
const span = (entries: AuditEntry[]) => (Date.parse(entries.at(-1)!.time) - Date.parse(entries[0]!.time)) / 1000;

/** The baseline: each path written once, plain HTTP, through the same throttle. */
async function baseline(prefix: string, count: number): Promise<{ seconds: number; rate: number }> {
  const throttle = createThrottle({ ratePerSecond: RATE, burst: BURST });
  const t0 = performance.now();
  await inParallel([...Array(count).keys()], 8, async (i) => {
    await throttle.schedule('write', async () => {
      const res = await baoApi(bao.addr, bao.rootToken, 'POST', `secret/data/${prefix}/p${i}`, { data: { value: value4k() } });
      if (res.status !== 200) throw new Error(`baseline write HTTP ${res.status}`);
    });
  });
  await throttle.stop();
  const seconds = (performance.now() - t0) / 1000;
  // Same measure as ours: the token bucket's first burst is free for both.
  return { seconds, rate: count / seconds };
}

async function cpuSeconds(c: BenchController): Promise<number> {
  return sample(await c.metrics(), /^process_cpu_seconds_total/);
}

async function convergence() {
  const ns = 'budget-converge';
  await populate(http, ns, N);
  const mark = audit.mark();
  const apiBefore = apiserverRequests(await rawKube.get('/metrics'));
  const c = await controller([ns]);
  await waitForCount(c, /^vault_sync_operator_reconcile_total\{kind="Deployment",outcome="synced"\}/, N, 60 * 60_000, CPU_POLL_MS);
  const cpu = await cpuSeconds(c);
  // What the controller asked the apiserver per synced resource (nothing else talks to it meanwhile, but this bench's metric polls).
  const apiPerResource = [...apiserverRequests(await rawKube.get('/metrics'))]
    .map(([k, v]) => [k, (v - (apiBefore.get(k) ?? 0)) / N] as const)
    .filter(([k, v]) => v >= 0.05 && !k.startsWith('GET /metrics'));
  const entries = audit.since(mark);
  const data = creates(entries.filter(under(ns)));
  const ours = { seconds: span(entries.slice(0, entries.indexOf(data.at(-1)!) + 1)), paths: data.length };
  const critical = entries.slice(0, entries.indexOf(data.at(-1)!) + 1).length;
  await sleep(1000);
  const base = await baseline('budget-baseline', N);
  return { c, ns, ours: { ...ours, rate: ours.paths / ours.seconds }, base, requestsPerPath: critical / ours.paths, cpuPerResourceMs: (cpu * 1000) / N, apiPerResource };
}

async function rotations(ns: string) {
  const mark = audit.mark();
  const t0 = performance.now();
  await inParallel([...Array(ROTATIONS).keys()], 16, async (i) => {
    await http.request('PATCH', `/api/v1/namespaces/${ns}/secrets/s${i}`, { body: { stringData: { value: value4k() } }, contentType: MERGE_PATCH });
  });
  const patched = (performance.now() - t0) / 1000;
  for (;;) {
    const written = creates(audit.since(mark).filter(under(ns)));
    if (written.length >= ROTATIONS) break;
    await sleep(200);
  }
  const entries = audit.since(mark);
  const data = creates(entries.filter(under(ns)));
  const seconds = span(entries.slice(0, entries.indexOf(data[ROTATIONS - 1]!) + 1));
  const base = await baseline('budget-baseline', ROTATIONS); // overwrites existing paths: updates
  return { seconds, rate: ROTATIONS / seconds, requestsPerUpdate: entries.slice(0, entries.indexOf(data[ROTATIONS - 1]!) + 1).length / ROTATIONS, base, patched };
}

/** Requests the audit log shows for one resource's path, split into critical path and later bookkeeping. */
function countFor(entries: AuditEntry[], path: string) {
  // Mount discovery (sys/internal/ui/mounts) happens once per mount per process, not per operation: counted apart.
  const mine = entries.filter((e) => e.path.endsWith(`/${path}`) && !e.path.startsWith('sys/internal/ui/mounts/'));
  const bookkeeping = mine.filter((e) => e.path.startsWith('secret/metadata/') && (e.operation === 'update' || e.operation === 'patch')).length;
  return { critical: mine.length - bookkeeping, bookkeeping };
}

async function operations() {
  const ns = 'budget-ops';
  await populate(http, ns, 1, { annotations: { 'vault-sync.io/reconcile': '30s' } });
  const path = `${ns}/d0/s0`;
  const annotations = async () => (await http.request('GET', `/apis/apps/v1/namespaces/${ns}/deployments/d0`)).metadata?.annotations ?? {};
  const settled = async () => {
    await sleep(1500); // markers go out in spare budget right after
  };
  const rows: [string, { critical: number; bookkeeping: number }, string][] = [];
  let mark = audit.mark();
  let c = await controller([ns]);
  await waitForCount(c, /^vault_sync_operator_reconcile_total\{kind="Deployment",outcome="synced"\}/, 1, 60_000);
  await settled();
  rows.push(['create', countFor(audit.since(mark), path), '1']);
  mark = audit.mark();
  await http.request('PATCH', `/api/v1/namespaces/${ns}/secrets/s0`, { body: { stringData: { value: value4k() } }, contentType: MERGE_PATCH });
  await waitForCount(c, /^vault_sync_operator_reconcile_total\{kind="Deployment",outcome="synced"\}/, 2, 60_000);
  await settled();
  rows.push(['update of a path we wrote', countFor(audit.since(mark), path), '1']);
  mark = audit.mark();
  await http.request('PATCH', `/api/v1/namespaces/${ns}/secrets/s0`, { body: { metadata: { labels: { touched: 'yes' } } }, contentType: MERGE_PATCH });
  await sleep(2000);
  rows.push(['unchanged (Secret touched, content same)', countFor(audit.since(mark), path), '0']);
  await c.stop();
  mark = audit.mark();
  c = await controller([ns]);
  await waitForCount(c, /^vault_sync_operator_reconcile_total\{kind="Deployment",outcome="(skipped|synced)"\}/, 1, 60_000);
  await sleep(2000);
  rows.push(['unchanged, right after a restart', countFor(audit.since(mark), path), '0']);
  mark = audit.mark();
  await waitForCount(c, /^vault_sync_operator_reconcile_total\{kind="Deployment",outcome="(skipped|synced)"\}/, 2, 90_000);
  await settled();
  rows.push(['periodic verify, nothing drifted', countFor(audit.since(mark), path), '<= 1 read']);
  mark = audit.mark();
  await http.request('DELETE', `/apis/apps/v1/namespaces/${ns}/deployments/d0`);
  for (let i = 0; i < 300 && (await http.request('GET', `/apis/apps/v1/namespaces/${ns}/deployments/d0`, { allow404: true })); i++) await sleep(100);
  rows.push(['delete of a path we own', countFor(audit.since(mark), path), '1']);
  await c.stop();
  void annotations;
  return rows;
}

async function memoryAt200() {
  const ns = 'budget-rss200';
  await populate(http, ns, 200);
  const c = await controller([ns], { args: ['--rate-limit=100000', '--rate-limit-burst=1000', '--max-concurrent-reconciles=16'] });
  await waitForCount(c, /^vault_sync_operator_reconcile_total\{kind="Deployment",outcome="synced"\}/, 200, 10 * 60_000);
  await sleep(3000);
  const rss = rssMiB(await c.metrics());
  await c.stop();
  return rss;
}

async function memoryAt10k() {
  const ns = 'budget-rss10k';
  await populate(http, ns, 10_000);
  const c = await controller([ns], { nodeFlags: IMAGE_NODE_FLAGS, env: IMAGE_ENV, args: ['--rate-limit=100000', '--rate-limit-burst=1000', '--max-concurrent-reconciles=16'] });
  await waitForCount(c, /^vault_sync_operator_reconcile_total\{kind="Deployment",outcome="synced"\}/, 10_000, 60 * 60_000, CPU_POLL_MS);
  await sleep(5000);
  const rss = rssMiB(await c.metrics());
  const cpu = await cpuSeconds(c);
  await c.stop();
  return { rss, cpuPerResourceMs: (cpu * 1000) / 10_000 };
}

try {
  process.stderr.write(`convergence of ${N} Deployments at ${RATE} req/s, burst ${BURST}\n`);
  const conv = await convergence();
  console.log(`convergence: ${conv.ours.paths} paths in ${conv.ours.seconds.toFixed(1)} s = ${conv.ours.rate.toFixed(2)}/s; baseline ${conv.base.seconds.toFixed(1)} s = ${conv.base.rate.toFixed(2)}/s; ratio ${(conv.ours.rate / conv.base.rate).toFixed(3)} (target >= 0.95); ${conv.requestsPerPath.toFixed(3)} Vault requests per path on the critical path`);
  console.log(`cpu: ${conv.cpuPerResourceMs.toFixed(2)} ms per synced resource at the default throttle (target <= 3)`);
  console.log(`apiserver requests per synced resource: ${conv.apiPerResource.map(([k, v]) => `${k} ${v.toFixed(2)}`).join(', ')}`);
  process.stderr.write(`${ROTATIONS} rotations\n`);
  const rot = await rotations(conv.ns);
  console.log(`rotations: ${ROTATIONS} in ${rot.seconds.toFixed(1)} s = ${rot.rate.toFixed(2)}/s; baseline ${rot.base.rate.toFixed(2)}/s; ratio ${(rot.rate / rot.base.rate).toFixed(3)} (target >= 0.95); ${rot.requestsPerUpdate.toFixed(3)} requests per update`);
  await conv.c.stop();
  const ops = await operations();
  console.log('operations (audit log; critical path + bookkeeping in spare budget):');
  for (const [name, n, target] of ops) console.log(`  ${name.padEnd(42)} ${String(n.critical).padStart(2)} + ${n.bookkeeping} marker   (target ${target})`);
  const rss200 = await memoryAt200();
  console.log(`memory: RSS ${rss200.toFixed(0)} MiB after 200 synced resources, plain node without flags (target <= 80)`);
  const big = WITH_10K ? await memoryAt10k() : undefined;
  if (big) console.log(`memory: RSS ${big.rss.toFixed(0)} MiB at 10,000 Deployments + 10,000 Secrets with the image's flags (target <= 128); cpu ${big.cpuPerResourceMs.toFixed(2)} ms per resource there`);
  const opsText = ops.map(([name, n]) => `${name.split(' ')[0]}${name.includes('restart') ? '-restart' : ''}=${n.critical}`).join(' ');
  console.log(`SUMMARY budget: convergence ${(conv.ours.rate / conv.base.rate).toFixed(2)} of baseline (${conv.requestsPerPath.toFixed(2)} req/path), rotations ${(rot.rate / rot.base.rate).toFixed(2)} of baseline; requests ${opsText}; cpu ${conv.cpuPerResourceMs.toFixed(2)} ms/resource; RSS ${rss200.toFixed(0)} MiB @200 plain${big ? `, ${big.rss.toFixed(0)} MiB @10k+10k image flags` : ''}`);
} finally {
  await bao.stop();
  rawKube.close();
  await env.stop();
}
