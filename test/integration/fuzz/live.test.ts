// A live fuzz run: 1,000 generated resources (annotated Secrets and
// Deployments, with generated annotation values, pod templates and Secret
// contents, from test/unit/fuzz/arbitraries.ts) applied to the real
// apiserver while the real controller bundle runs against OpenBao.
//
// Each resource is classified beforehand by the pure modules (parser, path
// policy, planner) the way the reconciler applies them. Then:
//   - the controller never crashes or restarts (same process throughout,
//     /healthz answers, nothing fatal in its log);
//   - every invalid resource ends Failed with a Warning Event of one of the
//     reasons the classification found, and the failure metrics count at
//     least one increment per invalid resource;
//   - every valid resource ends Synced and Vault holds exactly the planned
//     documents.
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { V1Deployment } from '@kubernetes/client-node';
import { isSecretName, parseSyncAnnotations } from '../../../shared/annotations.ts';
import type { ErrorReason, SyncError } from '../../../shared/errors.ts';
import { ACCEPT_METADATA_LIST, KubeHttp } from '../../../shared/kube/http.ts';
import { plan, secretsNeeded, type SecretSnapshot } from '../../../shared/plan.ts';
import { checkLogicalPath, checkWrittenPath, parsePathPolicy, toLogical, type PolicyContext } from '../../../shared/paths.ts';
import { baoApi } from '../../../tools/testenv/openbao.ts';
import { FUZZ_SEED, annotations as annotationArb, kubeName, segment, secretValue } from '../../unit/fuzz/arbitraries.ts';
import { metricValue, startController, waitFor } from '../support/controller.ts';
import { testEnv } from '../support/env.ts';
import { createNamespace, kubeClients, type KubeClients } from '../support/kube.ts';

const COUNT = Number(process.env.FUZZ_LIVE_COUNT ?? 1000);
const FAILURE_EVENTS = ['SyncFailed', 'SecretNotFound', 'KeyMissing', 'InvalidConfig', 'PathDenied', 'OwnershipConflict'];

interface Resource {
  kind: 'Secret' | 'Deployment';
  name: string;
  annotations: Record<string, string>;
  /** Secret mode: its data (base64). */
  data?: Record<string, string>;
  /** Deployment: the Secrets it references (created when `data` is set) and how. */
  refs?: { name: string; data?: Record<string, string>; via: 'envFrom' | 'volume' | 'env'; key: string; optional: boolean }[];
}

interface Expectation {
  valid: boolean;
  /** Invalid: the Event reasons any check found. */
  reasons: Set<string>;
  /** Valid: logical path -> the data Vault must hold. */
  documents: Map<string, Record<string, string>>;
}

const wellFormed = (s: string) => (s as unknown as { isWellFormed(): boolean }).isWellFormed();
const dataKeyArb = fc.stringMatching(/^[-_a-zA-Z0-9][-._a-zA-Z0-9]{0,8}$/);
const dataArb = fc.dictionary(dataKeyArb, secretValue, { minKeys: 1, maxKeys: 4 });

