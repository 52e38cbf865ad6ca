// The security review's exploits, as regression tests. The attacker is a
// ServiceAccount of team-a whose Role allows only Deployments in team-a
// (checked: it may not even get Secrets); it talks to the real apiserver
// with its own token, so real RBAC decides each call. The controller runs
// with a namespace-scoped path policy; Vault is checked from outside with
// the real `bao` CLI.
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import type vault from 'node-vault';
import { allowUrls, createNamespace, deploymentAnnotations, kubeClients, mergePatch, serviceAccountToken, type KubeClients } from '../support/kube.ts';
import { adminVault, mountKv, readOrUndefined } from '../support/vault.ts';
import { deploymentGone, startController, stopAllControllers, waitFor, type ControllerProcess } from '../support/controller.ts';
import { baoKvGet, canI, deployment, limitedTenant, type Tenant } from '../support/tenant.ts';
import { testEnv } from '../support/env.ts';
import { freePorts } from '../../../tools/testenv/ports.ts';
import { buildPayload } from '../../../shared/payload.ts';

const SYNC_STATE = 'vault-sync.io/sync-state';

describe('adversarial: tenant isolation (a team-a user against team-b)', function () {
  this.timeout(240_000);
  let kube: KubeClients;
  let admin: vault.client;
  let teamA: string;
  let teamB: string;
  let kv1: string;
  let attacker: Tenant;
  let ctrl: ControllerProcess;
  let statusUrl: string;
  let scraperToken: string;

  const annotationsOf = (ns: string, name: string) => deploymentAnnotations(kube, ns, name);
  const processed = (ns: string, name: string, what: string) =>
    waitFor(async () => (await annotationsOf(ns, name))['vault-sync.io/status'] !== undefined, { what, proc: ctrl, timeoutMs: 60_000 });
  const deploymentReconciles = async () => {
    const res = await fetch(`${ctrl.metricsUrl}/metrics`, { headers: { Authorization: `Bearer ${scraperToken}` } });
    assert.equal(res.status, 200, 'the scraper may read /metrics');
    return (await res.text()).split('\n').filter((l) => /^vault_sync_operator_reconcile_total\{[^}]*kind="Deployment"/.test(l)).reduce((n, l) => n + Number(l.split(' ').at(-1)), 0);
  };
  const gone = (ns: string, name: string) => deploymentGone(kube, ns, name, ctrl);

  before(async () => {
    kube = kubeClients();
    admin = adminVault();
    teamA = await createNamespace(kube.core, 'team-a');
    teamB = await createNamespace(kube.core, 'team-b');
    const controllerNs = await createNamespace(kube.core, 'vso-system');
    kv1 = await mountKv(admin, 1, 'kvone');
    attacker = await limitedTenant(kube, teamA, 'attacker', [{ apiGroups: ['apps'], resources: ['deployments'], verbs: ['*'] }]);
    assert.equal(await canI(attacker, 'get', 'secrets'), false, 'the attacker may not read Secrets');
    assert.equal(await canI(attacker, 'create', 'deployments', teamB, 'apps'), false, 'nor touch team-b');

    // team-b's secrets: one in KV v1, one written by hand in KV v2.
    await admin.write(`${kv1}/${teamB}/db`, { password: 'team-b-v1-secret' });
    await admin.write(`secret/data/${teamB}/manual`, { data: { token: 'team-b-v2-secret' } });
    await kube.core.createNamespacedSecret({ namespace: teamB, body: { metadata: { name: 'b-creds' }, stringData: { password: 'team-b-kube-secret' } } });

    // A scraper allowed GET /metrics (the controller runs with --metrics-auth).
    await kube.core.createNamespacedServiceAccount({ namespace: controllerNs, body: { metadata: { name: 'scraper' } } });
    await allowUrls(kube.rbac, controllerNs, 'scraper', ['/metrics']);
    scraperToken = await serviceAccountToken(kube.core, controllerNs, 'scraper');

    const [statusPort] = await freePorts(1);
    statusUrl = `http://127.0.0.1:${statusPort}`;
    ctrl = await startController({
      args: [
        '--vault-auth-method=token', `--vault-addr=${testEnv().vaultAddr}`,
        `--namespaces=${teamA},${teamB}`,
        `--path-policy=${kv1}/{namespace}/*,secret/{namespace}/*`,
        `--ledger-key-secret=${controllerNs}/ledger-key`,
        '--metrics-auth=true', `--status-bind-address=127.0.0.1:${statusPort}`,
        '--max-bytes-per-resource=8Mi',
      ],
      env: { VAULT_TOKEN: testEnv().vaultToken, NODE_OPTIONS: '--max-old-space-size=128' },
    });
  });
  after(() => stopAllControllers());

  it('a forged ledger deletes nothing outside the namespace (KV v1 and v2), and reveals nothing about what exists there', async () => {
    const forge = (name: string, paths: string[]) => attacker.apps.createNamespacedDeployment({
      namespace: teamA,
      body: deployment(name, { [SYNC_STATE]: JSON.stringify({ v: 1, paths: paths.map((path) => ({ path })) }) }, {}, ['vault-sync.io/finalizer']),
    });
    await forge('forger-exists', [`${kv1}/${teamB}/db`, `secret/data/${teamB}/manual`]);
    await forge('forger-absent', [`${kv1}/${teamB}/nothing-here`, `secret/data/${teamB}/nothing-here`]);
    // The controller looks at both (they carry our ledger and finalizer) and lets them go.
    await waitFor(async () => {
      const [a, b] = await Promise.all([annotationsOf(teamA, 'forger-exists'), annotationsOf(teamA, 'forger-absent')]);
      return a[SYNC_STATE] === undefined && b[SYNC_STATE] === undefined;
    }, { what: 'the forged ledgers handled', proc: ctrl });
    assert.deepEqual(await baoKvGet(kv1, `${teamB}/db`), { password: 'team-b-v1-secret' });
    assert.deepEqual(await baoKvGet('secret', `${teamB}/manual`), { token: 'team-b-v2-secret' });
    // What the attacker can see of the outcome is the same whether team-b's paths exist or not.
    const seen = async (name: string) => {
      const d = await attacker.apps.readNamespacedDeployment({ name, namespace: teamA });
      return JSON.stringify({ a: d.metadata?.annotations ?? {}, f: d.metadata?.finalizers ?? [] }).replaceAll('nothing-here', 'X').replaceAll('/db', '/X').replaceAll('/manual', '/X').replaceAll(name, 'N');
    };
    assert.equal(await seen('forger-exists'), await seen('forger-absent'));
    for (const name of ['forger-exists', 'forger-absent']) await attacker.apps.deleteNamespacedDeployment({ name, namespace: teamA });
    await gone(teamA, 'forger-exists');
    assert.deepEqual(await baoKvGet(kv1, `${teamB}/db`), { password: 'team-b-v1-secret' }, 'deleting the forger deleted nothing either');
  });

  it('a ledger copied from a neighbour, or signed-looking but forged, grants no ownership or delete inside the namespace either (KV v1 and v2)', async () => {
    await kube.core.createNamespacedSecret({ namespace: teamA, body: { metadata: { name: 'a-src' }, stringData: { k: 'neighbour-value' } } });
    // Two victims in the attacker's own namespace, inside its path policy: on KV v2 Vault's ownership
    // marker refuses a stranger's delete, on KV v1 nothing in Vault does.
    const victims = [['neighbour', `secret/data/${teamA}/neighbour`], ['neighbour-v1', `${kv1}/${teamA}/neighbour-v1`]] as const;
    for (const [name, path] of victims) {
      await kube.apps.createNamespacedDeployment({ namespace: teamA, body: deployment(name, { 'vault-sync.io/path': path, 'vault-sync.io/secrets': '[{"name":"a-src"}]' }) });
    }
    for (const [name] of victims) await waitFor(async () => (await annotationsOf(teamA, name))['vault-sync.io/status'] === 'Synced', { what: `${name} synced`, proc: ctrl });
    assert.deepEqual(await baoKvGet(kv1, `${teamA}/neighbour-v1`), { k: 'neighbour-value' }, 'the KV v1 victim was written');
    const attackers: string[] = [];
    for (const [victim] of victims) {
      const signed = (await attacker.apps.readNamespacedDeployment({ name: victim, namespace: teamA })).metadata!.annotations![SYNC_STATE]!;
      const forgedMac = JSON.stringify({ ...JSON.parse(signed), mac: '0'.repeat(32) });
      for (const [name, ledger] of [[`copier-${victim}`, signed], [`mac-forger-${victim}`, forgedMac]] as const) {
        await attacker.apps.createNamespacedDeployment({ namespace: teamA, body: deployment(name, { [SYNC_STATE]: ledger }, {}, ['vault-sync.io/finalizer']) });
        attackers.push(name);
      }
    }
    for (const name of attackers) await attacker.apps.deleteNamespacedDeployment({ name, namespace: teamA });
    for (const name of attackers) await gone(teamA, name);
    assert.deepEqual(await baoKvGet(kv1, `${teamA}/neighbour-v1`), { k: 'neighbour-value' }, "the KV v1 neighbour's secret survived all four");
    assert.deepEqual(await baoKvGet('secret', `${teamA}/neighbour`), { k: 'neighbour-value' }, "the KV v2 neighbour's secret survived all four");
    // Secondary: they were refused because their MACs did not verify for them.
    assert.match(ctrl.logs(), /ledger annotation failed authentication/);
  });

  it('survives one tenant referencing 80 Secrets of 900 KiB, with a clear Event, on the heap the chart sets', async () => {
    const big = 'x'.repeat(900 * 1024);
    const names = Array.from({ length: 80 }, (_, i) => `big-${i}`);
    for (const name of names) await kube.core.createNamespacedSecret({ namespace: teamA, body: { metadata: { name }, stringData: { blob: big } } });
    await attacker.apps.createNamespacedDeployment({
      namespace: teamA,
      body: deployment('hoarder', { 'vault-sync.io/path': `secret/data/${teamA}/hoarder`, 'vault-sync.io/secrets': JSON.stringify(names.map((name) => ({ name }))) }),
    });
    await attacker.apps.createNamespacedDeployment({
      namespace: teamA,
      body: deployment('streamer', { 'vault-sync.io/path': `secret/data/${teamA}/streamer` }, { volumes: names.slice(0, 40).map((name) => ({ name, secret: { secretName: name } })) }),
    });
    await processed(teamA, 'hoarder', 'the hoarder refused');
    await waitFor(async () => /per-resource limit/.test((await annotationsOf(teamA, 'streamer'))['vault-sync.io/message'] ?? ''), { what: 'the streamer stopped at the byte limit', proc: ctrl, timeoutMs: 120_000 });
    assert.match((await annotationsOf(teamA, 'hoarder'))['vault-sync.io/message']!, /references 80 Secrets, above the limit of 50/);
    assert.equal(ctrl.child.exitCode, null, 'the controller is still running');
    assert.doesNotMatch(ctrl.logs(), /heap out of memory/i);
    assert.equal((await fetch(`${ctrl.probeUrl}/healthz`)).status, 200);
    // What the streamer wrote before the limit is in its ledger, so cleanup will find it.
    const ledger = JSON.parse((await annotationsOf(teamA, 'streamer'))[SYNC_STATE]!);
    assert.ok(ledger.paths.length >= 5, `the first batch is recorded (${ledger.paths.length} paths)`);
    for (const p of ledger.paths) assert.ok(await readOrUndefined(admin, p.path.replace(`secret/data/`, 'secret/metadata/')), `${p.path} is in Vault`);
    for (const name of ['hoarder', 'streamer']) await attacker.apps.deleteNamespacedDeployment({ name, namespace: teamA });
    await gone(teamA, 'streamer');
    for (const p of ledger.paths) assert.equal(await readOrUndefined(admin, p.path.replace(`secret/data/`, 'secret/metadata/')), undefined, `${p.path} cleaned up`);
    await Promise.all(names.map((name) => kube.core.deleteNamespacedSecret({ name, namespace: teamA })));
  });

  it('reconcile: 600h does not become a 1 ms loop: it is clamped to 24h with a warning', async () => {
    await kube.core.createNamespacedSecret({ namespace: teamA, body: { metadata: { name: 'slow-src' }, stringData: { k: 'v' } } });
    await attacker.apps.createNamespacedDeployment({
      namespace: teamA,
      body: deployment('slow', { 'vault-sync.io/path': `secret/data/${teamA}/slow`, 'vault-sync.io/secrets': '[{"name":"slow-src"}]', 'vault-sync.io/reconcile': '600h' }),
    });
    await waitFor(async () => (await annotationsOf(teamA, 'slow'))['vault-sync.io/status'] === 'Synced', { what: 'synced', proc: ctrl });
    // Every look at a resource counts in reconcile_total, synced or skipped (the old loop's runs were skips).
    // It is per kind, not per resource: nothing else here is due in these 5 s.
    const before = await deploymentReconciles();
    await sleep(5000);
    const runs = (await deploymentReconciles()) - before;
    assert.ok(runs <= 3, `${runs} Deployment reconciles in 5 s`);
    assert.doesNotMatch(ctrl.logs(), /TimeoutOverflowWarning/);
  });

  it('the status listener lists no resources to an anonymous caller, and only its own namespace to the attacker', async () => {
    await kube.core.createNamespacedSecret({ namespace: teamB, body: { metadata: { name: 'b-src' }, stringData: { k: 'v' } } });
    await kube.apps.createNamespacedDeployment({
      namespace: teamB,
      body: deployment('b-app', { 'vault-sync.io/path': `secret/data/${teamB}/b-app`, 'vault-sync.io/secrets': '[{"name":"b-src"}]' }),
    });
    await waitFor(async () => (await annotationsOf(teamB, 'b-app'))['vault-sync.io/status'] === 'Synced', { what: 'team-b synced', proc: ctrl });
    const state = async (headers: Record<string, string> = {}) => (await (await fetch(`${statusUrl}/state`, { headers })).json()) as { resources: { namespace: string }[] };
    assert.deepEqual((await state()).resources, [], 'anonymous: controller-level state only');
    const mine = await state({ 'x-vault-sync-authorization': `Bearer ${attacker.token}` });
    assert.ok(mine.resources.length > 0 && mine.resources.every((r) => r.namespace === teamA), JSON.stringify(mine.resources.map((r) => r.namespace)));
    const asAdmin = (await (await fetch(`${ctrl.metricsUrl}/state`, { headers: { Authorization: `Bearer ${attacker.token}` } })).status);
    assert.equal(asAdmin, 403, 'the main /state still needs its own permission');
  });

  it('content tags are keyed: metadata readers cannot confirm a guessed value; adopt needs the operator\'s allowlist', async () => {
    const meta = await readOrUndefined(admin, `secret/metadata/${teamA}/neighbour`);
    const guess = buildPayload([['k', { value: 'neighbour-value', base64: false }]]).hash;
    await waitFor(async () => (await readOrUndefined(admin, `secret/metadata/${teamA}/neighbour`))?.custom_metadata?.['content-hash'] !== undefined, { what: 'marker written' });
    assert.notEqual((await readOrUndefined(admin, `secret/metadata/${teamA}/neighbour`)).custom_metadata['content-hash'], guess);
    assert.ok(meta);
    await admin.write(`secret/data/${teamA}/by-hand`, { data: { keep: 'me' } });
    await attacker.apps.createNamespacedDeployment({
      namespace: teamA,
      body: deployment('adopter', { 'vault-sync.io/path': `secret/data/${teamA}/by-hand`, 'vault-sync.io/secrets': '[{"name":"a-src"}]', 'vault-sync.io/adopt': 'true' }),
    });
    await processed(teamA, 'adopter', 'adopter refused');
    assert.match((await annotationsOf(teamA, 'adopter'))['vault-sync.io/message']!, /OwnershipConflict|belongs to someone else/);
    assert.deepEqual(await baoKvGet('secret', `${teamA}/by-hand`), { keep: 'me' });
  });

  it('a Secret name cannot walk apiserver paths into another namespace, and the refusal reveals nothing', async () => {
    const walker = (name: string, target: string) => attacker.apps.createNamespacedDeployment({
      namespace: teamA,
      body: deployment(name, { 'vault-sync.io/path': `secret/data/${teamA}/${name}` }, { volumes: [{ name: 'v', secret: { secretName: target } }] }),
    });
    await walker('walker-real', `../../${teamB}/secrets/b-creds`);
    await walker('walker-none', `../../${teamB}/secrets/nope`);
    await processed(teamA, 'walker-real', 'walker refused');
    await processed(teamA, 'walker-none', 'walker refused');
    const msg = async (name: string) => (await annotationsOf(teamA, name))['vault-sync.io/message']!.replace(name, 'N').replace(/b-creds|nope/, 'X');
    assert.match(await msg('walker-real'), /is not a valid Secret name/);
    assert.equal(await msg('walker-real'), await msg('walker-none'));
    assert.equal(await baoKvGet('secret', `${teamA}/walker-real/b-creds`), undefined);
    assert.doesNotMatch(ctrl.logs(), /team-b-kube-secret/);
  });

  it('a 60k-deep JSON ledger does not break /state for anyone, from the moment it appears and while it stays', async () => {
    const deep = `{"v":2,"paths":[{"path":"secret/x","extra":${'['.repeat(60_000)}1${']'.repeat(60_000)}}]}`;
    const asAttacker = { headers: { 'x-vault-sync-authorization': `Bearer ${attacker.token}` } };
    // Every answer from before the ledger appears until 3 s after: a controller that cleans the
    // ledger up quickly must not get away with breaking /state until then.
    const answers: string[] = [];
    let polling = true;
    const poller = (async () => {
      while (polling) {
        try {
          const res = await fetch(`${statusUrl}/state`, asAttacker);
          const text = await res.text();
          let wellFormed = false;
          try {
            wellFormed = Array.isArray((JSON.parse(text) as { resources?: unknown }).resources);
          } catch { /* not JSON: reported below */ }
          answers.push(res.status === 200 && wellFormed ? 'ok' : `${res.status} ${text.slice(0, 80)}`);
        } catch (err) {
          answers.push(`no answer: ${err instanceof Error ? err.message : String(err)}`);
        }
        await sleep(50);
      }
    })();
    const heldPath = `/apis/apps/v1/namespaces/${teamA}/deployments/deep-held`;
    try {
      await attacker.apps.createNamespacedDeployment({ namespace: teamA, body: deployment('deep', { [SYNC_STATE]: deep }) });
      // The attacker can also keep the ledger in the cache for as long as it likes: its own finalizer
      // holds the deleted Deployment, and the controller has no finalizer there to act on.
      await attacker.apps.createNamespacedDeployment({ namespace: teamA, body: deployment('deep-held', {}, {}, ['example.com/hold']) });
      await attacker.apps.deleteNamespacedDeployment({ name: 'deep-held', namespace: teamA });
      await mergePatch(attacker.kc, heldPath, { metadata: { annotations: { [SYNC_STATE]: deep } } });
      await sleep(3000);
    } finally {
      polling = false;
      await poller;
    }
    const broken = answers.filter((a) => a !== 'ok');
    assert.equal(broken.length, 0, `${broken.length} of ${answers.length} answers of /state broken, first: ${broken[0]}`);
    const listed = ((await (await fetch(`${statusUrl}/state`, asAttacker)).json()) as { resources: { name: string }[] }).resources.map((r) => r.name);
    assert.ok(listed.includes('deep-held'), `the held deep ledger was in the cache all along: ${listed.join(', ')}`);
    await mergePatch(attacker.kc, heldPath, { metadata: { finalizers: null } });
    await gone(teamA, 'deep-held');
  });
});
