// deploy/: every manifest the kustomize trees and the Helm chart render goes
// to the real test apiserver with server-side dry-run (schema, defaulting,
// admission, PodSecurity, RBAC escalation checks), and the parts that must
// agree with the controller's code are checked against it: every flag is a
// value, the rendered flags parse, every metric has a dashboard panel, every
// alert and panel query is valid PromQL on metrics and labels that exist.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { Registry, collectDefaultMetrics } from 'prom-client';
import { FLAGS, parseConfig } from '../../../controller/config.ts';
import { decideTuning } from '../../../controller/tuning.ts';
import { createControllerMetrics } from '../../../controller/metrics.ts';
import { createMetrics } from '../../../shared/metrics.ts';
import { KubeHttp } from '../../../shared/kube/http.ts';
import { repoRoot } from '../../../tools/testenv/binaries.ts';
import { testEnv } from '../support/env.ts';
import { adminKubeConfig, uniqueName } from '../support/kube.ts';
import {
  byKey, chartDir, checkPromql, deployTools, dryRunAll, dryRunPods, flagKey, helm, helmTemplate, helmTemplateText, installCrd, kustomizeBuild,
  kustomizeDir, monitoringCrds, objectName, type ApplyResult, type KubeObject,
} from './render.ts';

const valuesNamespaced = join(import.meta.dirname, 'values-namespaced.yaml');
/** Flags that make no sense in a Deployment's arguments. */
const NOT_VALUES = new Set(['help', 'version']);

function container(objects: KubeObject[]): any {
  const deployments = objects.filter((o) => o.kind === 'Deployment');
  assert.equal(deployments.length, 1, 'exactly one Deployment');
  return deployments[0]!.spec.template.spec.containers[0];
}

function assertNoWarnings(results: ApplyResult[]): void {
  const warned = results.filter((r) => r.warnings.length);
  assert.deepEqual(warned, [], 'the apiserver sent warnings (deprecated APIs, PodSecurity, ...)');
}

function assertRestricted(objects: KubeObject[]): void {
  for (const d of objects.filter((o) => o.kind === 'Deployment')) {
    const pod = d.spec.template.spec;
    assert.equal(pod.securityContext?.runAsNonRoot, true, `${objectName(d)}: pod runAsNonRoot`);
    assert.equal(pod.securityContext?.seccompProfile?.type, 'RuntimeDefault', `${objectName(d)}: pod seccomp`);
    for (const c of pod.containers) {
      const sc = c.securityContext ?? {};
      assert.equal(sc.runAsNonRoot, true, `${c.name}: runAsNonRoot`);
      assert.equal(sc.readOnlyRootFilesystem, true, `${c.name}: readOnlyRootFilesystem`);
      assert.equal(sc.allowPrivilegeEscalation, false, `${c.name}: allowPrivilegeEscalation`);
      assert.deepEqual(sc.capabilities?.drop, ['ALL'], `${c.name}: capabilities`);
      assert.equal(sc.seccompProfile?.type, 'RuntimeDefault', `${c.name}: seccomp`);
      assert.ok(!sc.capabilities?.add?.length, `${c.name}: no added capabilities`);
    }
  }
}

/** Every rule of every Role/ClusterRole, flattened to "apiGroup/resource:verb" strings. */
function grants(objects: KubeObject[], kind: 'Role' | 'ClusterRole', name?: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const o of objects.filter((x) => x.kind === kind && (!name || x.metadata.name === name))) {
    const list: string[] = [];
    for (const r of o.rules ?? []) {
      for (const v of r.verbs) {
        if (r.nonResourceURLs) for (const u of r.nonResourceURLs) list.push(`${u}:${v}`);
        else for (const g of r.apiGroups) for (const res of r.resources) list.push(`${g}/${res}:${v}${r.resourceNames ? `[${r.resourceNames.join(',')}]` : ''}`);
      }
    }
    out.set(objectName(o), list.sort());
  }
  return out;
}

