// A tenant as a security review sees one: a ServiceAccount whose Role allows
// only what it is given in its own namespace, talking to the real apiserver
// with its own token (real RBAC decides every call), plus the real `bao`
// CLI to look at Vault from outside.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { AppsV1Api, AuthorizationV1Api, CoreV1Api, KubeConfig, RbacAuthorizationV1Api, type V1Deployment, type V1PolicyRule } from '@kubernetes/client-node';
import { requireBinaries } from '../../../tools/testenv/binaries.ts';
import { testEnv } from './env.ts';
import { serviceAccountToken, type KubeClients } from './kube.ts';

export interface Tenant extends KubeClients {
  namespace: string;
  token: string;
  authz: AuthorizationV1Api;
}

/**
 * Creates ServiceAccount `name` in `namespace` bound to a Role with `rules` there, and clients that act as it,
 * on the cluster `admin` talks to (the run's environment, or another one a test started).
 */
export async function limitedTenant(admin: KubeClients, namespace: string, name: string, rules: V1PolicyRule[]): Promise<Tenant> {
  await admin.core.createNamespacedServiceAccount({ namespace, body: { metadata: { name } } });
  await admin.rbac.createNamespacedRole({ namespace, body: { metadata: { name }, rules } });
  await admin.rbac.createNamespacedRoleBinding({
    namespace,
    body: { metadata: { name }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name }, subjects: [{ kind: 'ServiceAccount', name, namespace }] },
  });
  const token = await serviceAccountToken(admin.core, namespace, name);
  const kc = bearerKubeConfig(admin.kc, token);
  return {
    namespace, token, kc,
    core: kc.makeApiClient(CoreV1Api), apps: kc.makeApiClient(AppsV1Api), rbac: kc.makeApiClient(RbacAuthorizationV1Api),
    authz: kc.makeApiClient(AuthorizationV1Api),
  };
}

/** A kubeconfig for the cluster of `admin` that authenticates with `token` only. */
export function bearerKubeConfig(admin: KubeConfig, token: string): KubeConfig {
  const cluster = admin.getCurrentCluster()!;
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'test', server: cluster.server, caData: cluster.caData }],
    users: [{ name: 'bearer', token }],
    contexts: [{ name: 'bearer', cluster: 'test', user: 'bearer' }],
    currentContext: 'bearer',
  });
  return kc;
}

/** `kubectl auth can-i <verb> <resource> -n <namespace>` as the tenant. */
export async function canI(t: Tenant, verb: string, resource: string, namespace = t.namespace, group = ''): Promise<boolean> {
  const review = await t.authz.createSelfSubjectAccessReview({ body: { spec: { resourceAttributes: { namespace, verb, resource, group } } } });
  return review.status?.allowed === true;
}

const run = promisify(execFile);

/** `bao kv get -format=json -mount=<mount> <path>` with the admin token: the data, or undefined when there is none. */
export async function baoKvGet(mount: string, path: string): Promise<Record<string, string> | undefined> {
  const env = testEnv();
  try {
    const { stdout } = await run(requireBinaries().bao, ['kv', 'get', '-format=json', `-mount=${mount}`, path], {
      env: { PATH: process.env.PATH, HOME: process.env.HOME, VAULT_ADDR: env.vaultAddr, VAULT_TOKEN: env.vaultToken },
    });
    const body = JSON.parse(stdout);
    return body.data?.data ?? body.data;
  } catch (err) {
    if ((err as { code?: number }).code === 2) return undefined; // bao: "No value found"
    throw err;
  }
}

/** A Deployment (no pods ever run here) with these annotations, pod spec fields and finalizers. */
export function deployment(name: string, annotations: Record<string, string>, podSpec: Record<string, unknown> = {}, finalizers?: string[]): V1Deployment {
  return {
    metadata: { name, annotations, ...(finalizers ? { finalizers } : {}) },
    spec: {
      selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'c', image: 'busybox' }], ...podSpec } },
    },
  };
}
