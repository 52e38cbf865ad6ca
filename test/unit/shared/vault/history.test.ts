import assert from 'node:assert/strict';
import { parsePathPolicy } from '../../../../shared/paths.ts';
import { readHistory, versionsFromMetadata } from '../../../../shared/vault/history.ts';

const owner = 'default/team-a/Deployment/web';
const metadata = (ownerValue: string) => ({
  data: {
    current_version: 3,
    custom_metadata: { 'managed-by': 'vault-sync-operator', owner: ownerValue, 'content-hash': 'f'.repeat(64) },
    versions: { 1: { created_time: 't1', deletion_time: '', destroyed: true }, 3: { created_time: 't3', deletion_time: '' }, 2: { created_time: 't2', deletion_time: 't2d', destroyed: false } },
  },
});

function deps(bodies: Record<string, unknown>, policy = '*') {
  const calls: string[] = [];
  return {
    calls,
    deps: {
      client: { send: async (op: string, method: string, path: string, opts: { lane?: string }) => (calls.push(`${op} ${method} ${path} ${opts.lane}`), bodies[path]) } as never,
      resolveMount: async () => ({ mount: 'secret', kvVersion: 2 as const }),
      policy: parsePathPolicy(policy),
    },
  };
}

const web = { kind: 'Deployment', namespace: 'team-a', name: 'web', cluster: '', label: 'Deployment team-a/web' };

describe('shared/vault/history: KV version history, metadata only', () => {
  it('lists versions newest first, with deletion and destruction, and nothing of custom_metadata', () => {
    const v = versionsFromMetadata(metadata(owner));
    assert.deepEqual(v.versions, [{ version: 3, createdTime: 't3', destroyed: false }, { version: 2, createdTime: 't2', deletionTime: 't2d', destroyed: false }, { version: 1, createdTime: 't1', destroyed: true }]);
  });

  it('reads the metadata endpoint; answers "unavailable" alike for missing and foreign secrets', async () => {
    const { deps: d, calls } = deps({ 'secret/metadata/team-a/web': metadata(owner), 'secret/metadata/team-b/db': metadata('default/team-b/Deployment/db') });
    const out = await readHistory(d, web, ['secret/data/team-a/web', 'secret/data/team-b/db', 'secret/data/team-a/missing']);
    assert.deepEqual(calls, ['read_metadata GET secret/metadata/team-a/web background', 'read_metadata GET secret/metadata/team-b/db background', 'read_metadata GET secret/metadata/team-a/missing background'], 'metadata endpoint, background lane');
    assert.deepEqual(out.map((p) => p.status), ['ok', 'unavailable', 'unavailable']);
    assert.equal(out[1]!.detail, out[2]!.detail, 'not an ownership oracle');
    assert.ok(!JSON.stringify(out).includes('f'.repeat(64)), 'no content-hash');
  });

  it('a read the throttle cannot start in time answers busy instead of holding the request', async () => {
    const d = { ...deps({}).deps, client: { send: () => new Promise(() => {}) } as never, waitMs: 20 };
    const [out] = await readHistory(d, web, ['secret/data/team-a/web']);
    assert.equal(out!.status, 'error');
    assert.match(out!.detail!, /busy/);
  });

  it('refuses paths outside the namespace\'s path policy without any Vault call', async () => {
    const { deps: d, calls } = deps({}, 'secret/{namespace}/*');
    const out = await readHistory(d, web, ['secret/data/team-b/db']);
    assert.equal(out[0]!.status, 'denied');
    assert.deepEqual(calls, []);
  });
});
