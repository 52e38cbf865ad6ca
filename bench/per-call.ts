// What one apiserver call costs the controller's process in CPU, against a
// real kube-apiserver: the floor under "CPU per synced resource" (issue 9).
// Each synced resource costs four apiserver calls (intent record patch,
// Secret read, status patch, Event) and two Vault requests (the write and,
// in spare budget, the ownership marker), besides the watch events they
// cause; this bench prices the calls, side by side in one run:
//
//   KubeHttp      our client (shared/kube/http.ts over shared/http-pool.ts,
//                 whose exchanges go through shared/http1-client.ts): GET a
//                 Secret, PATCH a Deployment's annotation, POST an Event
//   raw https     node:https with a keep-alive agent, nothing else: the same
//                 GET, and GET /version (the smallest answer the apiserver has)
//   undici Pool   the same GET through undici's request API (the library
//                 Node's fetch is built on), body read as text
//
// Four calls in flight at a time; CPU is process.cpuUsage() (user + system)
// of this process over the calls, divided by their number. The npm script
// runs it with the V8 flags the controller sets itself (controller/v8-flags.ts:
// no optimizing compilers), so the figures are what the controller pays.
// Usage: node [--no-opt --no-maglev] bench/per-call.ts [--calls=1000]   (npm run bench:per-call)
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';
import { KubeConfig } from '@kubernetes/client-node';
import { KubeHttp, MERGE_PATCH } from '../shared/kube/http.ts';
import { startEnvironment } from '../tools/testenv/environment.ts';
import { populate, rawKubeGetter } from './support.ts';

const CALLS = Number(process.argv.find((a) => a.startsWith('--calls='))?.split('=')[1] ?? 1000);
const NS = 'per-call';

const env = await startEnvironment();
const kc = new KubeConfig();
kc.loadFromFile(env.kubeconfig);
const http = new KubeHttp(kc);

const rawKube = rawKubeGetter(kc);
const rawGet = rawKube.get;
const cluster = kc.getCurrentCluster()!;
const user = kc.getCurrentUser()!;
const material = (data?: string, file?: string) => (data ? Buffer.from(data, 'base64') : file ? readFileSync(file) : undefined);
const undiciPool = new Pool(cluster.server, { connections: 4, connect: { ca: material(cluster.caData, cluster.caFile), cert: material(user.certData, user.certFile), key: material(user.keyData, user.keyFile) } });
const undiciGet = async (path: string) => {
  const res = await undiciPool.request({ method: 'GET', path, headers: { accept: 'application/json', ...(user.token ? { authorization: `Bearer ${user.token}` } : {}) } });
  return JSON.parse(await res.body.text());
};

/** CPU ms per call (this process), after 50 warm-up calls; four in flight. */
async function cpuPerCall(call: (i: number) => Promise<unknown>): Promise<number> {
  for (let i = 0; i < 50; i++) await call(i);
  const before = process.cpuUsage();
  await Promise.all([0, 1, 2, 3].map(async (lane) => {
    for (let i = lane; i < CALLS; i += 4) await call(i);
  }));
  const used = process.cpuUsage(before);
  return (used.user + used.system) / 1000 / CALLS;
}

try {
  await populate(http, NS, 20);
  const event = (i: number) => ({
    apiVersion: 'events.k8s.io/v1', kind: 'Event', metadata: { generateName: 'per-call-' }, eventTime: new Date(Date.UTC(2026, 0, 1)).toISOString().replace('Z', '000Z'),
    reportingController: 'vault-sync.io/bench', reportingInstance: 'bench', action: 'Sync', reason: 'Synced', type: 'Normal', note: 'bench',
    regarding: { kind: 'Deployment', namespace: NS, name: `d${i % 20}`, apiVersion: 'apps/v1' },
  });
  const t0 = performance.now();
  const rows: [string, number][] = [
    ['KubeHttp GET Secret', await cpuPerCall((i) => http.request('GET', `/api/v1/namespaces/${NS}/secrets/s${i % 20}`))],
    ['raw https GET Secret', await cpuPerCall((i) => rawGet(`/api/v1/namespaces/${NS}/secrets/s${i % 20}`))],
    ['raw https GET /version', await cpuPerCall(() => rawGet('/version'))],
    ['undici Pool GET Secret', await cpuPerCall((i) => undiciGet(`/api/v1/namespaces/${NS}/secrets/s${i % 20}`))],
    ['KubeHttp PATCH Deployment annotation', await cpuPerCall((i) => http.request('PATCH', `/apis/apps/v1/namespaces/${NS}/deployments/d${i % 20}`, { body: { metadata: { annotations: { 'bench.vault-sync.io/n': String(i) } } }, contentType: MERGE_PATCH }))],
    ['KubeHttp POST Event', await cpuPerCall((i) => http.request('POST', `/apis/events.k8s.io/v1/namespaces/${NS}/events`, { body: event(i) }))],
  ];
  for (const [name, ms] of rows) console.log(`${name.padEnd(38)} ${ms.toFixed(3)} ms CPU per call`);
  const [ours, raw, version, undici, patch, post] = rows.map(([, ms]) => ms) as [number, number, number, number, number, number];
  const flags = process.execArgv.filter((a) => a.startsWith('--')).join(' ') || 'none';
  console.log(`(${CALLS} calls per row, ${((performance.now() - t0) / 1000).toFixed(0)} s, V8 flags: ${flags})`);
  console.log(`SUMMARY per-call: KubeHttp GET ${ours.toFixed(2)} ms = ${(ours / raw).toFixed(2)}x raw node:https (${raw.toFixed(2)} ms; GET /version ${version.toFixed(2)} ms), ${(ours / undici).toFixed(2)}x undici Pool (${undici.toFixed(2)} ms); PATCH ${patch.toFixed(2)} ms; Event ${post.toFixed(2)} ms; the 3 apiserver calls of a synced resource ~ ${(ours + patch + post).toFixed(1)} ms`);
} finally {
  await undiciPool.close();
  rawKube.close();
  await env.stop();
}
