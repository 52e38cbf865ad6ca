// Property-based fuzzing (fast-check) of everything user input flows
// through before the controller may send a request: the annotation parser,
// Secret discovery, the planner and the path policy. 12,000 generated cases
// by default (FUZZ_SCALE multiplies, FUZZ_SEED changes the fixed seed).
//
// Properties:
//   - no exception escapes other than the typed errors of the taxonomy;
//   - every refusal is a typed error naming the field it is about;
//   - every accepted path stays inside the policy (checked against an
//     independent matcher written here), never reaches sys/, auth/,
//     identity/ or cubbyhole/, and survives URL parsing unchanged;
//   - no error message carries a Secret value (every value holds a canary).
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseSyncAnnotations } from '../../../shared/annotations.ts';
import { discoverSecretReferences } from '../../../shared/discovery.ts';
import { ConfigError, PathDeniedError, SyncError } from '../../../shared/errors.ts';
import { plan, secretsNeeded, type SecretSnapshot } from '../../../shared/plan.ts';
import {
  apiPath, checkLogicalPath, checkWrittenPath, formatPath, parsePathPolicy, parseVaultPath, toLogical,
  type PolicyContext, type VaultPath,
} from '../../../shared/paths.ts';
import {
  CANARY, RESERVED_MOUNTS, annotations, kubeName, pathText, podSpec, policyContext, policyText, runs, secretData,
} from './arbitraries.ts';

const RESOURCE = 'Deployment team-a/web';
const SEGMENT = /^[A-Za-z0-9_-][A-Za-z0-9_.-]*$/;

/** A path that can go into a URL as is: valid segments, no reserved mount, and URL parsing leaves it alone. */
function assertSafeRequestPath(path: string, what: string): void {
  const segments = path.split('/');
  assert.ok(segments.length >= 2, `${what}: ${path} has a mount and a name`);
  for (const s of segments) assert.match(s, SEGMENT, `${what}: segment ${JSON.stringify(s)} of ${path}`);
  assert.ok(segments.every((s) => s !== '.' && s !== '..'), `${what}: ${path}`);
  assert.ok(!RESERVED_MOUNTS.includes(segments[0]!), `${what}: ${path} reaches a system mount`);
  assert.equal(new URL(`http://vault.invalid/v1/${path}`).pathname, `/v1/${path}`, `${what}: URL parsing changed ${path}`);
}

/** A refusal: a SyncError of the taxonomy with a field, and no Secret value in it. */
function assertTypedRefusal(err: unknown, fields: RegExp): asserts err is SyncError {
  if (!(err instanceof SyncError)) throw new Error(`untyped exception escaped: ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`);
  assert.ok(err.field, `${err.reason} without a field: ${err.message}`);
  assert.match(err.field, fields, `${err.reason} names an unexpected field: ${err.field}`);
  assert.ok(!err.message.includes(CANARY), `a Secret value leaked into: ${err.message}`);
}

/** The field must also be in the message when the error class is about a field (config, missing Secret or key). */
function assertMessageNamesField(err: SyncError): void {
  if (err instanceof ConfigError || err.reason === 'SecretNotFound' || err.reason === 'KeyMissing') {
    assert.ok(err.message.includes(err.field!), `message does not name ${err.field}: ${err.message}`);
  }
}

/** Independent of shared/paths.ts: a template as a regular expression over the logical path. */
function oracleAllows(policyText: string, logical: string, ctx: PolicyContext): boolean {
  return policyText.split(',').map((t) => t.trim()).filter(Boolean).some((template) => {
    let segments = template.split('/');
    if (segments.length > 2 && segments[1] === 'data') segments = [segments[0]!, ...segments.slice(2)];
    const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    const values: Record<string, string> = { '{namespace}': ctx.namespace, '{name}': ctx.name, '{kind}': ctx.kind.toLowerCase(), '{cluster}': ctx.cluster };
    const parts = segments.map((s, i) => (s === '*' ? (i === segments.length - 1 ? '[^/]+(?:/[^/]+)*' : '[^/]+') : escape(values[s] ?? s)));
    return new RegExp(`^${parts.join('/')}$`).test(logical);
  });
}

