import assert from 'node:assert/strict';
import { completionsAt, hoverAt, manifestDiagnostics } from '../../../extension/model/authoring.ts';
import { findManifestResources } from '../../../extension/model/manifests.ts';
import type { PreviewContext } from '../../../extension/model/preview.ts';

const ctx: PreviewContext = { cluster: '', current: [], secret: () => ({}) };

function deployment(annotations: string[], extra: string[] = []): string {
  return ['apiVersion: apps/v1', 'kind: Deployment', 'metadata:', '  name: web', '  namespace: team-a', '  annotations:', ...annotations.map((a) => `    ${a}`), ...extra].join('\n');
}

function diagnose(text: string) {
  return manifestDiagnostics(findManifestResources(text), ctx);
}

describe('extension model: help while writing manifests', () => {
  it('diagnoses every case from the shared parser, on the annotation it is about', () => {
    const cases: [string, RegExp, 'error' | 'warning'][] = [
      ['vault-sync.io/secrets: \'[{"name": "db"\'', /secrets: is not valid JSON/, 'error'],
      ['vault-sync.io/secrets: \'[{"name":"db","kyes":["a"]}]\'', /unknown field\(s\) "kyes"/, 'error'],
      ['vault-sync.io/reconcile: every 5 minutes', /"every 5 minutes" is not a duration/, 'warning'],
    ];
    for (const [annotation, message, severity] of cases) {
      const text = deployment(['vault-sync.io/path: secret/data/web', annotation]);
      const d = diagnose(text);
      assert.equal(d.length, 1, `${annotation}: ${JSON.stringify(d)}`);
      assert.match(d[0]!.message, message);
      assert.equal(d[0]!.severity, severity);
      assert.equal(d[0]!.span.start.line, 7, 'on the annotation line');
      assert.ok(!d[0]!.message.startsWith('Deployment team-a/web'), 'the resource name is not repeated');
    }
    const sys = diagnose(deployment(['vault-sync.io/path: sys/policies/acl/x']));
    assert.equal(sys[0]!.severity, 'error');
    assert.match(sys[0]!.message, /sys/);
  });

  it('runs the planner on key names: a Secret naming another Secret, duplicate keys', () => {
    const secret = ['apiVersion: v1', 'kind: Secret', 'metadata:', '  name: creds', '  annotations:', '    vault-sync.io/path: secret/creds', '    vault-sync.io/secrets: \'[{"name":"other"}]\'', 'stringData:', '  password: x'].join('\n');
    assert.match(diagnose(secret)[0]!.message, /names Secret "other", but on a Secret it may only name the Secret itself/);
    const dup = deployment(['vault-sync.io/path: secret/web', 'vault-sync.io/secrets: \'[{"name":"a","keys":["user"]},{"name":"b","keys":["user"]}]\'']);
    const d = diagnose(dup);
    assert.match(d[0]!.message, /Vault key "user" would come from both/);
    assert.equal(d[0]!.annotation, 'vault-sync.io/secrets');
  });

  it('flags typos in annotation names, values YAML would not read as strings, and annotations without a path', () => {
    const d = diagnose(deployment(['vault-sync.io/path: secret/web', 'vault-sync.io/adopt: true', 'vault-sync.io/reconcle: 5m']));
    assert.deepEqual(d.map((x) => x.severity), ['error', 'warning']);
    assert.match(d[0]!.message, /must be strings.*quote it/);
    assert.match(d[1]!.message, /did you mean vault-sync.io\/reconcile\?/);
    assert.match(diagnose(deployment(['vault-sync.io/secrets: \'[{"name":"a"}]\''])).at(0)!.message, /no vault-sync.io\/path: nothing is synced/);
    assert.deepEqual(diagnose(deployment(['vault-sync.io/path: secret/web', 'vault-sync.io/reconcile: 5m'])), [], 'a good manifest has none');
  });

  it('reads block scalars and quoted keys', () => {
    const text = deployment(['"vault-sync.io/path": secret/web', 'vault-sync.io/secrets: |', '  [{"name": "a",', '    "kyes": []}]']);
    const d = diagnose(text);
    assert.equal(d.length, 1);
    assert.match(d[0]!.message, /kyes/);
    assert.equal(d[0]!.span.start.line, 7);
  });

  it('completes annotation names inside annotations, and values after the colon', () => {
    const text = deployment(['vault-sync.io/path: secret/web', 'vault-sync.io/re']);
    const names = completionsAt(text, 7, '    vault-sync.io/re'.length).map((c) => c.label);
    assert.deepEqual(names, ['vault-sync.io/reconcile', 'vault-sync.io/resync-requested-at']);
    const values = completionsAt(deployment(['vault-sync.io/rotation-check: ']), 6, '    vault-sync.io/rotation-check: '.length);
    assert.deepEqual(values.map((c) => c.insert), ['"enabled"', '"disabled"']);
    assert.deepEqual(completionsAt('kind: Deployment\nspec:\n  vault', 2, 7), [], 'not outside annotations');
  });

  it('hover docs come from the definitions keyed by the parser\'s constants', () => {
    const h = hoverAt('    vault-sync.io/preserve-on-delete: "true"', 0, 10)!;
    assert.match(h.markdown, /\*\*vault-sync.io\/preserve-on-delete\*\*/);
    assert.match(h.markdown, /Default: "false"/);
    assert.match(hoverAt('    vault-sync.io/sync-state: "{}"', 0, 10)!.markdown, /written by the controller/);
    assert.equal(hoverAt('    app: web', 0, 6), undefined);
  });
});
