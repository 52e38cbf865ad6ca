import assert from 'node:assert/strict';
import { findManifestResources } from '../../../extension/model/manifests.ts';
import { previewManifest, type PreviewContext } from '../../../extension/model/preview.ts';

const manifest = (annotations: string[], spec: string[] = []) => findManifestResources(['kind: Deployment', 'metadata:', '  name: web', '  namespace: a', '  annotations:', ...annotations.map((x) => `    ${x}`), ...spec].join('\n'))[0]!;

describe('extension model: Preview Vault Sync', () => {
  it('custom mode: one document with the prefixed key names, compared with the ledger', () => {
    const r = manifest(['vault-sync.io/path: secret/data/web', 'vault-sync.io/secrets: \'[{"name":"db","keys":["user","pass"],"prefix":"db_"},{"name":"api","keys":["token"]}]\'']);
    const ctx: PreviewContext = { cluster: '', secret: () => ({ exists: true }), current: [{ path: 'secret/data/old', keys: ['x'] }] };
    const p = previewManifest(r, ctx);
    assert.equal(p.mode, 'custom');
    assert.deepEqual(p.documents.map((d) => [d.path, d.keys, d.change]), [['secret/data/web', ['db_pass', 'db_user', 'token'], 'add']]);
    assert.deepEqual(p.removed.map((d) => [d.path, d.change]), [['secret/data/old', 'clean up']]);
  });

  it('auto-discovery: a document per referenced Secret; key names from workspace manifests or the ledger, else said unknown', () => {
    const r = manifest(['vault-sync.io/path: secret/data/web', 'vault-sync.io/preserve-on-delete: "true"'], ['spec:', '  template:', '    spec:', '      containers:', '        - name: app', '          envFrom: [{secretRef: {name: db}}, {secretRef: {name: api}}, {secretRef: {name: tls}}]']);
    const ctx: PreviewContext = {
      cluster: 'prod',
      secret: (name) => (name === 'db' ? { exists: true, keys: ['pass', 'user'] } : { exists: true }),
      current: [{ path: 'secret/data/prod/web/api', keys: ['token'] }, { path: 'secret/data/prod/web/gone', keys: [] }],
    };
    const p = previewManifest(r, ctx);
    assert.deepEqual(p.documents.map((d) => [d.path, d.keys ?? d.keysNote, d.change]), [
      ['secret/data/prod/web/api', ['token'], 'same keys'],
      ['secret/data/prod/web/db', ['pass', 'user'], 'add'],
      ['secret/data/prod/web/tls', 'all keys of Secret tls', 'add'],
    ]);
    assert.deepEqual(p.removed.map((d) => d.change), ['keep (preserve-on-delete)']);
  });

  it('reports errors from the shared core instead of a plan', () => {
    const p = previewManifest(manifest(['vault-sync.io/path: sys/x']), { cluster: '', secret: () => ({}), current: [] });
    assert.equal(p.documents.length, 0);
    assert.match(p.errors[0]!, /sys/);
  });
});
