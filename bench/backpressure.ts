// Listening to Vault, measured side by side in one run against a real
// apiserver and an OpenBao (dev mode, file audit device) with a real
// rate-limit quota (sys/quotas/rate-limit). Accepted requests and their
// times come from the audit log; 429s (OpenBao does not audit them) from the
// controllers' own vault_sync_operator_vault_requests_total.
//
//   quota     a quota Q below the configured rate (3Q): 429 share, and the
//             convergence time (first to last accepted data write) against
//             a controller configured exactly at the quota;
//   shared    three controllers (different --cluster-name) under one quota
//             Q, 10/s each: combined 429 share, failed syncs, and the time
//             against one controller at the quota doing all their work;
//   retune    one controller at 20/s under load, retuned to 5/s (burst 5)
//             through its tuning ConfigMap: the observed rate before and
//             after, and the worst window against rate·t + burst across the
//             switch (every window between two requests; rate·t is the
//             integral of the configured rate, burst the larger of the two).
//
// Usage: node bench/backpressure.ts   (npm run bench:backpressure)
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { KubeConfig } from '@kubernetes/client-node';
import { KubeHttp } from '../shared/kube/http.ts';
import { buildAll } from '../tools/build.ts';
import { AuditLog, type AuditEntry } from '../tools/testenv/audit.ts';
import { requireBinaries } from '../tools/testenv/binaries.ts';
import { startEnvironment } from '../tools/testenv/environment.ts';
import { baoApi, startDevOpenBao } from '../tools/testenv/openbao.ts';
import { acceptedWrites, populate, sample, startBenchController, writeSpan, type BenchController } from './support.ts';

