// Does one noisy namespace starve the others? Against real servers, at the
// default throttle (10 req/s, burst 20) and concurrency (16 reconciles), the
// controller bundle run with the image's Node flags (a 128 MiB heap, so the
// Secret read budget is the one the chart deploys: a third of the heap):
//
//   unloaded  nine quiet namespaces, one Deployment + one Secret each; each
//             Secret rotated in turn, latency from the patch to the new KV
//             version in Vault (polled as admin, outside the throttle);
//   loaded    the same rotations while a tenth namespace floods: five
//             Deployments referencing 200 Secrets each, rotation-check
//             disabled and reconcile every 30s (the security review's case;
//             --max-secrets-per-resource=200 lets it through). The phase
//             starts as the five Deployments are created, so the flood's
//             first seconds are measured too.
//
// The noisy namespace's 1,000 Secrets are created before the controller
// starts: creating them (32 at a time) keeps the apiserver busy for seconds
// with no controller involved, and traces showed that burst slowing the
// first loaded rotations when it ran right before the loaded phase.
//
// Target: the quiet namespaces' p99 latency loaded <= 2x unloaded.
// Usage: node bench/fairness.ts [--rotations=45]   (npm run bench:fairness)
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { KubeConfig } from '@kubernetes/client-node';
import { KubeHttp, MERGE_PATCH } from '../shared/kube/http.ts';
import { buildAll } from '../tools/build.ts';
import { startEnvironment } from '../tools/testenv/environment.ts';
import { baoApi } from '../tools/testenv/openbao.ts';
import { IMAGE_NODE_FLAGS, inParallel, populate, startBenchController, value4k } from './support.ts';

const ROTATIONS = Number(process.argv.find((a) => a.startsWith('--rotations='))?.split('=')[1] ?? 45);
const QUIET = Array.from({ length: 9 }, (_, i) => `fair-quiet-${i}`);
const NOISY = 'fair-noisy';

await buildAll();
const env = await startEnvironment();
const kc = new KubeConfig();
kc.loadFromFile(env.kubeconfig);
const http = new KubeHttp(kc);

const version = async (ns: string) =>
  Number((await baoApi(env.vaultAddr, env.vaultToken, 'GET', `secret/metadata/${ns}/d0/s0`)).json?.data?.current_version ?? 0);

async function rotations(): Promise<{ p50: number; p99: number; max: number; slowest: string }> {
  const samples: number[] = [];
  for (let r = 0; r < ROTATIONS; r++) {
    const ns = QUIET[r % QUIET.length]!;
    const before = await version(ns);
    const t0 = performance.now();
    await http.request('PATCH', `/api/v1/namespaces/${ns}/secrets/s0`, { body: { stringData: { value: value4k() } }, contentType: MERGE_PATCH });
    while ((await version(ns)) === before) {
      if (performance.now() - t0 > 120_000) throw new Error(`rotation in ${ns} not synced within 120 s`);
      await sleep(10);
    }
    samples.push(performance.now() - t0);
    await sleep(300);
  }
  // The five slowest, with their place in the phase (#1 = the first rotation).
  const slowest = samples.map((ms, i) => ({ ms, i })).sort((a, b) => b.ms - a.ms).slice(0, 5).map((s) => `${s.ms.toFixed(0)} (#${s.i + 1})`).join(', ');
  samples.sort((a, b) => a - b);
  const pct = (p: number) => samples[Math.min(samples.length - 1, Math.floor((p / 100) * samples.length))]!;
  return { p50: pct(50), p99: pct(99), max: samples.at(-1)!, slowest };
}

async function noisySecrets(): Promise<void> {
  await http.request('POST', '/api/v1/namespaces', { body: { metadata: { name: NOISY } } });
  await inParallel([...Array(1000).keys()], 32, async (i) => {
    await http.request('POST', `/api/v1/namespaces/${NOISY}/secrets`, { body: { metadata: { name: `n${i}` }, stringData: { value: value4k() } } });
  });
}

async function flood(): Promise<void> {
  for (let d = 0; d < 5; d++) {
    const volumes = Array.from({ length: 200 }, (_, j) => ({ name: `v${j}`, secret: { secretName: `n${d * 200 + j}` } }));
    await http.request('POST', `/apis/apps/v1/namespaces/${NOISY}/deployments`, {
      body: {
        metadata: { name: `flood${d}`, annotations: { 'vault-sync.io/path': `secret/data/${NOISY}/flood${d}`, 'vault-sync.io/rotation-check': 'disabled', 'vault-sync.io/reconcile': '30s' } },
        spec: { selector: { matchLabels: { app: `f${d}` } }, template: { metadata: { labels: { app: `f${d}` } }, spec: { containers: [{ name: 'c', image: 'x' }], volumes } } },
      },
    });
  }
}

try {
  await noisySecrets();
  for (const ns of QUIET) await populate(http, ns, 1);
  const c = await startBenchController(env, { namespaces: [...QUIET, NOISY], nodeFlags: IMAGE_NODE_FLAGS, args: ['--max-secrets-per-resource=200'] });
  for (const ns of QUIET) while ((await version(ns)) === 0) await sleep(50);
  const unloaded = await rotations();
  console.log(`unloaded: quiet rotation latency p50 ${unloaded.p50.toFixed(0)} ms, p99 ${unloaded.p99.toFixed(0)} ms, max ${unloaded.max.toFixed(0)} ms (${ROTATIONS} rotations over 9 namespaces); slowest ${unloaded.slowest} ms`);
  await flood();
  // Let the flood bind the throttle before measuring.
  for (let i = 0; i < 600; i++) {
    const text = await c.metrics();
    const queued = Number(text.split('\n').find((l) => l.startsWith('vault_rate_limit_queued_requests '))?.split(' ')[1] ?? 0);
    if (queued > 0) break;
    await sleep(100);
  }
  const loaded = await rotations();
  console.log(`loaded:   quiet rotation latency p50 ${loaded.p50.toFixed(0)} ms, p99 ${loaded.p99.toFixed(0)} ms, max ${loaded.max.toFixed(0)} ms, while ${NOISY} floods (5 x 200 Secrets, rotation-check disabled, reconcile 30s); slowest ${loaded.slowest} ms`);
  await c.stop();
  console.log(`SUMMARY fairness: quiet p99 loaded / unloaded = ${(loaded.p99 / unloaded.p99).toFixed(2)} (target <= 2); p99 ${loaded.p99.toFixed(0)} ms vs ${unloaded.p99.toFixed(0)} ms`);
} finally {
  await env.stop();
}
