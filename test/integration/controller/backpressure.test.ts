// Listening to Vault, end to end: the controller bundle against the real
// apiserver and an OpenBao of its own (dev mode, file audit device) with a
// real rate-limit quota (sys/quotas/rate-limit). Convergence is measured in
// the audit log (first to last accepted data write); 429s, which OpenBao does
// not audit, are counted by the controllers' own metrics.
//   - a quota below the configured rate: at most 5 % of requests answered
//     429, convergence at most 1.1x a controller configured exactly at the quota;
//   - three controllers (different --cluster-name, as three clusters run
//     them) under one quota, coordinated by nothing but Vault's answers:
//     combined 429 share at most 5 %, 0 failed syncs;
//   - retuning from a ConfigMap while running: applied within 2 s, with an
//     Event, a log line and a metric; a bad value named with its fix while the
//     last good setting stays; no restart, no queued work lost.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { EventsV1Api } from '@kubernetes/client-node';
import { KubeHttp, MERGE_PATCH } from '../../../shared/kube/http.ts';
import { AuditLog } from '../../../tools/testenv/audit.ts';
import { requireBinaries } from '../../../tools/testenv/binaries.ts';
import { baoApi, startDevOpenBao, type OpenBaoServer } from '../../../tools/testenv/openbao.ts';
import { acceptedWrites, populate, writeSpan } from '../../../bench/support.ts';
import { kubeClients, uniqueName, type KubeClients } from '../support/kube.ts';
import { metricValue, startController, stopAllControllers, waitFor, type ControllerProcess } from '../support/controller.ts';