const Q = 20;
const SYNCED = /^vault_sync_operator_reconcile_total\{kind="Deployment",outcome="synced"\}/;
const FAILED = /^vault_sync_operator_reconcile_total\{kind="Deployment",outcome="(failed|terminal)"\}/;
const ALL_REQUESTS = /^vault_sync_operator_vault_requests_total\{/;
const REFUSED = /^vault_sync_operator_vault_requests_total\{.*status="429"\}/;

await buildAll();
const env = await startEnvironment();
const kc = new KubeConfig();
kc.loadFromFile(env.kubeconfig);
const http = new KubeHttp(kc);
mkdirSync(join(env.dir, 'bp-bao'), { recursive: true });
const bao = await startDevOpenBao({ dir: join(env.dir, 'bp-bao'), bin: requireBinaries().bao, audit: true });
const audit = new AuditLog(bao.auditLog!);
let serial = 0;
const start = (namespaces: string[], args: string[]) => startBenchController(env, { namespaces, vaultAddr: bao.addr, vaultToken: bao.rootToken, args });
const setQuota = async (rate: number | undefined) => {
  if (rate === undefined) await baoApi(bao.addr, bao.rootToken, 'DELETE', 'sys/quotas/rate-limit/bench');
  else await baoApi(bao.addr, bao.rootToken, 'POST', 'sys/quotas/rate-limit/bench', { path: 'secret/', rate, interval: '1s' });
  await sleep(1500); // the quota's window from the previous case is over
};
const totals = async (cs: BenchController[], re: RegExp) => (await Promise.all(cs.map(async (c) => sample(await c.metrics(), re)))).reduce((a, b) => a + b, 0);
const waitAll = async (cs: BenchController[], n: number) => {
  const t0 = performance.now();
  while ((await Promise.all(cs.map(async (c) => sample(await c.metrics(), SYNCED)))).some((v) => v < n)) {
    if (performance.now() - t0 > 300_000) throw new Error(`not all ${n} synced within 300 s`);
    await sleep(200);
  }
};

/** Controllers over fresh namespaces of `n` Deployments each, run until all synced. */
async function converge(n: number, runs: { cluster?: string; args: string[] }[]) {
  const namespaces = runs.map(() => `bp-${++serial}`);
  await Promise.all(namespaces.map((ns) => populate(http, ns, n, { pathOf: (i) => `secret/data/${ns}/d${i}` })));
  const mark = audit.mark();
  const cs = await Promise.all(runs.map((r, i) => start([namespaces[i]!], [...(r.cluster ? [`--cluster-name=${r.cluster}`] : []), ...r.args])));
  await waitAll(cs, n);
  const [refused, total, failed] = [await totals(cs, REFUSED), await totals(cs, ALL_REQUESTS), await totals(cs, FAILED)];
  await Promise.all(cs.map((c) => c.stop()));
  const writes = acceptedWrites(audit.since(mark), '');
  return { seconds: writeSpan(writes), writes: writes.length, refused, total, share: refused / total, failed };
}

const pct = (x: number) => `${(x * 100).toFixed(1)} %`;

async function quotaCase() {
  await setQuota(Q);
  const atQuota = await converge(200, [{ args: [`--rate-limit=${Q}`] }]);
  await setQuota(Q);
  const above = await converge(200, [{ args: [`--rate-limit=${3 * Q}`] }]);
  const ratio = above.seconds / atQuota.seconds;
  console.log(`quota ${Q}/s, 200 Deployments: configured at the quota ${atQuota.seconds.toFixed(1)} s (${atQuota.refused}/${atQuota.total} answered 429); configured ${3 * Q}/s ${above.seconds.toFixed(1)} s (${above.refused}/${above.total} answered 429, ${pct(above.share)}), ${above.failed} failed`);
  console.log(`SUMMARY quota below rate: 429 share ${pct(above.share)} (target <= 5 %), convergence ${ratio.toFixed(2)}x a controller configured at the quota (target <= 1.1)`);
}

async function sharedCase() {
  await setQuota(Q);
  const one = await converge(600, [{ args: [`--rate-limit=${Q}`] }]);
  await setQuota(Q);
  const three = await converge(200, ['east', 'west', 'north'].map((cluster) => ({ cluster, args: [] })));
  console.log(`quota ${Q}/s, 600 Deployments: one controller at the quota ${one.seconds.toFixed(1)} s; three controllers (10/s each, 200 each) ${three.seconds.toFixed(1)} s, ${(three.writes / three.seconds).toFixed(1)} writes/s, ${three.refused}/${three.total} answered 429, ${three.failed} failed`);
  console.log(`SUMMARY three controllers, one quota: combined 429 share ${pct(three.share)} (target <= 5 %), ${three.failed} failed syncs, convergence ${(three.seconds / one.seconds).toFixed(2)}x one controller at the quota`);
}

/** The worst count / (∫rate + burst) over every window between two requests; > 1 breaks the bound. */
function worstWindow(times: number[], rateAt: (t: number) => number, switchAt: number, burst: number): { ratio: number; count: number; allowed: number } {
  const integral = (a: number, b: number) => {
    const before = Math.max(0, Math.min(b, switchAt) - a);
    const after = Math.max(0, b - Math.max(a, switchAt));
    return (before * rateAt(switchAt - 1) + after * rateAt(switchAt)) / 1000;
  };
  let worst = { ratio: 0, count: 0, allowed: 0 };
  for (let i = 0; i < times.length; i++) {
    for (let j = i; j < times.length; j++) {
      const allowed = integral(times[i]!, times[j]!) + burst;
      const count = j - i + 1;
      if (count / allowed > worst.ratio) worst = { ratio: count / allowed, count, allowed };
    }
  }
  return worst;
}

async function retuneCase() {
  await setQuota(undefined);
  const ns = `bp-${++serial}`;
  const cm = 'bench-tuning';
  await populate(http, ns, 500, { pathOf: (i) => `secret/data/${ns}/d${i}` });
  const mark = audit.mark();
  const c = await start([ns], [`--tuning-configmap=${ns}/${cm}`, '--rate-limit=20', '--rate-limit-burst=20']);
  while (sample(await c.metrics(), SYNCED) < 100) await sleep(100);
  await http.request('POST', `/api/v1/namespaces/${ns}/configmaps`, { body: { metadata: { name: cm }, data: { 'rate-limit': '5', 'rate-limit-burst': '5' } } });
  const patchedAt = Date.now();
  // When the controller applied it: the first poll (every 20 ms) that sees the new rate. Taking the later end is lenient by at most 20 ms of the old rate.
  while (sample(await c.metrics(), /^vault_rate_limit_configured_rate /) !== 5) await sleep(20);
  const appliedAt = Date.now();
  await sleep(10_000);
  const synced = sample(await c.metrics(), SYNCED);
  await c.stop();
  const times = audit.since(mark).map((e: AuditEntry) => Date.parse(e.time)).sort((a, b) => a - b);
  const inWindow = (a: number, b: number) => times.filter((t) => t >= a && t < b).length / ((b - a) / 1000);
  const before = inWindow(appliedAt - 5000, appliedAt);
  const after = inWindow(appliedAt + 1000, appliedAt + 9000);
  const span = times.filter((t) => t >= appliedAt - 5000 && t < appliedAt + 9000);
  const worst = worstWindow(span, (t) => (t < appliedAt ? 20 : 5), appliedAt, 20);
  console.log(`retune 20/s burst 20 -> 5/s burst 5 under load (500 Deployments, ${synced} synced by the end): applied ${appliedAt - patchedAt} ms after the ConfigMap was created; observed ${before.toFixed(1)} req/s in the 5 s before, ${after.toFixed(1)} req/s from 1 s to 9 s after`);
  console.log(`SUMMARY retune under load: observed ${before.toFixed(1)} -> ${after.toFixed(1)} req/s (configured 20 -> 5), applied in ${appliedAt - patchedAt} ms (target <= 2000); worst window across the switch ${worst.count} requests vs rate·t + burst = ${worst.allowed.toFixed(1)} (ratio ${worst.ratio.toFixed(2)}, bound holds when <= 1)`);
}

try {
  await quotaCase();
  await sharedCase();
  await retuneCase();
} finally {
  await bao.stop();
  await env.stop();
}
