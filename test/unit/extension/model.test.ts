import assert from 'node:assert/strict';
import { buckets, bucketDelta, parsePrometheus, quantile, sum } from '../../../extension/model/prometheus.ts';
import { controllerRows, scrape, summarise } from '../../../extension/model/controller.ts';
import { findManifestResources, problemsFor } from '../../../extension/model/manifests.ts';
import { ResourceIndex, timeAgo, totalsText } from '../../../extension/model/tree.ts';
import { warningsFor } from '../../../extension/model/warnings.ts';
import { resourceView } from '../../../extension/model/items/resource.ts';
import { pathView } from '../../../extension/model/items/path.ts';
import { contextView } from '../../../extension/model/items/context.ts';
import { controllerProblem } from '../../../extension/model/connection.ts';
import { resourceKey } from '../../../shared/resources.ts';

const tracked = (kind: 'Deployment' | 'Secret', ns: string, name: string, annotations: Record<string, string>) => {
  const index = new ResourceIndex(() => Date.parse('2026-11-27T10:05:00Z'));
  index.apply(kind, ns, name, annotations);
  return index.state(resourceKey({ kind: kind, namespace: ns, name: name }))!;
};

const synced = (extra: Record<string, string> = {}, record: object = {}) => ({
  'vault-sync.io/path': 'secret/data/web',
  'vault-sync.io/status': 'Synced',
  'vault-sync.io/last-sync': '2026-11-27T10:00:00Z',
  'vault-sync.io/message': '1 document(s) in sync',
  'vault-sync.io/sync-state': JSON.stringify({ v: 1, paths: [{ path: 'secret/data/web/db', keys: ['password', 'user'], bytes: 42 }], ...record }),
  ...extra,
});

