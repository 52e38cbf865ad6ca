// Benchmark of the core sync engine against a real OpenBao (dev mode, started
// here on a random port). Prints three figures, each measured side by side in
// this one run, and a summary line:
//
//   1. throttle fidelity: >= 1,000 requests through the writer at a configured
//      rate; achieved rate / configured rate, and the worst window against
//      rate*t + burst.
//   2. distance to the server's limit: throttle off, writer request throughput
//      / a plain HTTP loop's KV write throughput at the same concurrency,
//      alternated A/B/A/B so drift hits both alike.
//   3. memory: 50 secrets of 1 MiB each through planner and writer, 5 at a
//      time as the controller runs them; peak heap (+ array buffers) growth /
//      total payload.
//
//   0. throttle overhead: no-op jobs per second through Bottleneck (the
//      library first chosen) and through shared/throttle.ts, same run; the
//      reason the throttle is our own (see README, "Libraries").
//
// Usage: node --expose-gc bench/core.ts   (npm run bench:core)
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { randomBytes } from 'node:crypto';
import Bottleneck from 'bottleneck';
import { createEngine, type Engine } from '../shared/engine.ts';
import { createThrottle } from '../shared/throttle.ts';
import { parseVaultPath } from '../shared/paths.ts';
import { parseSyncAnnotations } from '../shared/annotations.ts';
import { plan } from '../shared/plan.ts';
import { buildPayload } from '../shared/payload.ts';
import type { UpsertOp } from '../shared/writer.ts';
import { requireBinaries } from '../tools/testenv/binaries.ts';
import { startDevOpenBao, baoApi } from '../tools/testenv/openbao.ts';

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) {
  process.stderr.write('run with node --expose-gc bench/core.ts\n');
  process.exit(2);
}

const dir = mkdtempSync(join(tmpdir(), 'vso-bench-'));
const bao = await startDevOpenBao({ dir, bin: requireBinaries().bao });
const ctx = { namespace: 'bench', name: 'app', kind: 'Deployment', cluster: '' };
const owner = 'default/bench/Deployment/app';

function engine(rateLimit: number, burst: number, onRequestStart?: (op: string) => void, batchSize = 5): Engine {
  return createEngine({
    connection: { addr: bao.addr, timeoutMs: 30_000 },
    auth: { method: 'token', token: bao.rootToken },
    rateLimit, burst, batchSize, onRequestStart,
  });
}

const upsert = (path: string, values: Record<string, string>): UpsertOp => ({
  kind: 'upsert', id: path, resource: 'Deployment bench/app', path: parseVaultPath(path, 'bench'), ctx, owner,
  payload: buildPayload(Object.entries(values).map(([k, v]) => [k, { value: v, base64: false }])),
});

async function mount(name: string): Promise<void> {
  const res = await baoApi(bao.addr, bao.rootToken, 'POST', `sys/mounts/${name}`, { type: 'kv', options: { version: '2' } });
  if (res.status !== 204) throw new Error(`mount ${name}: HTTP ${res.status}`);
}

// --- 0. throttle overhead ----------------------------------------------------
async function jobsPerSecond(schedule: (fn: () => Promise<number>) => Promise<number>, jobs: number): Promise<number> {
  const t0 = performance.now();
  let next = 0;
  await Promise.all(Array.from({ length: 64 }, async () => {
    while (next < jobs) await schedule(async () => next++);
  }));
  return jobs / ((performance.now() - t0) / 1000);
}

async function throttleOverhead() {
  const bottleneck = new Bottleneck({});
  const ours = createThrottle({ ratePerSecond: 1e9, burst: 1e9 });
  const b: number[] = [];
  const o: number[] = [];
  for (let round = 0; round < 3; round++) {
    b.push(await jobsPerSecond((fn) => bottleneck.schedule(fn), 2000));
    o.push(await jobsPerSecond((fn) => ours.schedule('read', fn), 20000));
  }
  await bottleneck.stop();
  await ours.stop();
  const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[1]!;
  return { bottleneck: median(b), ours: median(o) };
}

