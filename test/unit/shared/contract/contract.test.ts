// The contract between the hosts (shared/contract/): the metric names the
// controller registers and the extension reads, and the /state body the
// controller builds and the extension summarises. These fail when the two
// sides disagree.
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { createControllerMetrics } from '../../../../controller/metrics.ts';
import { stateResponse, throttleWire } from '../../../../controller/state-response.ts';
import { scrape, summarise, type ControllerState } from '../../../../extension/model/controller.ts';
import { CHARTS, MetricsHistory } from '../../../../extension/model/series.ts';
import { METRIC } from '../../../../shared/contract/metrics.ts';
import { createMetrics } from '../../../../shared/metrics.ts';

describe('contract: metric names', () => {
  const registry = new Registry();
  createMetrics(registry);
  createControllerMetrics(registry);
  const registered = registry.getMetricsAsArray().map((m) => m.name).sort();

  it('every name in METRIC is registered by the controller, and every registered metric is in METRIC', () => {
    assert.deepEqual(registered, Object.values(METRIC).sort());
  });

  it('the names the extension reads appear in what the controller exports', async () => {
    const reg = new Registry();
    const m = createMetrics(reg);
    const c = createControllerMetrics(reg);
    m.vaultRequests.inc({ operation: 'write', status: '2xx' }, 3);
    m.rateLimitWait.observe({ operation: 'write' }, 0.02);
    m.largeSecrets.set(2);
    m.vaultWriteErrors.inc({ error_type: 'PermissionDenied' });
    m.rateLimitConfigured.set(10);
    m.rateLimitBurst.set(20);
    c.queueDepth.set(4);
    c.inFlight.set(1);
    c.reconcileResults.inc({ kind: 'Deployment', outcome: 'failed' });
    const before = scrape(await reg.metrics(), 1000);
    m.vaultRequests.inc({ operation: 'write', status: '2xx' }, 2);
    const now = scrape(await reg.metrics(), 3000);
    const s = summarise(undefined, now, before);
    assert.equal(s.vaultWriteRate, 1);
    assert.equal(s.largeSecrets, 2);
    assert.equal(s.queueDepth, 4);
    assert.equal(s.failedReconciles, 1);
    assert.deepEqual(s.errorsByType, { PermissionDenied: 1 });
    // Every chart of the metrics panel finds data in a real registry's output.
    const history = new MetricsHistory();
    history.add(before);
    history.add(now);
    for (const chart of history.window(3_600_000, 3000)) {
      assert.ok(chart.series.length > 0 && chart.ys.some((col) => col.some((v) => v !== null)), `chart ${chart.id} has data`);
    }
    assert.equal(history.window(3_600_000, 3000).length, CHARTS.length);
  });
});

describe('contract: /state', () => {
  it('what the controller builds is what the extension summarises, through JSON', () => {
    const body = stateResponse({
      version: '9.9.9', identity: 'pod-a', leader: true, leaderIdentity: 'pod-a',
      ready: { ready: true, checks: { cachesSynced: true } }, clusterName: 'prod',
      queue: { depth: 3, inFlight: 1 }, watches: { synced: true, healthy: true, watches: [] },
      vault: { addr: 'https://vault:8200', authenticated: true, method: 'kubernetes' }, counts: { deployments: 1, secrets: 2 },
      // The governor's status: lowered to 4.217/s by a 429 two seconds ago (monotonic 8000 of 10000).
      throttle: throttleWire({
        configuredRate: 10, configuredBurst: 20, rate: 4.217, burst: 8, ceiling: 4.4, lastSignal: { kind: 'throttled', at: 8000 }, adaptive: true, tokens: 0.6, queued: 12,
      }, 10_000, Date.UTC(2026, 0, 1, 12, 0, 2)),
      tracked: [{ kind: 'Deployment', namespace: 'ns', name: 'web', annotations: { 'vault-sync.io/path': 'secret/web', 'vault-sync.io/status': 'Failed', 'vault-sync.io/message': 'boom' } }],
      extras: () => ({ lastError: 'boom', reason: 'SyncFailed' }),
    });
    const read = JSON.parse(JSON.stringify(body)) as ControllerState;
    const s = summarise(read, undefined);
    assert.equal(s.version, '9.9.9');
    assert.equal(s.leader, 'pod-a');
    assert.equal(s.health, 'ready');
    assert.equal(s.watchHealth, 'healthy');
    assert.equal(s.queueDepth, 3);
    assert.deepEqual([s.configuredRate, s.effectiveRate, s.rateLoweredBy], [10, 4.22, 'throttled']);
    assert.deepEqual(read.throttle, { configuredRate: 10, effectiveRate: 4.22, configuredBurst: 20, burst: 8, adaptive: true, tokens: 0, queued: 12, lowered: { signal: 'throttled', at: '2026-01-01T12:00:00.000Z' } });
    assert.equal(read.clusterName, 'prod');
    assert.deepEqual(read.resources?.map((r) => [r.kind, r.namespace, r.name, r.status, r.lastError]), [['Deployment', 'ns', 'web', 'Failed', 'boom']]);
  });
});
