import assert from 'node:assert/strict';
import { ConfigError, PathDeniedError } from '../../../shared/errors.ts';
import {
  apiPath, checkLogicalPath, checkWrittenPath, childPath, formatPath, logicalKey, parsePathPolicy, parseVaultPath, scopeToCluster, toLogical,
} from '../../../shared/paths.ts';

const R = 'Deployment team-a/web';
const ctx = { namespace: 'team-a', name: 'web', kind: 'Deployment', cluster: 'prod' };

describe('paths: grammar', () => {
  it('accepts API and logical spellings', () => {
    assert.deepEqual(parseVaultPath('secret/data/my-app', R).segments, ['secret', 'data', 'my-app']);
    assert.deepEqual(parseVaultPath('kv/team_a/app.v2', R).segments, ['kv', 'team_a', 'app.v2']);
  });

  for (const bad of ['secret/../sys/policy/x', 'secret/./x', 'secret//x', '/secret/x', 'secret/x/', 'secret/a%2e%2e', 'secret/x?y', 'secret/x#y', 'secret/a b', 'secret/.hidden', 'secret', '']) {
    it(`refuses ${JSON.stringify(bad)} with a ConfigError naming the field`, () => {
      assert.throws(() => parseVaultPath(bad, R), (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.equal(err.field, 'vault-sync.io/path');
        assert.match(err.message, /Deployment team-a\/web/);
        assert.match(err.message, /fix:/);
        return true;
      });
    });
  }

  for (const mount of ['sys', 'auth', 'identity', 'cubbyhole']) {
    it(`refuses the ${mount}/ system mount`, () => {
      assert.throws(() => parseVaultPath(`${mount}/policies/acl/x`, R), ConfigError);
    });
  }

  it('validates auto-discovery sub-paths', () => {
    const base = parseVaultPath('secret/data/app', R);
    assert.equal(formatPath(childPath(base, 'db-creds', R)), 'secret/data/app/db-creds');
    assert.throws(() => childPath(base, '..', R), ConfigError);
  });
});

describe('paths: normalisation', () => {
  const v2 = { mount: 'secret', kvVersion: 2 as const };
  it('treats secret/data/app and secret/app as one KV v2 secret', () => {
    const a = toLogical(parseVaultPath('secret/data/app', R), v2, R);
    const b = toLogical(parseVaultPath('secret/app', R), v2, R);
    assert.equal(logicalKey(a), 'secret/app');
    assert.deepEqual(a, b);
    assert.equal(apiPath(a, 'data'), 'secret/data/app');
    assert.equal(apiPath(a, 'metadata'), 'secret/metadata/app');
  });
  it('keeps data/ on KV v1, where it is an ordinary segment', () => {
    const p = toLogical(parseVaultPath('kv/data/app', R), { mount: 'kv', kvVersion: 1 }, R);
    assert.equal(logicalKey(p), 'kv/data/app');
    assert.equal(apiPath(p, 'data'), 'kv/data/app');
  });
  it('handles multi-segment mounts', () => {
    const p = toLogical(parseVaultPath('team/kv/data/app', R), { mount: 'team/kv', kvVersion: 2 }, R);
    assert.equal(apiPath(p, 'data'), 'team/kv/data/app');
  });
  it('refuses the metadata/ spelling and the bare mount', () => {
    assert.throws(() => toLogical(parseVaultPath('secret/metadata/app', R), v2, R), ConfigError);
    assert.throws(() => toLogical(parseVaultPath('secret/data', R), v2, R), ConfigError);
  });
  it('scopes by cluster right after the mount, keeping the data/ infix in place', () => {
    assert.equal(formatPath(scopeToCluster(parseVaultPath('secret/data/app', R), 'prod')), 'secret/data/prod/app');
    assert.equal(formatPath(scopeToCluster(parseVaultPath('secret/app', R), 'prod')), 'secret/prod/app');
    assert.equal(formatPath(scopeToCluster(parseVaultPath('secret/app', R), '')), 'secret/app');
  });
});

describe('paths: policy', () => {
  const policy = parsePathPolicy('secret/data/{cluster}/{namespace}/*, shared/{namespace}/{name}');
  const logical = (p: string) => toLogical(parseVaultPath(p, R), { mount: p.split('/')[0]!, kvVersion: 2 }, R);

  it('allows paths inside the namespace, either spelling', () => {
    checkWrittenPath(policy, parseVaultPath('secret/data/prod/team-a/web', R), ctx, R);
    checkWrittenPath(policy, parseVaultPath('secret/prod/team-a/web/db', R), ctx, R);
    checkLogicalPath(policy, logical('secret/data/prod/team-a/web'), ctx, R);
    checkLogicalPath(policy, logical('shared/team-a/web'), ctx, R);
  });
  it('refuses another namespace, another cluster and the bare prefix, naming a fix', () => {
    for (const p of ['secret/data/prod/team-b/web', 'secret/data/dev/team-a/web', 'secret/data/prod/team-a', 'shared/team-a/other']) {
      assert.throws(() => checkLogicalPath(policy, logical(p), ctx, R), (err: unknown) => {
        assert.ok(err instanceof PathDeniedError);
        assert.equal(err.reason, 'PathDenied');
        assert.match(err.message, /e\.g\. secret\/prod\/team-a\/\*/);
        return true;
      });
    }
  });
  it('the default policy allows any KV path', () => {
    checkLogicalPath(parsePathPolicy('*'), logical('secret/data/anything/at/all'), ctx, R);
  });
  it('rejects malformed templates', () => {
    assert.throws(() => parsePathPolicy('secret/{team}/*'), /path-policy/);
    assert.throws(() => parsePathPolicy(' , '), /path-policy/);
  });
});
