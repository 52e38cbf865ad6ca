// The security review's findings on the controller's own surface, as
// regression tests against the real apiserver and OpenBao, through the real
// controller process:
//   - random tokens on the metrics port: the auth caches stay bounded and at
//     most 8 TokenReviews (and, for an authenticated caller, 8
//     SubjectAccessReviews) are in flight at once. The controller reaches the
//     apiserver through a TCP forwarder that can slow its answers down (a slow
//     link), so reviews stay in flight long enough to count; the apiserver's
//     own request counter says how many arrived;
//   - a Vault node answering 307 does not get the token sent elsewhere;
//   - kubectl's last-applied-configuration annotation, which holds an applied
//     Secret's data in clear, reaches no /state, log or Event.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EventsV1Api } from '@kubernetes/client-node';
import { forward, type Forwarder } from '../../../tools/testenv/forward.ts';
import { freePorts } from '../../../tools/testenv/ports.ts';
import { startController, stopAllControllers, waitFor, type ControllerProcess } from '../support/controller.ts';
import { testEnv } from '../support/env.ts';
import { allowUrls, apiserverRequests, createNamespace, deploymentAnnotations, kubeClients, serviceAccountToken, type KubeClients } from '../support/kube.ts';
import { baoKvGet, canI, deployment, limitedTenant, type Tenant } from '../support/tenant.ts';

/** How long the slow link holds the apiserver's answers during a flood. */
const SLOW_MS = 2000;
const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';

/** An HTTP server on a random loopback port. */
async function serve(handler: Parameters<typeof createServer>[1]): Promise<{ server: Server; url: string }> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

