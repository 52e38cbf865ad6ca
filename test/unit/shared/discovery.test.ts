import assert from 'node:assert/strict';
import { discoverSecretReferences } from '../../../shared/discovery.ts';

describe('discovery of Secret references in a pod template', () => {
  const refs = discoverSecretReferences({
    initContainers: [{ name: 'migrate', envFrom: [{ secretRef: { name: 'migrations' } }] }],
    containers: [
      {
        name: 'app',
        env: [
          { name: 'DB_PASS', valueFrom: { secretKeyRef: { name: 'db', key: 'password' } } },
          { name: 'OPT', valueFrom: { secretKeyRef: { name: 'maybe', key: 'k', optional: true } } },
          { name: 'PLAIN' } as never,
        ],
        envFrom: [{ secretRef: { name: 'api' } }],
      },
    ],
    ephemeralContainers: [{ name: 'debug', env: [{ valueFrom: { secretKeyRef: { name: 'debug-token', key: 't' } } }] }],
    volumes: [
      { name: 'certs', secret: { secretName: 'tls', items: [{ key: 'tls.crt' }] } },
      { name: 'proj', projected: { sources: [{ secret: { name: 'db', items: [{ key: 'ca.crt' }] } }, { secret: { name: 'proj-opt', optional: true } }] } },
    ],
  });

  it('finds references in every container list and volume kind', () => {
    assert.deepEqual([...refs.keys()].sort(), ['api', 'db', 'debug-token', 'maybe', 'migrations', 'proj-opt', 'tls']);
  });
  it('merges repeated references: required wins, required keys collect', () => {
    const db = refs.get('db')!;
    assert.equal(db.optional, false);
    assert.deepEqual([...db.requiredKeys].sort(), ['ca.crt', 'password']);
    assert.deepEqual(db.via, ['containers[app].env[DB_PASS]', 'volumes[proj].projected.sources[0]']);
  });
  it('keeps optional references optional and without required keys', () => {
    assert.equal(refs.get('maybe')!.optional, true);
    assert.equal(refs.get('maybe')!.requiredKeys.size, 0);
    assert.equal(refs.get('proj-opt')!.optional, true);
  });
  it('copes with an empty template', () => {
    assert.equal(discoverSecretReferences(undefined).size, 0);
    assert.equal(discoverSecretReferences({}).size, 0);
  });
});