describe('extension model: Prometheus text', () => {
  const text = [
    '# HELP x help', '# TYPE x counter',
    'vault_sync_operator_vault_requests_total{operation="write",status="2xx"} 10',
    'vault_sync_operator_vault_requests_total{operation="read",status="2xx"} 5',
    'vault_sync_operator_vault_requests_total{operation="write_metadata",status="2xx"} 7',
    'vault_rate_limit_wait_duration_seconds_bucket{le="0.01",operation="write"} 50',
    'vault_rate_limit_wait_duration_seconds_bucket{le="0.1",operation="write"} 90',
    'vault_rate_limit_wait_duration_seconds_bucket{le="1",operation="write"} 100',
    'vault_rate_limit_wait_duration_seconds_bucket{le="+Inf",operation="write"} 100',
    'label_escape{v="a\\"b"} 1',
  ].join('\n');
  const samples = parsePrometheus(text);

  it('parses samples and labels, escapes included', () => {
    assert.equal(samples.length, 8);
    assert.equal(samples.at(-1)!.labels.v, 'a"b');
    assert.equal(sum(samples, 'vault_sync_operator_vault_requests_total', { operation: /^write/ }), 17);
  });
  it('estimates quantiles like histogram_quantile', () => {
    const b = buckets(samples, 'vault_rate_limit_wait_duration_seconds');
    assert.equal(quantile(0.5, b), 0.01); // the 50th observation is the last of the first bucket
    assert.ok(Math.abs(quantile(0.95, b)! - 0.55) < 1e-9); // halfway through (0.1, 1]
    assert.equal(quantile(0.5, new Map()), undefined);
    assert.deepEqual([...bucketDelta(b, new Map([[0.01, 40], [0.1, 80], [1, 90], [Infinity, 90]]))], [[0.01, 10], [0.1, 10], [1, 10], [Infinity, 10]]);
  });
  it('summarises the controller: write rate between scrapes, waits, errors, large count', () => {
    const before = scrape('vault_sync_operator_vault_requests_total{operation="write",status="2xx"} 4\n', 1000);
    const now = scrape(`${text}\nvault_sync_operator_vault_write_errors_total{error_type="PermissionDenied"} 2\nvault_large_secret_count 3\nvault_sync_operator_workqueue_depth 4\n`, 3000);
    const s = summarise({ version: '0.1.0', leader: true, identity: 'pod-a', leaderIdentity: 'pod-a', ready: { ready: true, checks: {} }, watches: { synced: true, healthy: true, watches: [] } }, now, before);
    assert.equal(s.vaultWriteRate, (17 - 4) / 2);
    assert.deepEqual(s.errorsByType, { PermissionDenied: 2 });
    assert.equal(s.largeSecrets, 3);
    assert.equal(s.queueDepth, 4);
    assert.equal(s.health, 'ready');
    const rows = controllerRows(s);
    assert.ok(rows.some((r) => r.label === 'Leader' && r.value === 'pod-a'));
    assert.ok(rows.some((r) => r.label === 'Vault writes' && r.value === '6.50/s'));
    assert.ok(rows.some((r) => r.label === 'Vault rate' && r.value === 'no data'));
    // The effective rate, lowered by Vault's 429s: from the gauges, the reason from /state.
    const lowered = scrape('vault_rate_limit_configured_rate 10\nvault_rate_limit_effective_rate 7.34\n', 5000);
    const ls = summarise({ throttle: { configuredRate: 10, effectiveRate: 7.3, configuredBurst: 20, burst: 15, adaptive: true, tokens: 0, queued: 3, lowered: { signal: 'throttled', at: '2026-01-01T00:00:00.000Z' } } }, lowered);
    const rate = controllerRows(ls).find((r) => r.id === 'rate')!;
    assert.deepEqual([rate.label, rate.value, rate.icon], ['Vault rate', '7.3 of 10/s', 'warning']);
    assert.match(rate.tooltip!, /lowered because Vault answered 429; it recovers gradually/);
    // Without metrics, /state alone is enough; at the configured rate nothing is flagged.
    const calm = controllerRows(summarise({ throttle: { configuredRate: 10, effectiveRate: 10, configuredBurst: 20, burst: 20, adaptive: true, tokens: 20, queued: 0 } }, undefined)).find((r) => r.id === 'rate')!;
    assert.deepEqual([calm.value, calm.icon], ['10/s', 'info']);
    const missing = controllerProblem(503, { namespace: 'vso', service: 'op' }, 'namespace-missing');
    assert.deepEqual(controllerRows(undefined, missing).map((r) => r.label), ['Controller not found: no namespace vso', 'Set controller namespace…']);
    assert.equal(controllerRows(undefined, missing)[1]!.command?.id, 'vaultSync.setControllerNamespace');
  });
});