describe('fuzz: annotations, discovery, plan and path policy (fast-check)', function () {
  this.timeout(120_000);

  it('annotation parser: 4,000 annotation sets: typed refusals naming the field, accepted paths safe', () => {
    let accepted = 0;
    fc.assert(fc.property(annotations, fc.constantFrom('Deployment', 'Secret'), (a, kind) => {
      const parsed = parseSyncAnnotations(`${kind} team-a/web`, a);
      assert.equal(parsed.managed, true);
      if (!parsed.managed) return;
      for (const e of [...parsed.errors, ...parsed.warnings]) {
        assert.ok(e instanceof ConfigError, 'problems are ConfigErrors');
        assertTypedRefusal(e, /^vault-sync\.io\/[a-z-]+(\[\d+\](\.(name|keys|prefix))?)?$/);
        assertMessageNamesField(e);
      }
      if (!parsed.spec) {
        assert.ok(parsed.errors.length > 0, 'no spec without an error');
        return;
      }
      accepted++;
      assert.deepEqual(parsed.errors, []);
      assertSafeRequestPath(formatPath(parsed.spec.path), 'annotation path');
      if (parsed.spec.reconcileEveryMs !== undefined) assert.ok(parsed.spec.reconcileEveryMs >= 30_000 && parsed.spec.reconcileEveryMs <= 24 * 3600_000);
      for (const s of parsed.spec.secrets ?? []) assert.match(s.name, /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/);
    }), runs(4000));
    assert.ok(accepted > 200, `the generator must reach accepted specs too (${accepted})`);
  });

  it('path policy: 4,000 (policy, path, namespace, mount) cases: accepted paths stay inside the policy and out of system mounts', () => {
    let accepted = 0;
    let denied = 0;
    fc.assert(fc.property(policyText, pathText, policyContext, fc.constantFrom(1, 2), fc.constantFrom<1 | 2>(1, 2), (policySpec, raw, ctx, depth, kvVersion) => {
      let policy;
      try {
        policy = parsePathPolicy(policySpec);
      } catch (err) {
        assert.ok(err instanceof Error && err.message.startsWith('--path-policy'), String(err));
        return;
      }
      let path: VaultPath;
      try {
        path = parseVaultPath(raw.trim(), RESOURCE);
      } catch (err) {
        assertTypedRefusal(err, /^vault-sync\.io\/path$/);
        assertMessageNamesField(err);
        return;
      }
      try {
        checkWrittenPath(policy, path, ctx, RESOURCE);
      } catch (err) {
        assert.ok(err instanceof PathDeniedError);
        assertTypedRefusal(err, /^vault-sync\.io\/path$/);
        denied++;
        return;
      }
      // The mount as Vault would report it: the first one or two segments.
      const mount = { mount: path.segments.slice(0, Math.min(depth, path.segments.length - 1)).join('/'), kvVersion };
      let logical;
      try {
        logical = toLogical(path, mount, RESOURCE);
        checkLogicalPath(policy, logical, ctx, RESOURCE);
      } catch (err) {
        assertTypedRefusal(err, /^vault-sync\.io\/path$/);
        if (err instanceof PathDeniedError) denied++;
        return;
      }
      accepted++;
      const segments = [...logical.mount.split('/'), ...logical.rel];
      assert.ok(oracleAllows(policySpec, segments.join('/'), ctx), `accepted ${segments.join('/')} outside ${policySpec} for ${JSON.stringify(ctx)}`);
      for (const kind of ['data', 'metadata'] as const) assertSafeRequestPath(apiPath(logical, kind), 'request path');
    }), runs(4000));
    assert.ok(accepted > 100 && denied > 100, `both outcomes reached (accepted ${accepted}, denied ${denied})`);
  });

  it('discovery and planner: 4,000 (annotations, pod template, Secrets) cases: typed refusals only, planned paths safe, no value in any message', () => {
    let planned = 0;
    const validPath = fc.array(fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,6}$/), { minLength: 1, maxLength: 3 }).map((s) => `secret/data/${s.join('/')}`);
    fc.assert(fc.property(
      annotations, validPath, fc.boolean(), fc.constantFrom<'Deployment' | 'Secret'>('Deployment', 'Secret'), kubeName, podSpec,
      fc.array(fc.option(secretData, { nil: undefined, freq: 5 }), { minLength: 4, maxLength: 4 }), fc.constantFrom('', 'c1'),
      (a, goodPath, useGoodPath, kind, name, pod, datas, cluster) => {
        const resource = `${kind} team-a/${name}`;
        const parsed = parseSyncAnnotations(resource, useGoodPath ? { ...a, 'vault-sync.io/path': goodPath } : a);
        if (!parsed.managed || !parsed.spec) return;
        const refs = discoverSecretReferences(pod as never);
        for (const r of refs.values()) assert.ok(r.name.length > 0 && r.via.length > 0);
        const input = { resource, kind, name, spec: parsed.spec, cluster, podSpec: kind === 'Deployment' ? (pod as never) : undefined };
        let needed;
        try {
          needed = secretsNeeded(input);
        } catch (err) {
          assertTypedRefusal(err, /^spec\.template\.spec\./);
          assertMessageNamesField(err);
          return;
        }
        const secrets = new Map<string, SecretSnapshot | undefined>();
        needed.forEach((n, i) => {
          const data = datas[i % datas.length];
          secrets.set(n.name, data ? { name: n.name, resourceVersion: String(i + 1), data } : undefined);
        });
        let result;
        try {
          result = plan({ ...input, secrets });
        } catch (err) {
          assertTypedRefusal(err, /^(vault-sync\.io\/[a-z-]+(\[\d+\])?|spec\.template\.spec\..+|data|the annotated Secret)$/);
          assert.ok(['InvalidConfig', 'DuplicateKey', 'SecretNotFound', 'KeyMissing'].includes(err.reason), err.reason);
          assertMessageNamesField(err);
          return;
        }
        planned++;
        for (const doc of result.documents) {
          assertSafeRequestPath(formatPath(doc.path), 'planned path');
          for (const key of Object.keys(doc.payload.values)) assert.ok(!key.includes(CANARY));
        }
      },
    ), runs(4000));
    assert.ok(planned > 200, `the generator must reach successful plans too (${planned})`);
  });

  it('discovery alone never throws and keeps every reference it is given', () => {
    fc.assert(fc.property(podSpec, (pod) => {
      const refs = discoverSecretReferences(pod as never);
      const names = new Set<string>();
      for (const c of [...(pod.containers ?? []), ...(pod.initContainers ?? []), ...(pod.ephemeralContainers ?? [])]) {
        for (const e of c.env ?? []) if (e.valueFrom?.secretKeyRef?.name) names.add(e.valueFrom.secretKeyRef.name);
        for (const e of c.envFrom ?? []) if (e.secretRef?.name) names.add(e.secretRef.name);
      }
      for (const v of pod.volumes ?? []) {
        if (v.secret?.secretName) names.add(v.secret.secretName);
        for (const s of v.projected?.sources ?? []) if (s.secret?.name) names.add(s.secret.name);
      }
      assert.deepEqual(new Set(refs.keys()), names);
    }), runs(500));
  });
});
