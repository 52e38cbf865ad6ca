// The chart's defaults, as the security review attacked them (medium
// findings 5 and 6), rendered by the real helm and checked against the real
// apiserver where it decides:
//   - the token the controller hands Vault at login is one the apiserver
//     refuses (its own audience), so a Vault, or anyone reading its traffic,
//     cannot use it to read Secrets; the pod's API token, which the chart's
//     RBAC lets list every Secret, never goes there;
//   - Vault is addressed over https;
//   - the unauthenticated status port admits no source until one is listed.
import assert from 'node:assert/strict';
import { parseConfig } from '../../../controller/config.ts';
import { KubeHttp, KubeHttpError } from '../../../shared/kube/http.ts';
import { kubeClients, serviceAccountToken, uniqueName } from '../support/kube.ts';
import { bearerKubeConfig } from '../support/tenant.ts';
import { create, deployTools, Discovery, ensureNamespace, helmTemplate, objectName, type KubeObject } from '../deploy/render.ts';

/** Where the kubelet mounts the pod's API token (automountServiceAccountToken). */
const API_TOKEN_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';
const STATUS_PORT = 8082;

describe('adversarial: the Helm chart\'s defaults', function () {
  this.timeout(120_000);
  const release = uniqueName('vso');
  const ns = uniqueName('vso-chart');
  let objects: KubeObject[];
  let pod: any;
  let container: any;

  before(function () {
    this.timeout(900_000); // a cold build of helm, once per machine (tools/bootstrap does it ahead)
    deployTools();
    objects = helmTemplate({ release, namespace: ns });
    pod = objects.find((o) => o.kind === 'Deployment')!.spec.template.spec;
    container = pod.containers[0];
  });

  it('the token sent to Vault at login is refused by the apiserver, while the pod\'s API token could list every Secret', async () => {
    const config = parseConfig(container.args, {});
    assert.equal(config.vault.auth.method, 'kubernetes');
    const tokenFile = (config.vault.auth as { tokenFile: string }).tokenFile;
    // Which token that file holds: a projected one with its audience, or the pod's API token.
    const mount = (container.volumeMounts ?? []).find((m: any) => tokenFile.startsWith(`${m.mountPath}/`));
    const source = pod.volumes?.find((v: any) => v.name === mount?.name)?.projected?.sources
      ?.find((s: any) => s.serviceAccountToken && `${mount.mountPath}/${s.serviceAccountToken.path}` === tokenFile)?.serviceAccountToken;
    assert.ok(source || tokenFile.startsWith(`${API_TOKEN_DIR}/`), `${tokenFile} is neither a projected token nor the API token`);

    // The chart's ServiceAccount and its cluster-wide watch RBAC, for real.
    const kube = kubeClients();
    const admin = new KubeHttp(kube.kc);
    const discovery = new Discovery(admin);
    await ensureNamespace(admin, ns);
    const sa = objects.find((o) => o.kind === 'ServiceAccount')!;
    for (const o of objects.filter((x) => x === sa || (['ClusterRole', 'ClusterRoleBinding'].includes(x.kind) && x.metadata.name === sa.metadata.name))) {
      await create(admin, discovery, o, { dryRun: false });
    }
    /** The status code of listing every Secret with `token`. */
    const listSecrets = async (token: string) => {
      const http = new KubeHttp(bearerKubeConfig(kube.kc, token));
      try {
        await http.request('GET', '/api/v1/secrets', { query: { limit: 1 } });
        return 200;
      } catch (err) {
        if (err instanceof KubeHttpError) return err.status;
        throw err;
      } finally {
        http.close();
      }
    };
    const apiToken = await serviceAccountToken(kube.core, ns, sa.metadata.name);
    assert.equal(await listSecrets(apiToken), 200, `the pod's API token lists every Secret (${objectName(sa)} with the chart's RBAC)`);
    const vaultToken = await serviceAccountToken(kube.core, ns, sa.metadata.name, { audiences: source?.audience ? [source.audience] : [] });
    assert.equal(await listSecrets(vaultToken), 401, `the token the controller sends Vault (${tokenFile}, audience ${source?.audience ?? 'the apiserver\'s own'}) is refused by the apiserver`);
    assert.equal(source?.audience, 'vault', 'the audience setup.sh binds the Vault role to by default');
  });

  it('Vault is addressed over https', () => {
    const addr = parseConfig(container.args, {}).vault.addr;
    assert.match(addr, /^https:\/\//, `the default --vault-addr is ${addr}`);
  });

  it('the unauthenticated status port is on, and no source may reach it until one is listed', () => {
    assert.ok(container.args.includes(`--status-bind-address=:${STATUS_PORT}`), 'the status listener is on by default');
    const policy = objects.find((o) => o.kind === 'NetworkPolicy');
    assert.ok(policy, 'the chart ships a NetworkPolicy by default');
    const portOf = (p: any) => (p.port === 'status' ? STATUS_PORT : p.port);
    // A rule admits the status port when it names no ports or names that one; with no `from` it admits every source.
    const admitting = (policy.spec.ingress ?? []).filter((rule: any) => !rule.ports?.length || rule.ports.some((p: any) => portOf(p) === STATUS_PORT));
    const open = admitting.filter((rule: any) => !rule.from?.length);
    assert.deepEqual(open, [], 'an ingress rule opens the status port to every pod');
    assert.deepEqual(admitting, [], 'no source is listed by default');
  });
});