describe('extension model: resources tree', () => {
  it('groups context -> namespace -> resource -> path -> key', () => {
    const index = new ResourceIndex();
    index.context = 'kind-dev';
    index.apply('Deployment', 'team-a', 'web', synced());
    index.apply('Secret', 'team-b', 'creds', synced({ 'vault-sync.io/status': 'Failed' }, { reason: 'PathDenied' }));
    const [ctx] = index.children(undefined);
    const namespaces = index.children(ctx);
    assert.deepEqual(namespaces.map((n) => n.kind === 'namespace' && n.namespace), ['team-a', 'team-b']);
    const [res] = index.children(namespaces[0]);
    const [path] = index.children(res);
    assert.equal(path!.kind === 'path' && path!.path, 'secret/data/web/db');
    assert.deepEqual(index.children(path).map((k) => k.kind === 'key' && k.key), ['password', 'user']);
    assert.deepEqual(index.totals(), { synced: 1, failed: 1, pending: 0, large: 0 });
    assert.equal(totalsText(index.totals()), '1 failed · 1 synced');
    assert.equal(contextView('kind-dev', index.totals()).description, '1 failed · 1 synced', 'the context row uses totalsText');
    assert.equal(totalsText({ synced: 1, failed: 0, pending: 2, large: 3 }), '2 pending · 1 synced · 3 large', 'pending shows in the text, not only the tooltip');
  });

  it('a watch delta refreshes only what it touched, and reuses node objects', () => {
    const index = new ResourceIndex();
    assert.deepEqual(index.apply('Deployment', 'a', 'web', synced()).map((n) => n.kind), ['context'], 'a new namespace changes the context');
    const node = index.resourceNode(resourceKey({ kind: 'Deployment', namespace: 'a', name: 'web' }));
    const changed = index.apply('Deployment', 'a', 'web', synced({ 'vault-sync.io/last-sync': '2026-11-27T11:00:00Z' }));
    assert.deepEqual(changed, [node], 'only the resource itself, same object');
    assert.deepEqual(index.apply('Deployment', 'a', 'api', synced()).map((n) => n.kind), ['context', 'namespace', 'resource'], 'a new resource changes the totals shown above it');
    assert.deepEqual(index.apply('Deployment', 'a', 'web', synced({ 'vault-sync.io/status': 'Failed' })).map((n) => n.kind), ['context', 'namespace', 'resource'], 'status change updates the totals');
    assert.deepEqual(index.apply('Deployment', 'a', 'web', undefined).map((n) => n.kind), ['context', 'namespace'], 'unannotated: removed');
    assert.deepEqual(index.apply('Deployment', 'a', 'api', undefined).map((n) => n.kind), ['context'], 'last one out removes the namespace');
    assert.equal(index.size(), 0);
  });

  it('an unreadable reconcile interval is a warning state, found with the shared parser', () => {
    const state = tracked('Deployment', 'a', 'web', synced({ 'vault-sync.io/reconcile': 'every 5 minutes' }));
    assert.equal(state.status, 'Synced');
    assert.equal(resourceView(state, 0).icon, 'warned');
    assert.match(resourceView(state, 0).tooltip!, /every 5 minutes/);
  });

  it('tooltips escape Markdown in paths and names (ledger text is user-writable)', () => {
    const state = tracked('Deployment', 'a', 'web', synced({ 'vault-sync.io/path': 'secret/[x](http://evil)' }, { paths: [{ path: 'secret/`](javascript:alert(1))', keys: ['k'] }] }));
    const tip = resourceView(state, 0).tooltip!;
    assert.ok(!tip.includes('](http'), tip);
    assert.ok(!tip.includes('](javascript'), tip);
    assert.ok(pathView({ path: 'a/[b](c)' }).tooltip!.startsWith('a/\\[b\\]\\(c\\)'));
  });

  it('a refresh relists in place: kept nodes stay the same objects, vanished ones go', () => {
    const index = new ResourceIndex();
    index.apply('Deployment', 'a', 'web', synced());
    index.apply('Deployment', 'a', 'gone', synced());
    const node = index.resourceNode(resourceKey({ kind: 'Deployment', namespace: 'a', name: 'web' }));
    index.beginRelist();
    index.apply('Deployment', 'a', 'web', synced());
    assert.deepEqual(index.endRelist().map((n) => n.kind), ['context', 'namespace']);
    assert.equal(index.resourceNode(resourceKey({ kind: 'Deployment', namespace: 'a', name: 'web' })), node);
    assert.equal(index.size(), 1);
  });

  it('renders a resource with icon, path and age; tooltips list key names, sizes and the message', () => {
    const state = tracked('Deployment', 'team-a', 'web', synced({ 'vault-sync.io/large-secret': 'true' }));
    const view = resourceView(state, Date.parse('2026-11-27T10:05:00Z'));
    assert.equal(view.icon, 'large');
    assert.equal(view.description, '5m ago · large', 'the path is not repeated: the child row shows it');
    assert.match(view.tooltip!, /password, user/);
    assert.match(view.tooltip!, /42 B/);
    assert.equal(view.contextValue, 'vaultSync.resource.Deployment');
    assert.equal(view.accessibilityLabel, 'Deployment team-a/web: Synced, large secret');
    const pending = tracked('Deployment', 'n', 'x', { 'vault-sync.io/path': 'p/x' });
    assert.equal(resourceView(pending, Date.parse('2026-11-27T10:07:05Z')).icon, 'pending');
    assert.equal(resourceView(pending, Date.parse('2026-11-27T10:07:05Z')).description, 'pending 2m 5s', 'how long it has been pending');
    assert.equal(pathView({ path: 'secret/data/x', bytes: 2 * 1024 * 1024, large: true, keys: ['k'] }).description, '2.00 MiB · large');
    assert.equal(timeAgo('2026-11-27T10:00:00Z', Date.parse('2026-11-28T10:00:01Z')), '1d ago');
  });
});

