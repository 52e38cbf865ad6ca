// The fault table: one row per fault kind, each against the real controller
// bundle (two replicas with leader election, like the chart), a raft OpenBao
// with an audit device, and the real apiserver. Every row:
//   1. starts from synced resources (Secret mode and auto-discovery);
//   2. injects the fault while Secrets change;
//   3. recovers;
//   4. asserts 0 desired secrets missing or stale, 0 foreign secrets touched
//      (their data, version and metadata, and no controller request on their
//      paths in the audit log), and a healthy controller (the leader ready,
//      every live replica alive, no process ended that the row did not end).
// The table it prints (and writes to test/out/fault-table.md) is what the
// README's Reliability section quotes.
//
// Rows 9a and 9b are the partition tests: a deposed leader must send
// nothing to Vault, counted in OpenBao's audit log.
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { repoRoot } from '../../../tools/testenv/binaries.ts';
import type { AuditEntry, AuditMark } from '../../../tools/testenv/audit.ts';
import { metricValue, waitFor } from '../support/controller.ts';
import { ownedEnv } from '../support/env.ts';
import { FaultLab, LEASE, Row, type Instance, type RowOptions } from './lab.ts';

interface TableRow {
  n: string;
  fault: string;
  changes: number;
  behindAtRecovery: number;
  missingAfter: number;
  convergeMs: number;
  note: string;
}

/** The outcome an injection reports: changes made while it lasted, and anything worth printing. */
interface Injected {
  changes: number;
  note?: string;
}

const table: TableRow[] = [];
// Rows that wait for a lease use short timings, and a slow throttle so that a
// burst of rotations leaves seconds of queued Vault work when the fault hits.
const FAST: RowOptions = { lease: LEASE.fast, secrets: 8, extraArgs: ['--rate-limit=2', '--rate-limit-burst=1', '--graceful-shutdown-timeout=3s'] };
/** Vault requests waiting in a process's throttle right now. */
const queuedVaultWork = (i: Instance) => metricValue(i.proc, /^vault_rate_limit_queued_requests /);
/** Vault requests a process's fence refused, from its shutdown log line. */
const refusedByFence = (i: Instance) => Number(/"msg":"shutdown: the fence refused Vault requests".*?"refused":(\d+)/.exec(i.proc.logs())?.[1] ?? 0);
const isWrite = (e: AuditEntry) => ['create', 'update', 'patch', 'delete'].includes(e.operation) && /^secret\/(data|metadata)\//.test(e.path);
/** Audit times carry nanoseconds; Date.parse wants at most milliseconds. */
const auditTime = (e: AuditEntry) => Date.parse(e.time.replace(/(\.\d{3})\d+/, '$1'));