const WATCH_GRANTS = [
  '/secrets:get', '/secrets:list', '/secrets:patch', '/secrets:watch',
  'apps/deployments:list', 'apps/deployments:patch', 'apps/deployments:watch',
  'events.k8s.io/events:create',
].sort();

describe('deploy/ manifests (server-side dry-run on the real apiserver)', function () {
  this.timeout(120_000);
  let http: KubeHttp;

  before(async function () {
    this.timeout(900_000); // a cold build of helm and kustomize, once per machine (tools/bootstrap does it ahead)
    const started = Date.now();
    deployTools();
    if (Date.now() - started > 5000) process.stderr.write(`      deploy tools ready in ${Date.now() - started} ms\n`);
    http = new KubeHttp(adminKubeConfig());
    for (const crd of monitoringCrds()) await installCrd(http, crd);
  });

  describe('kustomize', () => {
    it('base: every object passes dry-run; the Pod passes restricted PodSecurity', async () => {
      const objects = kustomizeBuild(join(kustomizeDir, 'base'));
      const kinds = objects.map((o) => o.kind).sort();
      assert.deepEqual(kinds, [
        'ClusterRole', 'ClusterRole', 'ClusterRole', 'ClusterRole', 'ClusterRoleBinding', 'ClusterRoleBinding', 'ClusterRoleBinding', 'Deployment', 'Namespace',
        'NetworkPolicy', 'PodDisruptionBudget', 'Role', 'Role', 'Role', 'Role', 'RoleBinding', 'RoleBinding', 'RoleBinding', 'Service', 'ServiceAccount',
        'ValidatingAdmissionPolicy', 'ValidatingAdmissionPolicyBinding',
      ]);
      assertNoWarnings(await dryRunAll(http, objects));
      assertNoWarnings(await dryRunPods(http, objects));
      assertRestricted(objects);
      assert.equal(byKey(objects).get('Namespace vault-sync-system')?.metadata.labels?.['pod-security.kubernetes.io/enforce'], 'restricted');
      assert.equal(container(objects).image, 'ghcr.io/vault-sync-io/vault-sync-operator:0.1.0');
    });

    it('overlays/monitoring: adds a ServiceMonitor and the PrometheusRule', async () => {
      const objects = kustomizeBuild(join(kustomizeDir, 'overlays', 'monitoring'));
      assert.ok(objects.some((o) => o.kind === 'ServiceMonitor'));
      assert.ok(objects.some((o) => o.kind === 'PrometheusRule'));
      assertNoWarnings(await dryRunAll(http, objects));
    });

    it('overlays/namespaced: Roles in the watched namespaces only, no cluster-wide Secret access', async () => {
      const objects = kustomizeBuild(join(kustomizeDir, 'overlays', 'namespaced'));
      assertNoWarnings(await dryRunAll(http, objects));
      assert.match(container(objects).args.join(' '), /--namespaces=team-a,team-b/);
      for (const [name, list] of grants(objects, 'ClusterRole')) {
        assert.ok(!list.some((g) => g.startsWith('/secrets') || g.startsWith('apps/')), `${name} must not grant Secrets or Deployments cluster-wide`);
      }
      assert.deepEqual(grants(objects, 'Role', 'vault-sync-operator'), new Map([
        ['Role team-a/vault-sync-operator', WATCH_GRANTS], ['Role team-b/vault-sync-operator', WATCH_GRANTS],
      ]));
    });
    it('the quickstart\'s overlay (docs/quickstart.md) works: a flag appended in an overlay wins', async () => {
      const doc = readFileSync(join(repoRoot, 'docs', 'quickstart.md'), 'utf8');
      const block = /```yaml\n# kustomization\.yaml\n([\s\S]*?)```/.exec(doc)?.[1];
      assert.ok(block, 'the kustomization.yaml example in docs/quickstart.md');
      const overlay = mkdtempSync(join(tmpdir(), 'vso-overlay-'));
      // kustomize takes relative paths only; point the example at this checkout's base.
      writeFileSync(join(overlay, 'kustomization.yaml'), block.replace(/- \S*deploy\/kustomize\/base.*$/m, `- ${relative(overlay, join(kustomizeDir, 'base'))}`));
      const objects = kustomizeBuild(overlay);
      assertNoWarnings(await dryRunAll(http, objects));
      const config = parseConfig(container(objects).args, { POD_NAMESPACE: 'vault-sync-system' });
      assert.equal(config.vault.addr, 'https://vault.example.com:8200');
    });
  });

  describe('helm', () => {
    it('lints clean (--strict)', () => {
      helm(['lint', '--strict', chartDir]);
    });

    it('default values: every object passes dry-run; the Pod passes restricted PodSecurity', async () => {
      const ns = uniqueName('vso-helm');
      const objects = helmTemplate({ namespace: ns });
      assert.deepEqual(objects.map((o) => o.kind).sort(), [
        'ClusterRole', 'ClusterRole', 'ClusterRole', 'ClusterRole', 'ClusterRoleBinding', 'ClusterRoleBinding', 'ClusterRoleBinding', 'Deployment',
        'NetworkPolicy', 'PodDisruptionBudget', 'Role', 'Role', 'Role', 'Role', 'RoleBinding', 'RoleBinding', 'RoleBinding', 'Service', 'ServiceAccount',
        'ValidatingAdmissionPolicy', 'ValidatingAdmissionPolicyBinding',
      ], 'no ServiceMonitor or PrometheusRule unless enabled');
      assertNoWarnings(await dryRunAll(http, objects));
      assertNoWarnings(await dryRunPods(http, objects));
      assertRestricted(objects);
      const c = container(objects);
      const d = objects.find((o) => o.kind === 'Deployment')!;
      assert.equal(d.spec.replicas, 2);
      assert.ok(c.args.includes('--leader-elect=true'));
      assert.ok(c.args.includes('--status-bind-address=:8082'));
      assert.deepEqual(c.resources, { requests: { cpu: '50m', memory: '128Mi' }, limits: { memory: '256Mi' } });
      assert.deepEqual(c.env[0], { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } });
      // The Service the VS Code extension looks for: vault-sync-operator, port "status".
      const svc = objects.find((o) => o.kind === 'Service')!;
      assert.equal(svc.metadata.name, 'vault-sync-operator');
      assert.deepEqual(svc.spec.ports.map((p: any) => `${p.name}:${p.port}`), ['metrics:8080', 'status:8082']);
      // Cluster-wide watch scope: one ClusterRole with exactly the watch rules.
      assert.deepEqual(grants(objects, 'ClusterRole', 'vault-sync-operator').get('ClusterRole vault-sync-operator'), WATCH_GRANTS);
      assert.deepEqual(grants(objects, 'Role', 'vault-sync-operator-ledger-key').get(`Role ${ns}/vault-sync-operator-ledger-key`), [
        '/secrets:create', '/secrets:get[vault-sync-operator-ledger-key]',
      ], 'the ledger key Secret only');
      assert.deepEqual(grants(objects, 'Role', 'vault-sync-operator-intents').get(`Role ${ns}/vault-sync-operator-intents`), [
        '/configmaps:create', '/configmaps:get[vault-sync-operator-intents]', '/configmaps:patch[vault-sync-operator-intents]',
      ], 'the intent journal ConfigMap only');
      assert.deepEqual(grants(objects, 'Role', 'vault-sync-operator-leader-election').get(`Role ${ns}/vault-sync-operator-leader-election`), [
        'coordination.k8s.io/leases:create', 'coordination.k8s.io/leases:get[vault-sync-operator.io]', 'coordination.k8s.io/leases:update[vault-sync-operator.io]',
      ]);
      assert.deepEqual(grants(objects, 'ClusterRole', 'vault-sync-operator-auth-delegator').get('ClusterRole vault-sync-operator-auth-delegator'), [
        'authentication.k8s.io/tokenreviews:create', 'authorization.k8s.io/subjectaccessreviews:create',
      ]);
    });

    it('non-default values (namespaced scope, resources, monitoring, egress): every object passes dry-run', async () => {
      const ns = uniqueName('vso-helm');
      const objects = helmTemplate({ release: 'vso', namespace: ns, valuesFiles: [valuesNamespaced] });
      assertNoWarnings(await dryRunAll(http, objects));
      assertNoWarnings(await dryRunPods(http, objects));
      assertRestricted(objects);
      const keys = [...byKey(objects).keys()];
      for (const kind of ['ServiceMonitor', 'PrometheusRule', 'NetworkPolicy', 'PodDisruptionBudget']) assert.ok(keys.includes(`${kind} ${ns}/vso-vault-sync-operator`), kind);
      // Namespaced watch scope: a Role + RoleBinding per watched namespace, nothing cluster-wide on Secrets or Deployments.
      assert.deepEqual(grants(objects, 'Role', 'vso-vault-sync-operator'), new Map([
        ['Role vso-deploy-team-a/vso-vault-sync-operator', WATCH_GRANTS], ['Role vso-deploy-team-b/vso-vault-sync-operator', WATCH_GRANTS],
      ]));
      for (const team of ['vso-deploy-team-a', 'vso-deploy-team-b']) {
        const binding = byKey(objects).get(`RoleBinding ${team}/vso-vault-sync-operator`)!;
        assert.deepEqual(binding.subjects, [{ kind: 'ServiceAccount', name: 'vso-vault-sync-operator', namespace: ns }]);
      }
      for (const [name, list] of grants(objects, 'ClusterRole')) {
        assert.ok(!list.some((g) => g.startsWith('/secrets') || g.startsWith('apps/')), `${name} must not grant Secrets or Deployments cluster-wide`);
      }
      const c = container(objects);
      const d = objects.find((o) => o.kind === 'Deployment')!;
      assert.equal(d.spec.replicas, 3);
      assert.deepEqual(c.resources, { requests: { cpu: '200m', memory: '384Mi' }, limits: { cpu: '1', memory: '512Mi' } });
      assert.equal(c.image, 'ghcr.io/vault-sync-io/vault-sync-operator@sha256:0000000000000000000000000000000000000000000000000000000000000000');
      for (const arg of ['--namespaces=vso-deploy-team-a,vso-deploy-team-b', '--service-account-token-file=/var/run/secrets/vault-sync-operator/token',
        '--vault-cacert=/etc/vault-sync-operator/vault-ca/ca.crt', '--cluster-name=prod', '--rate-limit=25', '--delete-mode=latest']) {
        assert.ok(c.args.includes(arg), `args include ${arg}: ${c.args.join(' ')}`);
      }
      const projected = d.spec.template.spec.volumes.find((v: any) => v.name === 'vault-token').projected.sources[0].serviceAccountToken;
      assert.deepEqual(projected, { path: 'token', audience: 'vault', expirationSeconds: 3600 });
      const np = byKey(objects).get(`NetworkPolicy ${ns}/vso-vault-sync-operator`)!;
      assert.deepEqual(np.spec.policyTypes, ['Ingress', 'Egress']);
      const rule = byKey(objects).get(`PrometheusRule ${ns}/vso-vault-sync-operator`)!;
      assert.ok(rule.spec.groups[0].rules.every((r: any) => r.labels.team === 'platform'));
    });

    it('helm install and uninstall work against the real apiserver (non-default values)', async () => {
      const ns = uniqueName('vso-install');
      const release = uniqueName('vso');
      const kubeconfig = testEnv().kubeconfig;
      // The CRDs are installed (before), so the ServiceMonitor and PrometheusRule go in too.
      const out = helm(['install', release, chartDir, '--namespace', ns, '--create-namespace', '--kubeconfig', kubeconfig, '--values', valuesNamespaced,
        '--set', `config.namespaces={${ns}}`]);
      assert.match(out, /STATUS: deployed/);
      const deployment: any = await http.request('GET', `/apis/apps/v1/namespaces/${ns}/deployments/${release}-vault-sync-operator`);
      assert.equal(deployment.spec.replicas, 3);
      assert.ok(await http.request('GET', `/apis/monitoring.coreos.com/v1/namespaces/${ns}/prometheusrules/${release}-vault-sync-operator`));
      helm(['uninstall', release, '--namespace', ns, '--kubeconfig', kubeconfig]);
      const gone = await http.request('GET', `/apis/rbac.authorization.k8s.io/v1/clusterroles/${release}-vault-sync-operator-auth-delegator`, { allow404: true });
      assert.equal(gone, undefined, 'uninstall removes the cluster-scoped objects');
    });

    it('tuning.create: the ConfigMap, a flag naming it, and read/watch on that ConfigMap only; the controller accepts its data', async () => {
      const ns = uniqueName('vso-tuning');
      const data = { 'rate-limit': 5, 'rate-limit-burst': 10, 'batch-size': 2, 'batch-delay': '200ms', 'max-concurrent-reconciles': 4 };
      const objects = helmTemplate({ release: 'vso', namespace: ns, values: { tuning: { create: true, data } } });
      assertNoWarnings(await dryRunAll(http, objects));
      const cm = byKey(objects).get(`ConfigMap ${ns}/vso-vault-sync-operator-tuning`)!;
      assert.deepEqual(cm.data, { 'batch-delay': '200ms', 'batch-size': '2', 'max-concurrent-reconciles': '4', 'rate-limit': '5', 'rate-limit-burst': '10' });
      const flags = { rateLimit: 10, rateLimitBurst: 20, batchSize: 5, batchDelayMs: 0, maxConcurrentReconciles: 16 };
      const decision = decideTuning(flags, flags, cm.data);
      assert.deepEqual(decision.problems, []);
      assert.deepEqual(decision.next, { rateLimit: 5, rateLimitBurst: 10, batchSize: 2, batchDelayMs: 200, maxConcurrentReconciles: 4 });
      assert.ok(container(objects).args.includes('--tuning-configmap=vso-vault-sync-operator-tuning'));
      assert.deepEqual(grants(objects, 'Role', 'vso-vault-sync-operator-tuning'), new Map([[`Role ${ns}/vso-vault-sync-operator-tuning`,
        ['/configmaps:get[vso-vault-sync-operator-tuning]', '/configmaps:list[vso-vault-sync-operator-tuning]', '/configmaps:watch[vso-vault-sync-operator-tuning]', 'events.k8s.io/events:create']]]));
      // A ConfigMap managed elsewhere: no ConfigMap from the chart, the grant in its namespace.
      const elsewhere = helmTemplate({ release: 'vso', namespace: ns, values: { config: { tuningConfigmap: 'ops/knobs' } } });
      assert.ok(!elsewhere.some((o) => o.kind === 'ConfigMap'));
      assert.deepEqual([...grants(elsewhere, 'Role', 'vso-vault-sync-operator-tuning').keys()], ['Role ops/vso-vault-sync-operator-tuning']);
      assert.ok(!helmTemplate({ namespace: ns }).some((o) => o.metadata.name.endsWith('-tuning')), 'nothing by default');
      assert.throws(() => helmTemplateText({ namespace: 'x', values: { tuning: { create: true, data: { 'rate-limt': 5 } } } }), /rate-limt|additional propert/i);
    });

    it('the schema refuses a misspelled value instead of ignoring it', () => {
      assert.throws(() => helmTemplateText({ namespace: 'x', values: { config: { vaultAdress: 'https://vault' } } }), /vaultAdress|additional propert/i);
      assert.throws(() => helmTemplateText({ namespace: 'x', values: { config: { deleteMode: 'some' } } }), /deleteMode|must be one of/i);
    });

    it('networkPolicy.egress without the apiserver addresses fails to render, with the fix', () => {
      assert.throws(() => helmTemplateText({ namespace: 'x', values: { networkPolicy: { egress: { enabled: true } } } }), /networkPolicy\.egress\.apiserver\.to/);
    });

    it('several replicas without leader election fail to render', () => {
      assert.throws(() => helmTemplateText({ namespace: 'x', values: { config: { leaderElect: false } } }), /needs config\.leaderElect=true/);
      helmTemplateText({ namespace: 'x', values: { replicaCount: 1, config: { leaderElect: false } } });
    });
  });

  describe('agreement with the controller', () => {
    it('every controller flag is a Helm value (config.<camelCase>) and in values.schema.json', () => {
      const values = helm(['show', 'values', chartDir]);
      const schema = JSON.parse(readFileSync(join(chartDir, 'values.schema.json'), 'utf8'));
      const flags = FLAGS.map((f) => f.name).filter((n) => !NOT_VALUES.has(n));
      for (const flag of flags) {
        assert.match(values, new RegExp(`^  ${flagKey(flag)}:`, 'm'), `values.yaml config.${flagKey(flag)} (--${flag})`);
      }
      assert.deepEqual(Object.keys(schema.properties.config.properties).sort(), flags.map(flagKey).sort(), 'schema config keys = controller flags');
    });

    it('setting every value renders every flag, and the controller accepts the result', () => {
      const sample: Record<string, unknown> = {
        vaultAddr: 'https://vault.example:8200', vaultAuthMethod: 'approle', vaultRole: 'r', vaultAuthPath: 'approle-x', vaultTokenFile: '/t/token',
        vaultApproleRoleId: 'role-id', vaultApproleSecretIdFile: '/t/secret-id', serviceAccountTokenFile: '/t/sa', vaultNamespace: 'team',
        vaultCacert: '/t/ca.pem', vaultTlsServerName: 'vault.example', vaultSkipVerify: true, vaultTimeout: '5s', clusterName: 'c1',
        kubeconfig: '/t/kubeconfig', kubeApiTimeout: '20s', gracefulShutdownTimeout: '5s', namespaces: 'a, b', metricsBindAddress: ':9090', healthProbeBindAddress: ':9091', statusBindAddress: ':9092',
        metricsAuth: false, leaderElect: false, leaderElectionNamespace: 'elsewhere', leaderElectionId: 'lease-x', leaderElectLeaseDuration: '20s',
        leaderElectRenewDeadline: '15s', leaderElectRetryPeriod: '3s', maxConcurrentReconciles: 16, rateLimit: 0.5, rateLimitBurst: 1000000,
        batchSize: 7, batchDelay: '200ms', rateLimitAdaptive: false, rateLimitGather: '1s', tuningConfigmap: 'ops/vso-tuning',
        requeueBaseDelay: '10ms', requeueMaxDelay: '10m', largeSecretThreshold: '2Mi', vaultMaxEntrySize: '20Mi',
        pathPolicy: 'secret/{namespace}/{name}, shared/{namespace}/*', adoptPolicy: 'always', deleteMode: 'latest', logLevel: 'warn',
        adoptNamespaces: ['team-a', 'team-b'], ledgerKeySecret: 'vso-system/key', intentJournal: 'vso-system/intents', maxSecretsPerResource: 20, maxBytesPerResource: '4Mi',
        secretReadBudget: '32Mi', minForcedWriteInterval: '2m',
      };
      const flags = FLAGS.map((f) => f.name).filter((n) => !NOT_VALUES.has(n));
      assert.deepEqual(Object.keys(sample).sort(), flags.map(flagKey).sort(), 'the sample sets every flag');
      const objects = helmTemplate({ namespace: 'x', values: { replicaCount: 1, config: sample } });
      const args: string[] = container(objects).args;
      for (const flag of flags) assert.equal(args.filter((a) => a.startsWith(`--${flag}=`)).length, 1, `--${flag} rendered once: ${args.join(' ')}`);
      assert.ok(args.includes('--rate-limit-burst=1000000'), 'large numbers without exponent');
      assert.ok(args.includes('--rate-limit=0.5'));
      assert.ok(args.includes('--namespaces=a,b'));
      const config = parseConfig(args, {});
      assert.equal(config.vault.addr, 'https://vault.example:8200');
      assert.deepEqual(config.namespaces, ['a', 'b']);
      assert.equal(config.rateLimitBurst, 1_000_000);
      assert.equal(config.adoptPolicy, 'always');
      assert.deepEqual(config.adoptNamespaces, ['team-a', 'team-b']);
      assert.equal(config.secretReadBudget, 32 * 1024 * 1024);
      assert.equal(config.maxEntryBytes, 20 * 1024 * 1024);
      assert.equal(config.batchDelayMs, 200);
      assert.equal(config.rateLimitAdaptive, false);
      assert.equal(config.rateLimitGatherMs, 1000);
      assert.equal(config.tuningConfigMap, 'ops/vso-tuning');
      assert.deepEqual(config.vault.auth, { method: 'approle', mount: 'approle-x', roleId: 'role-id', secretIdFile: '/t/secret-id' });
    });

    it('the default and non-default renders parse as controller configuration', () => {
      for (const objects of [helmTemplate({ namespace: 'x' }), helmTemplate({ namespace: 'x', valuesFiles: [valuesNamespaced] }), kustomizeBuild(join(kustomizeDir, 'base'))]) {
        const config = parseConfig(container(objects).args, { POD_NAMESPACE: 'x' });
        assert.equal(config.leaderElect, true);
        assert.equal(config.leaderElection.id, 'vault-sync-operator.io', 'the Go operator\'s Lease name');
      }
    });

    it('the kustomize base is the Helm chart with default values', () => {
      const helmObjects = byKey(helmTemplate({ namespace: 'vault-sync-system', values: { prometheusRule: { enabled: true }, serviceMonitor: { enabled: true } } }));
      const kustomize = byKey([...kustomizeBuild(join(kustomizeDir, 'overlays', 'monitoring'))]);
      const strip = (o: KubeObject) => {
        const { metadata, ...rest } = structuredClone(o);
        return { name: metadata.name, namespace: metadata.namespace, ...rest };
      };
      const onlyKustomize = [...kustomize.keys()].filter((k) => !helmObjects.has(k));
      const onlyHelm = [...helmObjects.keys()].filter((k) => !kustomize.has(k));
      assert.deepEqual(onlyKustomize, ['Namespace vault-sync-system']);
      assert.deepEqual(onlyHelm, []);
      for (const [key, k] of kustomize) {
        const h = helmObjects.get(key);
        if (!h) continue;
        if (k.kind === 'PrometheusRule') {
          // The kustomize rules select job="vault-sync-operator" in any namespace; Helm adds its release namespace.
          const helmRules = JSON.parse(JSON.stringify(h.spec).replaceAll(',namespace=\\"vault-sync-system\\"', ''));
          assert.deepEqual(k.spec, helmRules, key);
        } else if (k.kind === 'ServiceMonitor') {
          assert.deepEqual(k.spec.endpoints, h.spec.endpoints, key);
          assert.deepEqual(k.spec.selector, h.spec.selector, key);
        } else {
          assert.deepEqual(strip(k), strip(h), key);
        }
        for (const [label, value] of Object.entries(k.metadata.labels ?? {})) assert.equal(h.metadata.labels?.[label], value, `${key} label ${label}`);
      }
    });

    it('alert rules and dashboard queries are valid PromQL on metrics and labels the controller exports', () => {
      const registry = new Registry();
      createMetrics(registry);
      createControllerMetrics(registry);
      collectDefaultMetrics({ register: registry });
      const exported = new Map<string, { type: string; labels: string[] }>();
      for (const m of registry.getMetricsAsArray() as unknown as { name: string; type: string; labelNames?: string[] }[]) {
        exported.set(m.name, { type: String(m.type), labels: [...(m.labelNames ?? [])] });
      }
      const series = new Map<string, { metric: string; labels: string[] }>();
      for (const [name, info] of exported) {
        if (info.type === 'histogram') {
          series.set(`${name}_bucket`, { metric: name, labels: [...info.labels, 'le'] });
          series.set(`${name}_sum`, { metric: name, labels: info.labels });
          series.set(`${name}_count`, { metric: name, labels: info.labels });
        } else {
          series.set(name, { metric: name, labels: info.labels });
        }
      }
      // Labels Prometheus adds to every scraped series (prometheus-operator: job, namespace, pod, ...).
      const targetLabels = ['job', 'namespace', 'pod', 'instance', 'service', 'container', 'endpoint'];

      const dashboard = JSON.parse(readFileSync(join(repoRoot, 'deploy', 'grafana', 'vault-sync-operator.json'), 'utf8'));
      const panels: any[] = dashboard.panels.filter((p: any) => p.type !== 'row');
      const panelExprs = panels.flatMap((p) => p.targets.map((t: any) => ({ panel: p.title, expr: String(t.expr).replaceAll('$__rate_interval', '5m') })));
      const rules = helmTemplate({ namespace: 'x', values: { prometheusRule: { enabled: true } } }).find((o) => o.kind === 'PrometheusRule')!;
      const ruleExprs = rules.spec.groups.flatMap((g: any) => g.rules.map((r: any) => ({ panel: `alert ${r.alert}`, expr: String(r.expr) })));
      const all = [...panelExprs, ...ruleExprs];
      const checked = checkPromql(all.map((e) => e.expr));
      const used = new Set<string>();
      checked.forEach((r, i) => {
        const where = all[i]!.panel;
        assert.equal(r.error, undefined, `${where}: ${r.expr}: ${r.error}`);
        const allowed = new Set(targetLabels);
        for (const m of r.metrics) {
          const s = series.get(m);
          assert.ok(s, `${where}: ${m} is not a metric the controller exports`);
          used.add(s.metric);
          for (const l of s.labels) allowed.add(l);
        }
        for (const l of r.labels) assert.ok(allowed.has(l), `${where}: label "${l}" does not exist on ${r.metrics.join(', ')}`);
      });
      const missing = [...exported.keys()].filter((m) => !panelExprs.some((e) => checked[all.indexOf(e)]!.metrics.some((s) => series.get(s)?.metric === m)));
      assert.deepEqual(missing, [], 'metrics without a dashboard panel');
      // The alerts the issue asks for.
      const alerts = rules.spec.groups.flatMap((g: any) => g.rules.map((r: any) => r.alert));
      for (const a of ['VaultSyncOperatorSyncFailures', 'VaultSyncOperatorAuthFailures', 'VaultSyncOperatorRateLimitSaturated', 'VaultSyncOperatorLargeSecrets', 'VaultSyncOperatorNoLeader']) {
        assert.ok(alerts.includes(a), a);
      }
      // Every runbook link points at a section that exists.
      const troubleshooting = readFileSync(join(repoRoot, 'docs', 'troubleshooting.md'), 'utf8');
      const anchors = new Set([...troubleshooting.matchAll(/^#+ (.+)$/gm)].map((m) => m[1]!.toLowerCase().replace(/[^a-z0-9 -]/g, '').trim().replace(/ /g, '-')));
      for (const r of rules.spec.groups.flatMap((g: any) => g.rules)) {
        const anchor = String(r.annotations.runbook_url).split('#')[1]!;
        assert.ok(anchors.has(anchor), `${r.alert}: runbook anchor #${anchor} missing from docs/troubleshooting.md`);
      }
    });
  });
});