describe('extension model: warnings and Problems', () => {
  const states = [
    tracked('Secret', 'ns', 'big', synced({}, { paths: [{ path: 'secret/data/big', bytes: 2_000_000, large: true, keys: ['k'] }] })),
    tracked('Deployment', 'ns', 'denied', synced({ 'vault-sync.io/status': 'Failed', 'vault-sync.io/message': 'Deployment ns/denied failed to sync: Deployment ns/denied: not allowed' }, { reason: 'PathDenied' })),
    tracked('Deployment', 'ns', 'taken', synced({ 'vault-sync.io/status': 'Failed' }, { reason: 'OwnershipConflict' })),
    tracked('Deployment', 'ns', 'broken', synced({ 'vault-sync.io/status': 'Failed' }, { reason: 'SyncFailed' })),
    tracked('Deployment', 'ns', 'slow', synced({ 'vault-sync.io/reconcile': 'every 5 minutes' })),
  ];

  it('lists failed syncs, denied paths, ownership conflicts and large secrets', () => {
    const warnings = warningsFor(states);
    assert.deepEqual(warnings.map((w) => `${w.kind}:${w.label}`), ['failed:broken', 'denied:denied', 'ownership:taken', 'config:slow', 'large:big']);
    assert.equal(warnings[1]!.detail, 'PathDenied: not allowed', 'the reason leads; the resource name is not repeated');
    assert.equal(warnings.at(-1)!.detail, 'large: 1.91 MiB', 'sizes in the same unit as the tree');
    assert.match(warnings[3]!.detail, /reconcile.*"every 5 minutes" is not a duration/);
  });

  it('finds annotated resources in multi-document manifests with the line of metadata.name', () => {
    const yaml = [
      'apiVersion: v1', 'kind: Secret', 'metadata:', '  name: big', '  namespace: ns', '  annotations:', '    vault-sync.io/path: "secret/data/big"', 'data: {}',
      '---', 'apiVersion: apps/v1', 'kind: Deployment', 'metadata:', '  name: plain  # not annotated', 'spec: {}',
      '---', 'kind: Deployment', 'metadata:', '  annotations:', '    vault-sync.io/path: secret/data/denied', '  name: denied', 'spec:', '  template:', '    metadata:', '      name: inner',
    ].join('\n');
    assert.deepEqual(findManifestResources(yaml).map(({ kind, name, namespace, line }) => ({ kind, name, ...(namespace ? { namespace } : {}), line })), [
      { kind: 'Secret', name: 'big', namespace: 'ns', line: 3 },
      { kind: 'Deployment', name: 'denied', line: 19 },
    ]);
    const problems = problemsFor(findManifestResources(yaml), (kind, name) => states.find((s) => s.kind === kind && s.name === name));
    assert.deepEqual(problems.map((p) => [p.line, p.severity]), [[3, 'warning'], [19, 'error']]);
    const slow = ['kind: Deployment', 'metadata:', '  name: slow', '  namespace: ns', '  annotations:', '    vault-sync.io/path: secret/x'].join('\n');
    const configProblems = problemsFor(findManifestResources(slow), (kind, name) => states.find((s) => s.kind === kind && s.name === name));
    assert.match(configProblems[0]!.message, /^vault-sync: annotation vault-sync.io\/reconcile: "every 5 minutes" is not a duration/, 'a controller fallback shows in Problems too');
    assert.equal(problems[1]!.message, 'vault-sync: PathDenied in ns: not allowed');
    assert.equal(problems[0]!.message, 'vault-sync: large secret: secret/data/big is 1.91 MiB; consider selecting fewer keys');
  });
});
