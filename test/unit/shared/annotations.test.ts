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

  it('collects every blocking problem at once, each naming resource, field and fix', () => {
    const errors = errorsOf({
      'vault-sync.io/path': 'secret/../sys',
      'vault-sync.io/secrets': '[{"name":"Bad_Name"},{"name":"ok","keys":"user","prefix":"a b"},{"name":"x","extra":1}]',
    });
    assert.deepEqual(errors.map((e) => e.field).sort(), [
      'vault-sync.io/path', 'vault-sync.io/secrets[0].name', 'vault-sync.io/secrets[1].keys', 'vault-sync.io/secrets[1].prefix', 'vault-sync.io/secrets[2]',
    ]);
    for (const e of errors) {
      assert.match(e.message, /^Deployment team-a\/web: annotation /);
      assert.ok(e.fix && e.message.includes(`fix: ${e.fix}`));
      assert.equal(e.retryable, false);
    }
  });

  it('tolerates what the Go operator tolerated, with warnings and its fallbacks', () => {
    const parsed = parseSyncAnnotations(R, {
      'vault-sync.io/path': 'secret/a',
      'vault-sync.io/reconcile': '10s',
      'vault-sync.io/rotation-check': '5m',
    });
    assert.ok(parsed.managed && parsed.spec);
    assert.equal(parsed.spec.reconcileEveryMs, 30_000, 'clamped to the 30s minimum');
    assert.equal(parsed.spec.rotationCheck, true);
    assert.deepEqual(parsed.warnings.map((w) => w.field), ['vault-sync.io/reconcile', 'vault-sync.io/rotation-check']);
    const bad = parseSyncAnnotations(R, { 'vault-sync.io/path': 'secret/a', 'vault-sync.io/reconcile': 'daily' });
    assert.ok(bad.managed && bad.spec);
    assert.equal(bad.spec.reconcileEveryMs, undefined);
    assert.match(bad.warnings[0]!.message, /not a duration/);
  });

  it('clamps a reconcile interval above 24h (600h would overflow timers into a 1 ms loop), with a warning', () => {
    const parsed = parseSyncAnnotations(R, { 'vault-sync.io/path': 'secret/a', 'vault-sync.io/reconcile': '600h' });
    assert.ok(parsed.managed && parsed.spec);
    assert.equal(parsed.spec.reconcileEveryMs, 24 * 3600_000);
    assert.match(parsed.warnings[0]!.message, /above the 24h maximum/);
  });

  it('keeps Vault data when preserve-on-delete is unreadable (the Go operator deleted)', () => {
    const parsed = parseSyncAnnotations(R, { 'vault-sync.io/path': 'secret/a', 'vault-sync.io/preserve-on-delete': 'yes' });
    assert.ok(parsed.managed && parsed.spec);
    assert.equal(parsed.spec.preserveOnDelete, true);
    assert.equal(parsed.warnings[0]!.field, 'vault-sync.io/preserve-on-delete');
  });

  it('reads secrets fields case-insensitively and accepts an empty key list, like Go', () => {
    const parsed = parseSyncAnnotations(R, { 'vault-sync.io/path': 'secret/a', 'vault-sync.io/secrets': '[{"Name":"db","Keys":[],"PREFIX":"p_"}]' });
    assert.ok(parsed.managed && parsed.spec);
    assert.deepEqual(parsed.spec.secrets, [{ name: 'db', keys: [], prefix: 'p_' }]);
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