const SYNCED = /^vault_sync_operator_reconcile_total\{kind="Deployment",outcome="synced"\}/;
const FAILED = /^vault_sync_operator_reconcile_total\{kind="Deployment",outcome="(failed|terminal)"\}/;
const ALL_REQUESTS = /^vault_sync_operator_vault_requests_total\{/;
const REFUSED = /^vault_sync_operator_vault_requests_total\{.*status="429"\}/;

describe('controller: Vault backpressure and retuning (real quota, real apiserver)', function () {
  this.timeout(300_000);
  let kube: KubeClients;
  let http: KubeHttp;
  let bao: OpenBaoServer;
  let dir: string;
  let audit: AuditLog;

  const controller = (ns: string, args: string[]) => startController({
    args: [`--vault-addr=${bao.addr}`, '--vault-auth-method=token', `--namespaces=${ns}`, '--metrics-auth=false', '--log-level=info', ...args],
    env: { VAULT_TOKEN: bao.rootToken },
  });
  const quota = (rate: number) => baoApi(bao.addr, bao.rootToken, 'POST', 'sys/quotas/rate-limit/bp', { path: 'secret/', rate, interval: '1s' });

  /** One controller over `n` fresh Deployments; resolves with its convergence span, 429 share and failures. */
  async function converge(n: number, args: string[]) {
    const ns = uniqueName('bp');
    await populate(http, ns, n, { pathOf: (i) => `secret/data/${ns}/d${i}` });
    const mark = audit.mark();
    const ctrl = await controller(ns, args);
    await waitFor(async () => (await metricValue(ctrl, SYNCED)) >= n, { timeoutMs: 240_000, what: `${n} synced`, proc: ctrl, intervalMs: 200 });
    const refused = await metricValue(ctrl, REFUSED);
    const total = await metricValue(ctrl, ALL_REQUESTS);
    const failed = await metricValue(ctrl, FAILED);
    await ctrl.stop();
    const writes = acceptedWrites(audit.since(mark), ns);
    return { seconds: writeSpan(writes), writes: writes.length, share: refused / total, refused, total, failed };
  }

  before(async () => {
    kube = kubeClients();
    http = new KubeHttp(kube.kc);
    dir = mkdtempSync(join(tmpdir(), 'vso-bp-bao-'));
    bao = await startDevOpenBao({ dir, bin: requireBinaries().bao, audit: true });
    audit = new AuditLog(bao.auditLog!);
  });
  after(async () => {
    await stopAllControllers();
    await bao?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a quota at a third of the configured rate: ≤ 5 % answered 429, convergence ≤ 1.1x a controller configured at the quota', async () => {
    const Q = 20;
    const N = 200;
    assert.equal((await quota(Q)).status, 204);
    const atQuota = await converge(N, [`--rate-limit=${Q}`, '--rate-limit-burst=20']);
    await sleep(1500); // the quota's bucket refills
    const adaptive = await converge(N, [`--rate-limit=${3 * Q}`, '--rate-limit-burst=20']);
    const ratio = adaptive.seconds / atQuota.seconds;
    process.stderr.write(`      at the quota: ${atQuota.seconds.toFixed(1)} s, ${atQuota.refused}/${atQuota.total} answered 429; configured 3x: ${adaptive.seconds.toFixed(1)} s, ${adaptive.refused}/${adaptive.total} answered 429 (${(adaptive.share * 100).toFixed(1)} %); ratio ${ratio.toFixed(3)}\n`);
    assert.equal(atQuota.writes, N);
    assert.equal(adaptive.writes, N);
    assert.ok(adaptive.share <= 0.05, `429 share ${adaptive.share}`);
    assert.ok(ratio <= 1.1, `convergence ratio ${ratio}`);
    assert.equal(adaptive.failed, 0);
  });

  it('three controllers with different --cluster-name under one quota: combined 429 share ≤ 5 %, 0 failed syncs', async () => {
    const Q = 20;
    // 200 each, as the first report's 200 Deployments: the controllers' first
    // bursts meet in one window at start (a few refusals each, whatever the
    // run's length), so a short run measures mostly that transient (80 each:
    // 2.7-6.4 %; 200 each: 1.5-3.7 %, five runs).
    const N = 200;
    assert.equal((await quota(Q)).status, 204);
    await sleep(1500);
    const clusters = ['east', 'west', 'north'];
    const namespaces = clusters.map(() => uniqueName('bp3'));
    await Promise.all(namespaces.map((ns) => populate(http, ns, N, { pathOf: (i) => `secret/data/${ns}/d${i}` })));
    const mark = audit.mark();
    // Each at the default rate (10/s, burst 20): 30/s together against 20/s.
    const ctrls = await Promise.all(namespaces.map((ns, i) => controller(ns, [`--cluster-name=${clusters[i]}`])));
    await Promise.all(ctrls.map((c) => waitFor(async () => (await metricValue(c, SYNCED)) >= N, { timeoutMs: 240_000, what: `${N} synced`, proc: c, intervalMs: 200 })));
    const read = (re: RegExp) => Promise.all(ctrls.map((c) => metricValue(c, re))).then((v) => v.reduce((a, b) => a + b, 0));
    const [refused, total, failed] = [await read(REFUSED), await read(ALL_REQUESTS), await read(FAILED)];
    await Promise.all(ctrls.map((c) => c.stop()));
    const entries = audit.since(mark);
    const perCluster = clusters.map((c) => acceptedWrites(entries, `${c}/`).length);
    const all = acceptedWrites(entries, '');
    process.stderr.write(`      3 controllers: ${all.length} writes in ${writeSpan(all).toFixed(1)} s (${(all.length / writeSpan(all)).toFixed(1)}/s of a ${Q}/s quota), ${refused}/${total} answered 429 (${((refused / total) * 100).toFixed(1)} %), ${failed} failed; per cluster ${perCluster.join(' / ')}\n`);
    assert.deepEqual(perCluster, [N, N, N], 'each cluster\'s paths carry its name, all written');
    assert.equal(failed, 0);
    assert.ok(refused / total <= 0.05, `combined 429 share ${refused / total}`);
  });

  describe('retuning from a ConfigMap', () => {
    let ns: string;
    let ctrl: ControllerProcess;
    const cm = 'vso-tuning';
    const events = async () => ((await kube.kc.makeApiClient(EventsV1Api).listNamespacedEvent({ namespace: ns })).items ?? [])
      .filter((e) => e.regarding?.kind === 'ConfigMap' && e.regarding.name === cm)
      .map((e) => `${e.reason}: ${e.note}`);
    const gauge = (name: string) => metricValue(ctrl, new RegExp(`^${name} `));
    const setData = (data: Record<string, string | null>) => http.request('PATCH', `/api/v1/namespaces/${ns}/configmaps/${cm}`, { body: { data }, contentType: MERGE_PATCH });
    /** Resolves with how long it took for `check` to hold. */
    const within = async (ms: number, what: string, check: () => Promise<boolean>) => {
      const t0 = performance.now();
      await waitFor(check, { timeoutMs: ms, what, proc: ctrl, intervalMs: 50 });
      return performance.now() - t0;
    };

    before(async () => {
      await baoApi(bao.addr, bao.rootToken, 'DELETE', 'sys/quotas/rate-limit/bp');
      ns = uniqueName('tune');
      await populate(http, ns, 40, { pathOf: (i) => `secret/data/${ns}/d${i}` });
      ctrl = await controller(ns, [`--tuning-configmap=${ns}/${cm}`, '--rate-limit=10']);
    });

    it('applies a new rate within 2 s, reports it (Event, log, metric), keeps the last good value on a bad one, and loses no queued work', async () => {
      const pid = ctrl.child.pid;
      await http.request('POST', `/api/v1/namespaces/${ns}/configmaps`, { body: { metadata: { name: cm }, data: { 'rate-limit': '2' } } });
      const took = await within(2000, 'rate 2 in force', async () => (await gauge('vault_rate_limit_configured_rate')) === 2 && (await gauge('vault_rate_limit_effective_rate')) === 2);
      process.stderr.write(`      rate-limit 10 -> 2 in force ${took.toFixed(0)} ms after the ConfigMap was created\n`);
      await waitFor(async () => (await events()).some((e) => /^TuningApplied: rate-limit: 10\/s -> 2\/s, from ConfigMap /.test(e)), { what: 'TuningApplied Event', proc: ctrl });
      assert.match(ctrl.logs(), /"msg":"tuning applied".*"key":"rate-limit","from":10,"to":2/);
      assert.equal(await metricValue(ctrl, /^vault_sync_operator_tuning_changes_total\{field="rate_limit",result="applied"\}/), 1);

      // A bad value: an Event naming the key and the fix; the rate stays 2.
      await setData({ 'rate-limit': 'fast', 'batch-size': '2' });
      await waitFor(async () => (await events()).some((e) => e.startsWith('InvalidTuning: ConfigMap') && e.includes('rate-limit: "fast" is not valid; keeping 2/s; fix: set Vault requests per second')), { what: 'InvalidTuning Event', proc: ctrl });
      await waitFor(async () => (await metricValue(ctrl, /^vault_sync_operator_tuning_changes_total\{field="batch_size",result="applied"\}/)) === 1, { what: 'batch size applied beside the bad key', proc: ctrl });
      assert.equal(await gauge('vault_rate_limit_configured_rate'), 2, 'the last good setting stays');
      assert.equal(await metricValue(ctrl, /^vault_sync_operator_tuning_changes_total\{field="rate_limit",result="rejected"\}/), 1);

      // Work queued behind the slow rate finishes after a raise, without a restart.
      await setData({ 'rate-limit': '50', 'rate-limit-burst': '30', 'max-concurrent-reconciles': '4', 'batch-delay': '50ms' });
      await within(2000, 'rate 50 in force', async () => (await gauge('vault_rate_limit_configured_rate')) === 50 && (await gauge('vault_rate_limit_burst')) === 30);
      await waitFor(async () => (await metricValue(ctrl, SYNCED)) >= 40, { timeoutMs: 60_000, what: 'all 40 synced', proc: ctrl });
      assert.equal(await metricValue(ctrl, FAILED), 0);
      assert.equal(ctrl.child.pid, pid);
      assert.equal(ctrl.child.exitCode, null, 'never restarted');

      // Deleted: back to the flags.
      await http.request('DELETE', `/api/v1/namespaces/${ns}/configmaps/${cm}`);
      await within(2000, 'back to the flag', async () => (await gauge('vault_rate_limit_configured_rate')) === 10);
    });
  });
});
