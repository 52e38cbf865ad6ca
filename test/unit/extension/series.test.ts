import assert from 'node:assert/strict';
import { scrape } from '../../../extension/model/controller.ts';
import { MetricsHistory, pointAt } from '../../../extension/model/series.ts';

const text = (writes: number, reads: number, extra = '') => [
  `vault_sync_operator_vault_requests_total{operation="write",status="2xx"} ${writes}`,
  `vault_sync_operator_vault_requests_total{operation="read",status="2xx"} ${reads}`,
  'vault_rate_limit_configured_rate 10', 'vault_rate_limit_effective_rate 8', 'vault_rate_limit_bucket_tokens 5', 'vault_rate_limit_burst 20', 'vault_rate_limit_queued_requests 2',
  'vault_sync_operator_workqueue_depth 7', 'vault_sync_operator_workqueue_in_flight 3', 'vault_large_secret_count 1',
  extra,
].join('\n');

describe('extension model: metrics history for the panel', () => {
  it('counters become per-second rates by label (plus all); gauges are read as they are', () => {
    const a = scrape(text(10, 4), 0);
    const b = scrape(text(30, 4), 10_000);
    const p = pointAt(b, a);
    assert.deepEqual([...p.get('vault-requests')!], [['write', 2], ['read', 0], ['all', 2]]);
    assert.deepEqual([...p.get('throttle-rate')!], [['configured', 10], ['effective', 8]]);
    assert.deepEqual([...p.get('throttle-bucket')!], [['tokens', 5], ['burst', 20], ['queued', 2]]);
    assert.deepEqual([...p.get('queue')!], [['depth', 7], ['in flight', 3]]);
    assert.equal(pointAt(a, undefined).get('vault-requests')!.get('all'), null, 'no rate from a single scrape');
  });

  it('a counter that went down (controller restart) counts its new value as the increase', () => {
    const p = pointAt(scrape(text(5, 0), 10_000), scrape(text(100, 0), 0));
    assert.equal(p.get('vault-requests')!.get('write'), 0.5);
  });

  it('wait quantiles come from the observations between two scrapes', () => {
    const h = (n: number) => `vault_rate_limit_wait_duration_seconds_bucket{le="0.01",operation="write"} ${n}\nvault_rate_limit_wait_duration_seconds_bucket{le="1",operation="write"} ${n}\nvault_rate_limit_wait_duration_seconds_bucket{le="+Inf",operation="write"} ${n}`;
    const p = pointAt(scrape(text(0, 0, h(10)), 2000), scrape(text(0, 0, h(0)), 0));
    assert.equal(p.get('rate-limit-wait')!.get('p50'), 0.005);
  });

  it('keeps series aligned when labels appear later, cuts windows and forgets what is older than the retention', () => {
    const history = new MetricsHistory({ keepMs: 60_000 });
    history.add(scrape(text(0, 0), 0));
    history.add(scrape(text(1, 1), 5000));
    history.add(scrape(text(2, 2, 'vault_sync_operator_vault_write_errors_total{error_type="PermissionDenied"} 1'), 10_000));
    history.add(scrape(text(2, 2), 10_000)); // same time: ignored
    const errors = history.window(60_000, 10_000).find((c) => c.id === 'errors')!;
    assert.deepEqual(errors.series, ['all', 'PermissionDenied']);
    assert.deepEqual(errors.xs, [0, 5, 10]);
    assert.deepEqual(errors.ys[1], [null, null, 0.2]);
    assert.deepEqual(history.window(6000, 10_000)[0]!.xs, [5, 10], 'the window cuts the oldest points');
    for (let t = 15_000; t <= 120_000; t += 5000) history.add(scrape(text(t, t), t));
    assert.ok(history.size <= 13, `retention: ${history.size} points`);
    const all = history.window(3_600_000, 120_000);
    for (const c of all) for (const col of c.ys) assert.equal(col.length, c.xs.length, `${c.id} aligned`);
  });

  it('never carries a path, a name or a value: only metric labels', () => {
    const history = new MetricsHistory();
    history.add(scrape(text(1, 1, 'unrelated_metric{path="secret/data/x",name="web"} 1'), 0));
    const labels = history.window(60_000, 0).flatMap((c) => c.series);
    assert.ok(!labels.some((l) => /secret\/|web/.test(l)), labels.join());
  });
});