describe('adversarial: the controller\'s own surface (metrics port, Vault redirects, kubectl\'s annotation)', function () {
  this.timeout(180_000);
  let kube: KubeClients;
  let ns: string;
  let link: Forwarder;
  let ctrl: ControllerProcess;
  let statusUrl: string;
  let scraper: string;
  const servers: Server[] = [];

  const reviews = (resource: 'tokenreviews' | 'subjectaccessreviews') => apiserverRequests(kube.kc, resource);
  /** Sends every request at once; resolves with each status and how long it took. */
  const flood = (urls: string[], tokens: string[]) => Promise.all(urls.map(async (url, i) => {
    const started = Date.now();
    const res = await fetch(url, { headers: { Authorization: `Bearer ${tokens[i]}` } });
    await res.body?.cancel();
    return { status: res.status, ms: Date.now() - started };
  }));

  before(async () => {
    kube = kubeClients();
    ns = await createNamespace(kube.core, 'surface');
    // A scraper as the chart's metrics-reader ClusterRole makes one, and nothing else.
    await kube.core.createNamespacedServiceAccount({ namespace: ns, body: { metadata: { name: 'scraper' } } });
    await allowUrls(kube.rbac, ns, 'scraper', ['/metrics', '/state', '/history']);
    scraper = await serviceAccountToken(kube.core, ns, 'scraper');

    // The controller's link to the apiserver goes through a forwarder the test can slow down.
    const apiserver = new URL(testEnv().kubeServer);
    link = await forward({ host: '127.0.0.1', port: 0 }, { host: apiserver.hostname, port: Number(apiserver.port) }, { slowLink: true });
    const kubeconfig = JSON.parse(readFileSync(testEnv().kubeconfig, 'utf8'));
    kubeconfig.clusters[0].cluster.server = `https://127.0.0.1:${(link.listening as { port: number }).port}`;
    const kubeconfigFile = join(mkdtempSync(join(tmpdir(), 'vso-slow-link-')), 'kubeconfig');
    writeFileSync(kubeconfigFile, JSON.stringify(kubeconfig), { mode: 0o600 });

    const [statusPort] = await freePorts(1);
    statusUrl = `http://127.0.0.1:${statusPort}`;
    ctrl = await startController({
      args: [
        `--kubeconfig=${kubeconfigFile}`, '--vault-auth-method=token', `--vault-addr=${testEnv().vaultAddr}`, `--namespaces=${ns}`,
        `--path-policy=secret/{namespace}/*`, '--metrics-auth=true', `--status-bind-address=127.0.0.1:${statusPort}`,
      ],
      env: { VAULT_TOKEN: testEnv().vaultToken },
    });
  });
  after(async () => {
    await stopAllControllers();
    await link?.close();
    for (const s of servers) s.close();
  });

  it('a flood of random tokens: at most 8 TokenReviews reach the apiserver at once, the rest are refused at once, and a refusal is not remembered', async () => {
    const before = await reviews('tokenreviews');
    link.setReplyDelay(SLOW_MS);
    // 100 callers at once, the last one a real scraper caught in the flood.
    const tokens = [...Array.from({ length: 99 }, () => randomBytes(24).toString('base64url')), scraper];
    let answers: { status: number; ms: number }[];
    try {
      answers = await flood(tokens.map(() => `${ctrl.metricsUrl}/metrics`), tokens);
    } finally {
      link.setReplyDelay(0);
    }
    const sent = (await reviews('tokenreviews')) - before;
    assert.ok(sent >= 1 && sent <= 8, `${sent} TokenReviews reached the apiserver for 100 tokens sent at once (at most 8 may be in flight)`);
    assert.ok(answers.slice(0, 99).every((a) => a.status === 401), `every random token is refused: ${JSON.stringify(answers.map((a) => a.status))}`);
    const fast = answers.filter((a) => a.ms < SLOW_MS).length;
    assert.ok(fast >= 100 - sent, `${fast} of 100 callers were answered before the slow link returned a review: the refused were not queued`);
    // The scraper, most likely refused under load (unsent), is let in afterwards: a refusal is not cached as a denial.
    const res = await fetch(`${ctrl.metricsUrl}/metrics`, { headers: { Authorization: `Bearer ${scraper}` } });
    assert.equal(res.status, 200, 'the scraper gets in once the flood is over');
    await res.body?.cancel();
  });

  it('the token cache holds 1,000 tokens: the 1,001st evicts the oldest, which then costs a TokenReview again', async () => {
    const tokens = Array.from({ length: 1001 }, () => randomBytes(24).toString('base64url'));
    const metricsOf = (ts: string[]) => flood(ts.map(() => `${ctrl.metricsUrl}/metrics`), ts);
    // The first alone, so that it is the oldest entry (reviews sent together are cached in the order they are answered);
    // then eight at a time, so that none is refused by the in-flight limit: each one is reviewed and cached (denied, 30 s).
    await metricsOf([tokens[0]!]);
    for (let i = 1; i < 1000; i += 8) await metricsOf(tokens.slice(i, Math.min(i + 8, 1000)));
    const filled = await reviews('tokenreviews');
    await metricsOf([tokens[0]!]);
    assert.equal((await reviews('tokenreviews')) - filled, 0, 'all 1,000 fit: the first is still cached');
    await metricsOf([tokens[1000]!]);
    await metricsOf([tokens[0]!]);
    assert.equal((await reviews('tokenreviews')) - filled, 2, 'the 1,001st token pushed the first out: it was reviewed again');
  });

  it('an authenticated caller asking /history about many namespaces at once: at most 8 SubjectAccessReviews reach the apiserver', async () => {
    const history = (namespace: string) => `${ctrl.metricsUrl}/history?kind=Deployment&namespace=${namespace}&name=web`;
    // Warm the caches: the scraper's TokenReview and its "get /history" decision.
    const warm = await fetch(history(ns), { headers: { Authorization: `Bearer ${scraper}` } });
    assert.equal(warm.status, 403, 'the scraper may get /history but not list Deployments here');
    await warm.body?.cancel();
    const before = await reviews('subjectaccessreviews');
    link.setReplyDelay(SLOW_MS);
    let answers: { status: number; ms: number }[];
    try {
      const namespaces = Array.from({ length: 60 }, (_, i) => `probe-${i}-${randomBytes(3).toString('hex')}`);
      answers = await flood(namespaces.map(history), namespaces.map(() => scraper));
    } finally {
      link.setReplyDelay(0);
    }
    const sent = (await reviews('subjectaccessreviews')) - before;
    assert.ok(answers.every((a) => a.status === 403), JSON.stringify(answers.map((a) => a.status)));
    assert.ok(sent >= 1 && sent <= 8, `${sent} SubjectAccessReviews reached the apiserver for 60 namespaces asked at once (at most 8 may be in flight)`);
  });

  it('kubectl\'s last-applied-configuration (an applied Secret\'s data in clear) reaches no /state, log or Event', async () => {
    const canary = `LAST-APPLIED-CANARY-${randomBytes(6).toString('hex')}`;
    // What `kubectl apply -f secret.yaml` leaves on the object: the whole manifest, data included.
    const applied = (name: string, annotations: Record<string, string>) => ({
      metadata: { name, annotations: { ...annotations, [LAST_APPLIED]: JSON.stringify({ apiVersion: 'v1', kind: 'Secret', metadata: { name }, stringData: { password: canary } }) } },
      stringData: { password: 'the-synced-value' },
    });
    await kube.core.createNamespacedSecret({ namespace: ns, body: applied('applied-secret', { 'vault-sync.io/path': `secret/data/${ns}/applied-secret` }) });
    await kube.core.createNamespacedSecret({ namespace: ns, body: applied('applied-ref', {}) });
    // A team member who may edit Deployments and read Events, but not Secrets.
    const viewer: Tenant = await limitedTenant(kube, ns, 'viewer', [
      { apiGroups: ['apps'], resources: ['deployments'], verbs: ['*'] },
      { apiGroups: ['events.k8s.io', ''], resources: ['events'], verbs: ['get', 'list'] },
    ]);
    assert.equal(await canI(viewer, 'get', 'secrets'), false);
    await viewer.apps.createNamespacedDeployment({
      namespace: ns,
      body: deployment('applied-app', { 'vault-sync.io/path': `secret/data/${ns}/applied-app`, [LAST_APPLIED]: `{"kind":"Deployment","note":"${canary}"}` }, {
        volumes: [{ name: 'v', secret: { secretName: 'applied-ref' } }],
      }),
    });
    await waitFor(async () => (await baoKvGet('secret', `${ns}/applied-secret`))?.password === 'the-synced-value'
      && (await baoKvGet('secret', `${ns}/applied-app/applied-ref`))?.password === 'the-synced-value', { what: 'both synced', proc: ctrl });

    // Someone who may read /state and list both kinds here (a namespace admin with the metrics-reader role).
    const admin = await limitedTenant(kube, ns, 'ns-admin', [{ apiGroups: ['', 'apps'], resources: ['secrets', 'deployments'], verbs: ['list'] }]);
    await allowUrls(kube.rbac, ns, 'ns-admin', ['/state']);
    const state = await (await fetch(`${ctrl.metricsUrl}/state`, { headers: { Authorization: `Bearer ${admin.token}` } })).text();
    const viewersState = await (await fetch(`${statusUrl}/state`, { headers: { 'x-vault-sync-authorization': `Bearer ${viewer.token}` } })).text();
    const events = (await viewer.kc.makeApiClient(EventsV1Api).listNamespacedEvent({ namespace: ns })).items;
    assert.match(state, /applied-secret/, '/state lists the Secret-mode resource to its namespace admin');
    assert.match(viewersState, /applied-app/, 'and the Deployment to the viewer');
    assert.ok(events.some((e) => e.regarding?.name === 'applied-app'), 'the controller wrote Events the viewer can read');
    for (const [where, text] of [['/state', state], ['status port /state', viewersState], ['Events', JSON.stringify(events)], ['log', ctrl.logs()]] as const) {
      assert.ok(!text.includes(canary), `${where} carries the applied data: ${text.slice(Math.max(0, text.indexOf(canary) - 300), text.indexOf(canary) + 40)}`);
      assert.ok(!text.includes('last-applied-configuration'), `${where} carries kubectl's annotation`);
    }
  });

  it('a Vault node that answers 307 never gets the token sent to the address it names', async () => {
    const redirectNs = await createNamespace(kube.core, 'redirect');
    const vaultToken = testEnv().vaultToken;
    // Where the redirect points: it records whatever arrives.
    const elsewhere: IncomingHttpHeaders[] = [];
    const target = await serve((req, res) => {
      elsewhere.push(req.headers);
      res.writeHead(200, { 'Content-Type': 'application/json' }).end('{}');
    });
    // The configured Vault: passes everything on to the real OpenBao, except this namespace's
    // secrets, which it redirects (as a standby or a tampered proxy might).
    const upstream = new URL(testEnv().vaultAddr);
    const redirected: string[] = [];
    const standby = await serve((req, res) => {
      if (/^\/v1\/secret\/(data|metadata)\//.test(req.url ?? '') && req.url!.includes(`/${redirectNs}/`)) {
        redirected.push(`${req.method} ${req.url}`);
        res.writeHead(307, { Location: `${target.url}${req.url}` }).end();
        return;
      }
      const out = request({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers }, (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      });
      out.on('error', () => res.destroy());
      req.pipe(out);
    });
    servers.push(target.server, standby.server);
    const proc = await startController({
      args: ['--vault-auth-method=token', `--vault-addr=${standby.url}`, `--namespaces=${redirectNs}`, '--metrics-auth=false'],
      env: { VAULT_TOKEN: vaultToken },
    });
    await kube.core.createNamespacedSecret({ namespace: redirectNs, body: { metadata: { name: 'db' }, stringData: { password: 'redirect-me' } } });
    await kube.apps.createNamespacedDeployment({
      namespace: redirectNs,
      body: deployment('web', { 'vault-sync.io/path': `secret/data/${redirectNs}/web` }, { volumes: [{ name: 'v', secret: { secretName: 'db' } }] }),
    });
    const annotations = () => deploymentAnnotations(kube, redirectNs, 'web');
    const message = async () => (await annotations())['vault-sync.io/message'] ?? '';
    await waitFor(async () => redirected.length > 0 && (await annotations())['vault-sync.io/status'] !== undefined, { what: 'the write redirected, and an outcome', proc, timeoutMs: 60_000 });
    assert.deepEqual(elsewhere, [], 'the redirect target saw no request, so no X-Vault-Token');
    assert.match(await message(), /a redirect, not followed/);
    assert.equal(await baoKvGet('secret', `${redirectNs}/web/db`), undefined, 'and nothing was written');
    assert.ok(!proc.logs().includes(vaultToken) && !(await message()).includes(vaultToken), 'the token is in no log or message');
  });
});