describe('fault table', function () {
  this.timeout(600_000);
  let lab: FaultLab;

  before(async () => {
    lab = await FaultLab.start();
  });
  after(async () => {
    await lab?.stop();
    if (table.length === 0) return;
    const lines = [
      '| # | Fault | Changes during it | Behind at recovery | Missing or stale after | Time to converge | Notes |',
      '|---|---|---|---|---|---|---|',
      ...table.map((r) => `| ${r.n} | ${r.fault} | ${r.changes} | ${r.behindAtRecovery} | ${r.missingAfter} | ${(r.convergeMs / 1000).toFixed(1)} s | ${r.note} |`),
    ];
    const text = lines.join('\n');
    process.stdout.write(`\n${text}\n\n`);
    mkdirSync(join(repoRoot, 'test', 'out'), { recursive: true });
    writeFileSync(join(repoRoot, 'test', 'out', 'fault-table.md'), `${text}\n`);
  });

  /** Runs one row end to end and records it in the table. */
  async function row(n: string, fault: string, label: string, opts: RowOptions, inject: (r: Row) => Promise<Injected>): Promise<void> {
    const r = await Row.create(lab, label, opts);
    const start = lab.audit.mark();
    try {
      await lab.startInstance(r);
      await lab.startInstance(r);
      await r.converge(60_000);
      await r.healthy();

      const injected = await inject(r);
      const recoveredAt = Date.now();
      let behindAtRecovery: number;
      try {
        const b = await r.behind();
        behindAtRecovery = b.missing.length + b.stale.length;
      } catch {
        behindAtRecovery = r.desired.size; // Vault not answering reads yet
      }
      await r.converge(180_000);
      const convergeMs = Date.now() - recoveredAt;
      await r.healthy();
      const after = await r.behind();
      const touched = await r.foreignTouched(start);
      assert.deepEqual(after, { missing: [], stale: [] });
      assert.deepEqual(touched, [], 'foreign secrets touched');
      assert.deepEqual(r.unexpectedExits(), [], 'controller processes that ended on their own');
      table.push({ n, fault, changes: injected.changes, behindAtRecovery, missingAfter: after.missing.length + after.stale.length, convergeMs, note: injected.note ?? '' });
    } finally {
      await r.stop();
    }
  }

  /** Waits until `instance` has sent at least `count` Vault writes since `mark` (it is mid-batch). */
  async function writing(instance: Instance, mark: AuditMark, count = 3): Promise<void> {
    await waitFor(() => lab.requestsBy(instance, mark).filter(isWrite).length >= count, { what: `${instance.name} writing`, timeoutMs: 30_000, proc: instance.proc });
  }

  /**
   * Rotates every Secret at once and waits until the leader is mid-batch with
   * Vault work queued in its throttle: the moment rows 7-9 strike.
   */
  async function busyLeader(r: Row): Promise<{ leader: Instance; follower: Instance; changes: number; queued: number }> {
    const leader = await r.leader();
    const follower = r.live().find((i) => i !== leader)!;
    const mark = lab.audit.mark();
    const changes = await r.rotateAll();
    await writing(leader, mark);
    const queued = await queuedVaultWork(leader);
    assert.ok(queued > 0, 'the fault strikes with Vault work queued (else the row proves nothing)');
    leader.endedOnPurpose = true;
    return { leader, follower, changes, queued };
  }

  /** Replaces an instance that ended, as the Deployment's ReplicaSet would. */
  const replace = (r: Row) => lab.startInstance(r);

  it('1: OpenBao sealed mid-run, then unsealed', () => row('1', 'OpenBao sealed mid-run (8 s), then unsealed', 'seal', { lease: LEASE.default }, async (r) => {
    const changes = r.changesEvery(400);
    await sleep(1000);
    await lab.bao.seal();
    await sleep(8000);
    await lab.bao.unseal();
    return { changes: await changes.stop() };
  }));

  it('2: OpenBao restarted (raft storage)', () => row('2', 'OpenBao restarted (raft storage)', 'restart', { lease: LEASE.default }, async (r) => {
    const changes = r.changesEvery(400);
    await sleep(1000);
    const t0 = Date.now();
    await lab.bao.restart();
    return { changes: await changes.stop(), note: `down and back unsealed in ${((Date.now() - t0) / 1000).toFixed(1)} s` };
  }));

  it('3: OpenBao unreachable for 60 s', () => row('3', 'OpenBao unreachable for 60 s (process frozen: connections hang)', 'unreachable', { lease: LEASE.default }, async (r) => {
    const changes = r.changesEvery(1000);
    await sleep(1000);
    const pid = lab.bao.process.child.pid;
    FaultLab.signalGroup(pid, 'SIGSTOP');
    try {
      await sleep(60_000);
    } finally {
      FaultLab.signalGroup(pid, 'SIGCONT');
    }
    return { changes: await changes.stop(), note: 'requests time out (--vault-timeout=2s) and retry' };
  }));

  it('4: Vault token revoked', () => row('4', 'Vault token revoked', 'revoked', { lease: LEASE.default }, async (r) => {
    const leader = await r.leader();
    const mark = lab.audit.mark();
    const denied403 = /^vault_sync_operator_vault_requests_total\{.*status="403"/;
    const before = await metricValue(leader.proc, denied403);
    await lab.root('PUT', 'sys/leases/revoke-prefix/auth/kubernetes/login', undefined, [200, 204]);
    const changes = r.changesEvery(400);
    await waitFor(() => lab.requestsBy(leader, mark).some((e) => e.path === 'auth/kubernetes/login' && !e.error), { what: 'the leader logs in again', timeoutMs: 30_000, proc: leader.proc });
    await sleep(2000);
    const denied = (await metricValue(leader.proc, denied403)) - before;
    assert.ok(denied > 0, 'the revoked token was refused');
    return { changes: await changes.stop(), note: `${denied} request(s) refused (403) with the revoked token, then a new login` };
  }));

  it('5: a 429 storm from a real rate-limit quota', () => row('5', '429 storm: rate-limit quota of 1 request/s on secret/ for 10 s', 'quota', { lease: LEASE.default }, async (r) => {
    const leader = await r.leader();
    const before = await metricValue(leader.proc, /^vault_sync_operator_vault_requests_total\{.*status="429"/);
    const quota = `storm-${r.ns}`;
    await lab.root('POST', `sys/quotas/rate-limit/${quota}`, { path: 'secret/', rate: 1, interval: '1s' });
    const changes = r.changesEvery(300);
    try {
      await sleep(10_000);
    } finally {
      await lab.root('DELETE', `sys/quotas/rate-limit/${quota}`);
    }
    const made = await changes.stop();
    const answered429 = (await metricValue(leader.proc, /^vault_sync_operator_vault_requests_total\{.*status="429"/)) - before;
    assert.ok(answered429 > 0, 'the quota answered 429');
    return { changes: made, note: `${answered429} answers were 429` };
  }));

  it('6: apiserver restarted', () => row('6', 'kube-apiserver restarted', 'apiserver', { lease: LEASE.default }, async (r) => {
    const env = ownedEnv(); // restarts a server: needs the environment in-process (unset VSO_TESTENV)
    const leader = await r.leader();
    const changes = r.changesEvery(300);
    await sleep(1000);
    const t0 = Date.now();
    await env.kube.restartApiserver();
    const downMs = Date.now() - t0;
    await sleep(2000);
    let note = `down ${(downMs / 1000).toFixed(1)} s (changes made while it was down failed and are not counted)`;
    // A leader that cannot renew for the renew deadline (10 s) must step down, as client-go's do;
    // that is only allowed when the apiserver really was away that long.
    if (leader.proc.child.exitCode !== null) {
      assert.equal(leader.proc.child.exitCode, 1);
      assert.match(leader.proc.logs(), /lease lost/);
      assert.ok(downMs >= LEASE.default.renewMs - LEASE.default.retryMs, `the leader gave up after an outage of only ${downMs} ms`);
      leader.endedOnPurpose = true;
      await replace(r);
      note += '; longer than the renew deadline, so the leader stepped down (exit 1) and the follower took over';
    }
    return { changes: await changes.stop(), note };
  }));

  it('7: the controller SIGKILLed mid-batch', () => row('7', 'leader SIGKILLed mid-batch', 'sigkill', FAST, async (r) => {
    const busy = await busyLeader(r);
    let changes = busy.changes;
    busy.leader.proc.child.kill('SIGKILL');
    const more = r.changesEvery(300);
    await sleep(2000);
    await replace(r);
    changes += await more.stop();
    const successor = await r.leader();
    return { changes, note: `${successor.name} took over after the lease ran out (4 s)` };
  }));

  it('8: leader failover (SIGTERM during a backlog)', () => row('8', 'leader failover: SIGTERM behind a throttle backlog', 'failover', FAST, async (r) => {
    const { leader, follower, queued, ...busy } = await busyLeader(r);
    let changes = busy.changes;
    const t0 = Date.now();
    const more = r.changesEvery(300);
    const code = await leader.proc.stop('SIGTERM');
    const stoppedMs = Date.now() - t0;
    assert.equal(code, 0, leader.proc.logs().split('\n').slice(-10).join('\n'));
    const hitBound = /did not finish within the drain bound/.test(leader.proc.logs());
    // --graceful-shutdown-timeout=3s: queued Vault work is aborted there, then the lease is released.
    assert.ok(stoppedMs < 3000 + 5000, `SIGTERM took ${stoppedMs} ms`);
    await waitFor(async () => (await r.leader(1000)) === follower, { what: 'the follower takes over', timeoutMs: 10_000 });
    const takeoverMs = Date.now() - t0;
    assert.ok(takeoverMs < stoppedMs + LEASE.fast.durationMs, 'the lease was released, not left to expire');
    await replace(r);
    changes += await more.stop();
    return { changes, note: `old leader exited 0 in ${(stoppedMs / 1000).toFixed(1)} s with ${queued} Vault request(s) queued at SIGTERM${hitBound ? ', the rest aborted at the 3 s drain bound' : ''}; follower leading ${(takeoverMs / 1000).toFixed(1)} s after SIGTERM` };
  }));

  it('9a: leader partitioned (frozen past its lease): 0 Vault requests after it resumes', () => row('9a', 'leader partitioned: SIGSTOP past the lease, follower takes over, SIGCONT', 'sigstop', FAST, async (r) => {
    const { leader, follower, changes, queued } = await busyLeader(r);
    FaultLab.signalGroup(leader.proc.child.pid, 'SIGSTOP');
    const stoppedAt = lab.audit.mark();
    let resumed: AuditMark;
    try {
      await waitFor(async () => (await r.leader(1000)) === follower, { what: 'the follower takes over', timeoutMs: 30_000 });
      await writing(follower, stoppedAt, 1);
    } finally {
      resumed = lab.audit.mark();
      FaultLab.signalGroup(leader.proc.child.pid, 'SIGCONT');
    }
    const code = await Promise.race([leader.proc.exited, sleep(20_000).then(() => 'still running')]);
    const afterResume = lab.requestsBy(leader, resumed);
    assert.deepEqual(afterResume.map((e) => `${e.operation} ${e.path}`), [], 'Vault requests by the deposed leader after it resumed');
    assert.equal(code, 1, 'the deposed leader exits non-zero (a fresh process campaigns again)');
    const refused = refusedByFence(leader);
    await replace(r);
    return { changes, note: `deposed leader frozen with ${queued} Vault request(s) queued: **0 Vault requests after resuming** (audit log), ${refused} refused by its fence, the rest dropped; exited 1` };
  }));

  it('9b: leader cut off from the apiserver while Vault stays reachable: no Vault request after its lease ran out', () => row('9b', 'leader cut off from the apiserver (apiserver frozen), Vault reachable', 'cutoff', { ...FAST, secrets: 1, deployments: 1, perDeployment: 24 }, async (r) => {
    const env = ownedEnv();
    const { leader, changes, queued } = await busyLeader(r); // one Deployment, 24 Secrets: long Vault work at 2 requests/s
    const apiserver = env.kube.apiserver.child.pid;
    const cutAt = Date.now();
    const cut = lab.audit.mark();
    FaultLab.signalGroup(apiserver, 'SIGSTOP');
    let code: number | null | string;
    try {
      code = await Promise.race([leader.proc.exited, sleep(30_000).then(() => 'still running')]);
    } finally {
      FaultLab.signalGroup(apiserver, 'SIGCONT');
    }
    const sent = lab.requestsBy(leader, cut);
    const lateLimit = cutAt + LEASE.fast.durationMs;
    const late = sent.filter((e) => auditTime(e) >= lateLimit);
    assert.deepEqual(late.map((e) => `${e.time} ${e.operation} ${e.path}`), [], 'Vault requests after the lease could have expired');
    assert.equal(code, 1, 'the cut-off leader gives up its lease and exits');
    const lastMs = sent.length ? Math.max(...sent.map(auditTime)) - cutAt : 0;
    const refused = refusedByFence(leader);
    assert.ok(sent.length > 0, `Vault work was still running at the cut (sent ${sent.length})`);
    await replace(r);
    return { changes, note: `cut-off leader (${queued} queued at the cut): ${sent.length} Vault request(s) in the ${(lastMs / 1000).toFixed(1)} s after the cut, **0 after its lease could have expired** (4 s), ${refused} refused by its fence; exited 1` };
  }));
});
