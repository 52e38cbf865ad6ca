import assert from 'node:assert/strict';
import { ConfigError } from '../../../shared/errors.ts';
import { parseSyncAnnotations } from '../../../shared/annotations.ts';
import { formatPath } from '../../../shared/paths.ts';

const R = 'Deployment team-a/web';

function errorsOf(annotations: Record<string, string>): ConfigError[] {
  const parsed = parseSyncAnnotations(R, annotations);
  assert.ok(parsed.managed);
  return parsed.errors;
}

describe('annotations', () => {
  it('ignores resources without vault-sync.io/path', () => {
    assert.deepEqual(parseSyncAnnotations(R, { 'vault-sync.io/secrets': '[]' }), { managed: false });
    assert.deepEqual(parseSyncAnnotations(R, undefined), { managed: false });
  });

  it('parses a Go-operator manifest unchanged', () => {
    const parsed = parseSyncAnnotations(R, {
      'vault-sync.io/path': 'secret/data/my-app',
      'vault-sync.io/secrets': '[{"name":"db-secret","keys":["username","password"],"prefix":"db_"},{"name":"api-secret"}]',
      'vault-sync.io/preserve-on-delete': 'true',
      'vault-sync.io/reconcile': '5m',
      'vault-sync.io/rotation-check': 'disabled',
    });
    assert.ok(parsed.managed && parsed.spec);
    assert.equal(formatPath(parsed.spec.path), 'secret/data/my-app');
    assert.deepEqual(parsed.spec.secrets, [{ name: 'db-secret', keys: ['username', 'password'], prefix: 'db_' }, { name: 'api-secret' }]);
    assert.equal(parsed.spec.preserveOnDelete, true);
    assert.equal(parsed.spec.reconcileEveryMs, 300_000);
    assert.equal(parsed.spec.rotationCheck, false);
    assert.equal(parsed.spec.adopt, false);
  });

  it('defaults: auto-discovery, no reconcile, rotation check on, delete on removal', () => {
    const parsed = parseSyncAnnotations(R, { 'vault-sync.io/path': 'secret/app', 'vault-sync.io/reconcile': 'off' });
    assert.ok(parsed.managed && parsed.spec);
    assert.equal(parsed.spec.secrets, undefined);
    assert.equal(parsed.spec.reconcileEveryMs, undefined);
    assert.equal(parsed.spec.rotationCheck, true);
    assert.equal(parsed.spec.preserveOnDelete, false);
  });

  it('collects every problem at once, each naming resource, field and fix', () => {
    const errors = errorsOf({
      'vault-sync.io/path': 'secret/../sys',
      'vault-sync.io/secrets': '[{"name":"Bad_Name"},{"name":"ok","keys":[],"prefix":"a b"},{"name":"x","extra":1}]',
      'vault-sync.io/reconcile': '10s',
      'vault-sync.io/rotation-check': 'sometimes',
      'vault-sync.io/preserve-on-delete': 'yes',
    });
    const fields = errors.map((e) => e.field).sort();
    assert.deepEqual(fields, [
      'vault-sync.io/path', 'vault-sync.io/preserve-on-delete', 'vault-sync.io/reconcile', 'vault-sync.io/rotation-check',
      'vault-sync.io/secrets[0].name', 'vault-sync.io/secrets[1].keys', 'vault-sync.io/secrets[1].prefix', 'vault-sync.io/secrets[2]',
    ]);
    for (const e of errors) {
      assert.match(e.message, /^Deployment team-a\/web: annotation /);
      assert.ok(e.fix && e.message.includes(`fix: ${e.fix}`));
      assert.equal(e.retryable, false);
    }
  });

  it('refuses reconcile intervals under 30s and non-durations', () => {
    assert.match(errorsOf({ 'vault-sync.io/path': 'secret/a', 'vault-sync.io/reconcile': '29s' })[0]!.message, /30s minimum/);
    assert.match(errorsOf({ 'vault-sync.io/path': 'secret/a', 'vault-sync.io/reconcile': 'daily' })[0]!.message, /not a duration/);
    assert.equal(errorsOf({ 'vault-sync.io/path': 'secret/a', 'vault-sync.io/reconcile': '30s' }).length, 0);
  });

  it('does not echo invalid JSON (which could hold pasted values) in the error', () => {
    const canary = 'CANARY-s3cr3t-value';
    const errors = errorsOf({ 'vault-sync.io/path': 'secret/a', 'vault-sync.io/secrets': `[{"name": "${canary}` });
    assert.equal(errors.length, 1);
    assert.ok(!errors[0]!.message.includes(canary));
  });

  it('reads adopt and resync-requested-at', () => {
    const parsed = parseSyncAnnotations(R, { 'vault-sync.io/path': 'secret/a', 'vault-sync.io/adopt': 'TRUE', 'vault-sync.io/resync-requested-at': '2026-11-27T10:00:00Z' });
    assert.ok(parsed.managed && parsed.spec);
    assert.equal(parsed.spec.adopt, true);
    assert.equal(parsed.spec.resyncRequestedAt, '2026-11-27T10:00:00Z');
  });
});
