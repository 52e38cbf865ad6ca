import assert from 'node:assert/strict';
import { buckets, bucketDelta, parsePrometheus, quantile, sum } from '../../../extension/model/prometheus.ts';
import { controllerRows, scrape, summarise } from '../../../extension/model/controller.ts';
import { findManifestResources, problemsFor } from '../../../extension/model/manifests.ts';
import { ResourceIndex, resourceKey, timeAgo, totalsText } from '../../../extension/model/tree.ts';
import { warningsFor } from '../../../extension/model/warnings.ts';
import { resourceView } from '../../../extension/views/nodes/resource.ts';
import { pathView } from '../../../extension/views/nodes/path.ts';
import { readResourceState } from '../../../shared/state.ts';

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
    const s = summarise({ version: '0.1.0', leader: true, identity: 'pod-a', leaderIdentity: 'pod-a', ready: { ready: true, checks: {} }, watches: { synced: true, healthy: true } }, now, before);
    assert.equal(s.vaultWriteRate, (17 - 4) / 2);
    assert.deepEqual(s.errorsByType, { PermissionDenied: 2 });
    assert.equal(s.largeSecrets, 3);
    assert.equal(s.queueDepth, 4);
    assert.equal(s.health, 'ready');
    const rows = controllerRows(s);
    assert.ok(rows.some((r) => r.label === 'Leader' && r.value === 'pod-a'));
    assert.ok(rows.some((r) => r.label === 'Vault writes' && r.value === '6.50/s'));
    assert.deepEqual(controllerRows(undefined, 'Controller not found').map((r) => r.label), ['Controller not found']);
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
    assert.equal(totalsText(index.totals()), '1 synced · 1 failed · 0 large');
  });

  it('a watch delta refreshes only what it touched, and reuses node objects', () => {
    const index = new ResourceIndex();
    assert.deepEqual(index.apply('Deployment', 'a', 'web', synced()).map((n) => n.kind), ['context'], 'a new namespace changes the context');
    const node = index.resourceNode(resourceKey('Deployment', 'a', 'web'));
    const changed = index.apply('Deployment', 'a', 'web', synced({ 'vault-sync.io/last-sync': '2026-11-27T11:00:00Z' }));
    assert.deepEqual(changed, [node], 'only the resource itself, same object');
    assert.deepEqual(index.apply('Deployment', 'a', 'api', synced()).map((n) => n.kind), ['context', 'namespace', 'resource'], 'a new resource changes the totals shown above it');
    assert.deepEqual(index.apply('Deployment', 'a', 'web', synced({ 'vault-sync.io/status': 'Failed' })).map((n) => n.kind), ['context', 'namespace', 'resource'], 'status change updates the totals');
    assert.deepEqual(index.apply('Deployment', 'a', 'web', undefined).map((n) => n.kind), ['context', 'namespace'], 'unannotated: removed');
    assert.deepEqual(index.apply('Deployment', 'a', 'api', undefined).map((n) => n.kind), ['context'], 'last one out removes the namespace');
    assert.equal(index.size(), 0);
  });

  it('renders a resource with icon, path and age; tooltips list key names, sizes and the message', () => {
    const state = readResourceState('Deployment', 'team-a', 'web', synced({ 'vault-sync.io/large-secret': 'true' }));
    const view = resourceView(state, Date.parse('2026-11-27T10:05:00Z'));
    assert.equal(view.icon, 'large');
    assert.equal(view.description, 'secret/data/web · 5m ago');
    assert.match(view.tooltip!, /password, user/);
    assert.match(view.tooltip!, /42 B/);
    assert.equal(view.contextValue, 'vaultSync.resource.Deployment');
    assert.equal(view.accessibilityLabel, 'Deployment team-a/web: Synced, large secret');
    assert.equal(resourceView(readResourceState('Deployment', 'n', 'x', { 'vault-sync.io/path': 'p/x' }), 0).icon, 'pending');
    assert.equal(pathView({ path: 'secret/data/x', bytes: 2 * 1024 * 1024, large: true, keys: ['k'] }).description, '2.00 MiB · large');
    assert.equal(timeAgo('2026-11-27T10:00:00Z', Date.parse('2026-11-28T10:00:01Z')), '1d ago');
  });
});

describe('extension model: warnings and Problems', () => {
  const states = [
    readResourceState('Secret', 'ns', 'big', synced({}, { paths: [{ path: 'secret/data/big', bytes: 2_000_000, large: true, keys: ['k'] }] })),
    readResourceState('Deployment', 'ns', 'denied', synced({ 'vault-sync.io/status': 'Failed', 'vault-sync.io/message': 'not allowed' }, { reason: 'PathDenied' })),
    readResourceState('Deployment', 'ns', 'taken', synced({ 'vault-sync.io/status': 'Failed' }, { reason: 'OwnershipConflict' })),
    readResourceState('Deployment', 'ns', 'broken', synced({ 'vault-sync.io/status': 'Failed' }, { reason: 'SyncFailed' })),
  ];

  it('lists failed syncs, denied paths, ownership conflicts and large secrets', () => {
    assert.deepEqual(warningsFor(states).map((w) => `${w.kind}:${w.label}`), [
      'failed:Deployment ns/broken', 'denied:Deployment ns/denied', 'ownership:Deployment ns/taken', 'large:Secret ns/big',
    ]);
  });

  it('finds annotated resources in multi-document manifests with the line of metadata.name', () => {
    const yaml = [
      'apiVersion: v1', 'kind: Secret', 'metadata:', '  name: big', '  namespace: ns', '  annotations:', '    vault-sync.io/path: "secret/data/big"', 'data: {}',
      '---', 'apiVersion: apps/v1', 'kind: Deployment', 'metadata:', '  name: plain  # not annotated', 'spec: {}',
      '---', 'kind: Deployment', 'metadata:', '  annotations:', '    vault-sync.io/path: secret/data/denied', '  name: denied', 'spec:', '  template:', '    metadata:', '      name: inner',
    ].join('\n');
    assert.deepEqual(findManifestResources(yaml), [
      { kind: 'Secret', name: 'big', namespace: 'ns', line: 3 },
      { kind: 'Deployment', name: 'denied', line: 19 },
    ]);
    const problems = problemsFor(findManifestResources(yaml), (kind, name) => states.find((s) => s.kind === kind && s.name === name));
    assert.deepEqual(problems.map((p) => [p.line, p.severity]), [[3, 'warning'], [19, 'error']]);
    assert.match(problems[1]!.message, /failed to sync: not allowed/);
  });
});