// --- 1. throttle fidelity -------------------------------------------------
async function throttleFidelity() {
  const rate = 50;
  const burst = 20;
  await mount('fidelity');
  const starts: number[] = [];
  const e = engine(rate, burst, () => starts.push(performance.now() / 1000), 25);
  await e.ensureLogin();
  starts.length = 0;
  // 350 new secrets = 1,050 requests (metadata read, data write, metadata write).
  const ops = Array.from({ length: 350 }, (_, i) => upsert(`fidelity/data/s${i}`, { k: String(i) }));
  const results = await e.run(ops);
  await e.stop();
  const failed = results.filter((r) => r.outcome === 'failed').length;
  starts.sort((a, b) => a - b);
  const n = starts.length;
  // Steady state: requests after the initial burst over the time they took.
  const achieved = (n - burst) / (starts[n - 1]! - starts[0]!);
  let worstExcess = -Infinity;
  for (let i = 0; i < n; i++) {
    for (let j = i; j < n; j++) {
      worstExcess = Math.max(worstExcess, j - i + 1 - (rate * (starts[j]! - starts[i]!) + burst));
    }
  }
  return { requests: n, failed, rate, burst, achieved, ratio: achieved / rate, worstExcess };
}

// --- 2. distance to the server's limit -----------------------------------
async function rawLoop(prefix: string, count: number, concurrency: number): Promise<number> {
  let next = 0;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < count) {
      const i = next++;
      const res = await fetch(`${bao.addr}/v1/${prefix}/data/s${i}`, {
        method: 'POST', headers: { 'X-Vault-Token': bao.rootToken, 'Content-Type': 'application/json' },
        body: JSON.stringify({ data: { k: String(i) } }),
      });
      await res.arrayBuffer();
      if (res.status !== 200) throw new Error(`raw write HTTP ${res.status}`);
    }
  }));
  return count / ((performance.now() - t0) / 1000);
}

async function writerLoop(prefix: string, count: number, concurrency: number): Promise<{ docsPerSec: number; reqPerSec: number }> {
  let requests = 0;
  const e = engine(Infinity, 1, () => requests++, concurrency);
  await e.ensureLogin();
  requests = 0;
  const t0 = performance.now();
  const results = await e.run(Array.from({ length: count }, (_, i) => upsert(`${prefix}/data/s${i}`, { k: String(i) })));
  const seconds = (performance.now() - t0) / 1000;
  await e.stop();
  if (results.some((r) => r.outcome !== 'created')) throw new Error('writer loop: some writes failed');
  return { docsPerSec: count / seconds, reqPerSec: requests / seconds };
}