/** Generated resources; `ns` and the index make names and paths unique (no two resources claim one path). */
function resourceArb(ns: string, index: number): fc.Arbitrary<Resource> {
  const name = `r${index}`;
  const prefix = fc.oneof(
    { weight: 8, arbitrary: fc.constantFrom(`secret/data/${ns}`, `secret/${ns}`) },
    { weight: 2, arbitrary: fc.constantFrom(`secret/data/other-${ns}`, `kv/${ns}`, 'sys/policies/acl', `secret/data/${ns}/..`, `secret/metadata/${ns}`, 'auth/token', 'cubbyhole', `secret/data/${ns}/%2e%2e`, `/secret/data/${ns}`) },
  );
  const path = fc.tuple(prefix, fc.array(segment, { maxLength: 2 })).map(([p, s]) => [p, ...s, name].join('/'));
  const others = annotationArb.map(({ 'vault-sync.io/path': _p, 'vault-sync.io/secrets': _s, ...rest }) => rest);
  const secret = fc.record({
    path, others, data: dataArb,
    selection: fc.oneof({ weight: 8, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.constant('self') }, { weight: 1, arbitrary: annotationArb.map((a) => a['vault-sync.io/secrets']) }),
  }).map(({ path: p, others: o, data, selection }): Resource => {
    const a: Record<string, string> = { ...o, 'vault-sync.io/path': p };
    if (selection === 'self') a['vault-sync.io/secrets'] = JSON.stringify([{ name, keys: Object.keys(data).slice(0, 2), prefix: 'p_' }]);
    else if (selection !== undefined) a['vault-sync.io/secrets'] = selection;
    return { kind: 'Secret', name, annotations: a, data };
  });
  const ref = fc.record({
    hostile: fc.boolean(), suffix: fc.stringMatching(/^[a-z0-9]{1,4}$/), odd: kubeName,
    via: fc.constantFrom<'envFrom' | 'volume' | 'env'>('envFrom', 'volume', 'env'), exists: fc.oneof({ weight: 5, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
    data: dataArb, keyFromData: fc.boolean(), missingKey: dataKeyArb, optional: fc.oneof({ weight: 4, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
  });
  const deployment = fc.record({
    path, others, refs: fc.array(ref, { minLength: 1, maxLength: 3 }),
    mode: fc.oneof({ weight: 7, arbitrary: fc.constant('auto') }, { weight: 2, arbitrary: fc.constant('custom') }, { weight: 1, arbitrary: fc.constant('random') }),
    randomSecrets: annotationArb.map((a) => a['vault-sync.io/secrets']),
  }).map(({ path: p, others: o, refs, mode, randomSecrets }): Resource => {
    const a: Record<string, string> = { ...o, 'vault-sync.io/path': p };
    const built = refs.map((r, i) => {
      // Hostile names only where the apiserver lets them through (volumes[].secret.secretName).
      const hostileOk = r.hostile && r.via === 'volume';
      // A generated name that happens to be valid must not hit another resource's Secret: it names one that does not exist.
      const odd = isSecretName(r.odd) ? `${name}-${i}-absent` : r.odd;
      const refName = hostileOk ? odd : `${name}-${i}-${r.suffix}`;
      const key = r.keyFromData ? Object.keys(r.data)[0]! : r.missingKey;
      return { name: refName, data: r.exists && !hostileOk ? r.data : undefined, via: r.via, key, optional: r.optional };
    });
    if (mode === 'custom') a['vault-sync.io/secrets'] = JSON.stringify(built.map((b, i) => ({ name: b.name, keys: [b.key], prefix: `s${i}_` })));
    if (mode === 'random' && randomSecrets !== undefined) a['vault-sync.io/secrets'] = randomSecrets;
    return { kind: 'Deployment', name, annotations: a, refs: built };
  });
  return fc.oneof(secret, deployment).filter((r) => Object.values(r.annotations).every(wellFormed));
}

function podSpec(r: Resource): any {
  const env: any[] = [];
  const envFrom: any[] = [];
  const volumes: any[] = [];
  r.refs!.forEach((ref, i) => {
    if (ref.via === 'envFrom') envFrom.push({ secretRef: { name: ref.name, optional: ref.optional } });
    if (ref.via === 'env') env.push({ name: `V${i}`, valueFrom: { secretKeyRef: { name: ref.name, key: ref.key, optional: ref.optional } } });
    if (ref.via === 'volume') volumes.push({ name: `v${i}`, secret: { secretName: ref.name, optional: ref.optional } });
  });
  return { containers: [{ name: 'c', image: 'busybox', env, envFrom, volumeMounts: volumes.map((v) => ({ name: v.name, mountPath: `/m/${v.name}` })) }], volumes };
}

/** What the controller must do with a resource, from the pure modules applied in the reconciler's order. */
function expect(r: Resource, ns: string, policySpec: string): Expectation {
  const label = `${r.kind} ${ns}/${r.name}`;
  const reasons = new Set<string>();
  const invalid = (err: unknown): Expectation => {
    reasons.add((err as SyncError).eventReason ?? 'SyncFailed');
    return { valid: false, reasons, documents: new Map() };
  };
  const parsed = parseSyncAnnotations(label, r.annotations);
  if (!parsed.managed) throw new Error('generated resources are always managed');
  if (!parsed.spec) {
    for (const e of parsed.errors) reasons.add(e.eventReason);
    return { valid: false, reasons, documents: new Map() };
  }
  const ctx: PolicyContext = { namespace: ns, name: r.name, kind: r.kind, cluster: '' };
  const policy = parsePathPolicy(policySpec);
  const input = { resource: label, kind: r.kind, name: r.name, spec: parsed.spec, cluster: '', podSpec: r.kind === 'Deployment' ? podSpec(r) : undefined };
  let needed;
  try {
    needed = secretsNeeded(input);
  } catch (err) {
    return invalid(err);
  }
  const secrets = new Map<string, SecretSnapshot | undefined>();
  for (const n of needed) {
    const data = r.kind === 'Secret' ? r.data : r.refs!.find((x) => x.name === n.name)?.data;
    secrets.set(n.name, data ? { name: n.name, resourceVersion: '1', data } : undefined);
  }
  const documents = new Map<string, Record<string, string>>();
  try {
    checkWrittenPath(policy, parsed.spec.path, ctx, label);
  } catch (err) {
    invalid(err); // recorded; the planner may find more reasons
  }
  try {
    for (const doc of plan({ ...input, secrets }).documents) {
      const logical = toLogical(doc.path, { mount: 'secret', kvVersion: 2 }, label);
      checkLogicalPath(policy, logical, ctx, label);
      documents.set(`${logical.mount}/${logical.rel.join('/')}`, doc.payload.values);
    }
  } catch (err) {
    return invalid(err);
  }
  if (reasons.size > 0) return { valid: false, reasons, documents: new Map() };
  return { valid: true, reasons, documents };
}

async function create(kube: KubeClients, ns: string, r: Resource): Promise<boolean> {
  try {
    if (r.kind === 'Secret') {
      await kube.core.createNamespacedSecret({ namespace: ns, body: { metadata: { name: r.name, annotations: r.annotations }, data: r.data } });
      return true;
    }
    const body: V1Deployment = {
      metadata: { name: r.name, annotations: r.annotations },
      spec: { selector: { matchLabels: { app: r.name } }, template: { metadata: { labels: { app: r.name } }, spec: podSpec(r) } },
    };
    await kube.apps.createNamespacedDeployment({ namespace: ns, body });
    for (const ref of r.refs!) {
      if (ref.data) await kube.core.createNamespacedSecret({ namespace: ns, body: { metadata: { name: ref.name }, data: ref.data } }).catch(() => {});
    }
    return true;
  } catch {
    return false; // the apiserver refused this shape: not part of the run
  }
}

describe('live fuzz: generated resources against the running controller', function () {
  this.timeout(900_000);

  it(`${COUNT} generated resources: 0 crashes or restarts, every invalid one an Event and a metric, every valid one synced`, async () => {
    const kube = kubeClients();
    const ns = await createNamespace(kube.core, 'fuzz');
    const policySpec = 'secret/{namespace}/*';
    const ctrl = await startController({
      args: [`--vault-addr=${testEnv().vaultAddr}`, '--vault-auth-method=token', `--namespaces=${ns}`, '--metrics-auth=false', `--path-policy=${policySpec}`,
        '--rate-limit=1000', '--rate-limit-burst=200', '--max-concurrent-reconciles=8', '--log-level=info'],
      env: { VAULT_TOKEN: testEnv().vaultToken },
    });
    const pid = ctrl.child.pid;

    // Generate, then create 16 at a time; shapes the apiserver refuses are replaced by fresh ones.
    const resources: { r: Resource; e: Expectation }[] = [];
    let refused = 0;
    let next = 0;
    const t0 = Date.now();
    while (resources.length < COUNT) {
      const batch = Array.from({ length: Math.min(16, COUNT - resources.length) }, () => {
        const i = next++;
        return fc.sample(resourceArb(ns, i), { numRuns: 1, seed: FUZZ_SEED + i })[0]!;
      });
      const created = await Promise.all(batch.map((r) => create(kube, ns, r)));
      batch.forEach((r, j) => {
        if (created[j]) resources.push({ r, e: expect(r, ns, policySpec) });
        else refused++;
      });
    }
    const createdMs = Date.now() - t0;
    const invalid = resources.filter((x) => !x.e.valid);
    const valid = resources.filter((x) => x.e.valid);
    process.stdout.write(`    live fuzz: ${resources.length} resources (${valid.length} valid, ${invalid.length} invalid; ${refused} generated shapes the apiserver refused), created in ${(createdMs / 1000).toFixed(1)} s\n`);
    assert.ok(valid.length > COUNT / 5 && invalid.length > COUNT / 5, 'both kinds well represented');

    const http = new KubeHttp(kube.kc);
    const statuses = async () => {
      const out = new Map<string, string | undefined>();
      for (const [kind, path] of [['Secret', `/api/v1/namespaces/${ns}/secrets`], ['Deployment', `/apis/apps/v1/namespaces/${ns}/deployments`]] as const) {
        let cont: string | undefined;
        do {
          const page = await http.request('GET', path, { accept: ACCEPT_METADATA_LIST, query: { limit: 500, continue: cont } });
          for (const item of page.items) out.set(`${kind}/${item.metadata.name}`, item.metadata.annotations?.['vault-sync.io/status']);
          cont = page.metadata?.continue || undefined;
        } while (cont);
      }
      return out;
    };
    const started = Date.now();
    await waitFor(async () => {
      const s = await statuses();
      return resources.every(({ r, e }) => s.get(`${r.kind}/${r.name}`) === (e.valid ? 'Synced' : 'Failed'));
    }, { what: 'every resource settled as expected', timeoutMs: 600_000, intervalMs: 2000, proc: ctrl }).catch(async (err) => {
      const s = await statuses();
      const wrong = resources.filter(({ r, e }) => s.get(`${r.kind}/${r.name}`) !== (e.valid ? 'Synced' : 'Failed')).slice(0, 8)
        .map(({ r, e }) => `${r.kind}/${r.name}: expected ${e.valid ? 'Synced' : `Failed (${[...e.reasons]})`}, is ${s.get(`${r.kind}/${r.name}`)}; ${JSON.stringify(r.annotations).slice(0, 300)}`);
      throw new Error(`${(err as Error).message.split('\n')[0]}\n${wrong.join('\n')}`);
    });
    const settledMs = Date.now() - started;

    // Valid: Vault holds exactly the planned documents.
    for (const { r, e } of valid) {
      for (const [path, values] of e.documents) {
        const [mount, ...rel] = path.split('/');
        const res = await baoApi(testEnv().vaultAddr, testEnv().vaultToken, 'GET', `${mount}/data/${rel.join('/')}`);
        assert.equal(res.status, 200, `${r.kind}/${r.name}: ${path} missing`);
        assert.deepEqual(res.json.data.data, values, `${r.kind}/${r.name}: ${path} holds other data`);
      }
    }

    // Invalid: a Warning Event per resource, with a reason the checks found.
    const events = new Map<string, Set<string>>();
    let cont: string | undefined;
    do {
      const page = await http.request('GET', `/apis/events.k8s.io/v1/namespaces/${ns}/events`, { query: { limit: 500, continue: cont } });
      for (const ev of page.items) {
        if (ev.type !== 'Warning') continue;
        const k = `${ev.regarding?.kind}/${ev.regarding?.name}`;
        if (!events.has(k)) events.set(k, new Set());
        events.get(k)!.add(ev.reason);
      }
      cont = page.metadata?.continue || undefined;
    } while (cont);
    for (const { r, e } of invalid) {
      const got = events.get(`${r.kind}/${r.name}`) ?? new Set();
      assert.ok([...got].some((reason) => e.reasons.has(reason)), `${r.kind}/${r.name}: Warning Events ${[...got]} but expected one of ${[...e.reasons]}; ${JSON.stringify(r.annotations).slice(0, 300)}`);
    }

    // Metrics: at least one failure increment per invalid resource.
    const terminal = await metricValue(ctrl, /^vault_sync_operator_reconcile_total\{.*outcome="terminal"/);
    const failureEvents = await metricValue(ctrl, new RegExp(`^vault_sync_operator_events_total\\{reason="(${FAILURE_EVENTS.join('|')})"`));
    assert.ok(terminal >= invalid.length, `terminal reconciles ${terminal} < ${invalid.length} invalid resources`);
    assert.ok(failureEvents >= invalid.length, `failure Events counted ${failureEvents} < ${invalid.length}`);

    // Never crashed, never restarted.
    assert.equal(ctrl.child.exitCode, null, 'the controller exited');
    assert.equal(ctrl.child.pid, pid);
    assert.equal((await fetch(`${ctrl.probeUrl}/healthz`)).status, 200);
    assert.doesNotMatch(ctrl.logs(), /fatal|unhandled|uncaught|heap out of memory/i);
    const byReason = new Map<ErrorReason | string, number>();
    for (const { e } of invalid) for (const reason of e.reasons) byReason.set(reason, (byReason.get(reason) ?? 0) + 1);
    process.stdout.write(`    live fuzz: settled in ${(settledMs / 1000).toFixed(1)} s; invalid by reason ${JSON.stringify(Object.fromEntries(byReason))}; terminal reconciles ${terminal}, failure Events ${failureEvents}\n`);
    await ctrl.stop();
  });
});