async function distanceToServer() {
  const concurrency = 16;
  const count = 1500;
  const raw: number[] = [];
  const writerDocs: number[] = [];
  const writerReqs: number[] = [];
  for (let round = 0; round < 3; round++) {
    await mount(`raw${round}`);
    await mount(`wr${round}`);
    raw.push(await rawLoop(`raw${round}`, count, concurrency));
    const w = await writerLoop(`wr${round}`, count, concurrency);
    writerDocs.push(w.docsPerSec);
    writerReqs.push(w.reqPerSec);
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  return { concurrency, count, raw: median(raw), writerReqs: median(writerReqs), writerDocs: median(writerDocs), requestRatio: median(writerReqs) / median(raw), documentRatio: median(writerDocs) / median(raw) };
}

// --- 3. memory ---------------------------------------------------------------
async function memory() {
  await mount('mem');
  const count = 50;
  const size = 1024 * 1024;
  // Secrets as the Kubernetes API delivers them: base64 strings; half text, half binary.
  const secrets = Array.from({ length: count }, (_, i) => ({
    name: `big-${i}`, resourceVersion: '1',
    data: { value: (i % 2 ? randomBytes(size) : Buffer.from(randomBytes(size / 2).toString('hex'))).toString('base64') },
  }));
  const e = engine(Infinity, 1);
  await e.ensureLogin();
  const toOp = (s: (typeof secrets)[number]): UpsertOp => {
    const parsed = parseSyncAnnotations(`Secret bench/${s.name}`, { 'vault-sync.io/path': `mem/data/${s.name}` });
    if (!parsed.managed || !parsed.spec) throw new Error('bad spec');
    const p = plan({ resource: `Secret bench/${s.name}`, kind: 'Secret', name: s.name, spec: parsed.spec, cluster: '', secrets: new Map([[s.name, s]]) });
    return { kind: 'upsert', id: s.name, resource: `Secret bench/${s.name}`, path: p.documents[0]!.path, ctx, owner, payload: p.documents[0]!.payload };
  };
  const usage = () => { const m = process.memoryUsage(); return m.heapUsed + m.arrayBuffers; };
  // As the controller runs: each resource is planned and written in turn,
  // 5 at a time (the default batch size and reconcile concurrency).
  gc!();
  const baseline = usage();
  let peak = baseline;
  const sampler = setInterval(() => { peak = Math.max(peak, usage()); }, 2);
  let next = 0;
  let retained = 0;
  const results: Awaited<ReturnType<typeof e.run>> = [];
  await Promise.all(Array.from({ length: 5 }, async () => {
    while (next < secrets.length) {
      const s = secrets[next++]!;
      const op = toOp(s);
      peak = Math.max(peak, usage());
      results.push(...(await e.run([op])));
      // Live memory between operations, garbage collected first.
      if (next % 5 === 0) {
        gc!();
        retained = Math.max(retained, usage());
      }
    }
  }));
  clearInterval(sampler);
  peak = Math.max(peak, usage());
  const large = results.filter((r) => r.large).length;
  if (results.some((r) => r.outcome !== 'created')) throw new Error('memory run: some writes failed');
  const payload = count * size;
  return { count, payloadMiB: payload / 2 ** 20, peakGrowthMiB: (peak - baseline) / 2 ** 20, ratio: (peak - baseline) / payload, retainedRatio: (retained - baseline) / payload, large };
}

try {
  const t = await throttleOverhead();
  console.log(`throttle overhead (no-op jobs, 64 callers, median of 3 alternated rounds): Bottleneck ${t.bottleneck.toFixed(0)} jobs/s; shared/throttle.ts ${t.ours.toFixed(0)} jobs/s (${(t.ours / t.bottleneck).toFixed(0)}x)`);
  const f = await throttleFidelity();
  console.log(`throttle fidelity: ${f.requests} requests at rate ${f.rate}/s burst ${f.burst}: achieved ${f.achieved.toFixed(2)}/s = ${f.ratio.toFixed(3)} of configured; worst window excess over rate*t+burst: ${f.worstExcess.toFixed(3)} requests (<= 0 means never exceeded); failed ops ${f.failed}`);
  const d = await distanceToServer();
  console.log(`distance to server limit (concurrency ${d.concurrency}, ${d.count} secrets, median of 3 alternated rounds): raw KV writes ${d.raw.toFixed(0)}/s; writer ${d.writerReqs.toFixed(0)} requests/s = ${d.requestRatio.toFixed(2)} of raw; writer ${d.writerDocs.toFixed(0)} new secrets/s = ${d.documentRatio.toFixed(2)} of raw (3 requests per new secret: metadata read, CAS write, ownership metadata)`);
  const m = await memory();
  console.log(`memory: ${m.count} secrets of 1 MiB (${m.payloadMiB.toFixed(0)} MiB payload, half text, half binary; ${m.large} flagged large), planned and written 5 at a time: peak heap+buffers growth ${m.peakGrowthMiB.toFixed(1)} MiB = ${m.ratio.toFixed(2)} x payload (garbage not yet collected included); live after GC between operations: ${m.retainedRatio.toFixed(2)} x payload`);
  console.log(`SUMMARY core: throttle ${t.ours.toFixed(0)} vs Bottleneck ${t.bottleneck.toFixed(0)} jobs/s; throttle fidelity ${f.ratio.toFixed(3)} (target >= 0.97), worst window excess ${f.worstExcess.toFixed(3)} (target <= 0); writer/raw ${d.requestRatio.toFixed(2)} requests/s (target >= 0.8), ${d.documentRatio.toFixed(2)} secrets/s; memory peak growth ${m.ratio.toFixed(2)} x payload`);
} finally {
  await bao.stop();
  rmSync(dir, { recursive: true, force: true });
}
