// Kubernetes helpers for integration tests: clients for the test apiserver
// and a unique namespace per suite, so that one apiserver serves every test.
import { randomBytes } from 'node:crypto';
import { AppsV1Api, CoreV1Api, KubeConfig, RbacAuthorizationV1Api } from '@kubernetes/client-node';
import { testEnv } from './env.ts';
import { KubeHttp, MERGE_PATCH } from '../../../shared/kube/http.ts';

/** The admin kubeconfig of the run's environment, or of another one (a test that starts its own). */
export function adminKubeConfig(kubeconfig = testEnv().kubeconfig): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfig);
  return kc;
}

export function uniqueName(prefix: string): string {
  return `${prefix}-${randomBytes(4).toString('hex')}`;
}

export interface KubeClients {
  kc: KubeConfig;
  core: CoreV1Api;
  apps: AppsV1Api;
  rbac: RbacAuthorizationV1Api;
}

export function kubeClients(): KubeClients {
  const kc = adminKubeConfig();
  return { kc, core: kc.makeApiClient(CoreV1Api), apps: kc.makeApiClient(AppsV1Api), rbac: kc.makeApiClient(RbacAuthorizationV1Api) };
}

/** Creates a fresh namespace. Without a controller-manager it is never garbage-collected; the environment is thrown away instead. */
export async function createNamespace(core: CoreV1Api, prefix = 'test'): Promise<string> {
  const name = uniqueName(prefix);
  await core.createNamespace({ body: { metadata: { name, labels: { 'vault-sync.io/test': 'true' } } } });
  return name;
}

/**
 * Lets ServiceAccount `namespace/serviceAccount` get the non-resource URLs
 * `urls` (what the chart's metrics-reader ClusterRole grants a scraper),
 * through a ClusterRole and binding of its own.
 */
export async function allowUrls(rbac: RbacAuthorizationV1Api, namespace: string, serviceAccount: string, urls: string[]): Promise<void> {
  const name = uniqueName('url-reader');
  await rbac.createClusterRole({ body: { metadata: { name }, rules: [{ nonResourceURLs: urls, verbs: ['get'] }] } });
  await rbac.createClusterRoleBinding({
    body: { metadata: { name }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name }, subjects: [{ kind: 'ServiceAccount', name: serviceAccount, namespace }] },
  });
}

/** A token for `serviceAccount` issued by the apiserver's TokenRequest API. */
export async function serviceAccountToken(core: CoreV1Api, namespace: string, serviceAccount: string, opts: { audiences?: string[]; seconds?: number } = {}): Promise<string> {
  const res = await core.createNamespacedServiceAccountToken({
    name: serviceAccount,
    namespace,
    body: { spec: { audiences: opts.audiences ?? [], expirationSeconds: opts.seconds ?? 3600 } },
  });
  const token = res.status?.token;
  if (!token) throw new Error(`TokenRequest for ${namespace}/${serviceAccount} returned no token`);
  return token;
}

/** The annotations of Deployment `namespace/name` as the apiserver has them now. */
export async function deploymentAnnotations(kube: Pick<KubeClients, 'apps'>, namespace: string, name: string): Promise<Record<string, string>> {
  return (await kube.apps.readNamespacedDeployment({ name, namespace })).metadata?.annotations ?? {};
}

/** A JSON merge patch on any object path, as the admin (client-node's typed patch needs middleware for content types). */
export async function mergePatch(kc: KubeConfig, path: string, body: unknown): Promise<any> {
  return new KubeHttp(kc).request('PATCH', path, { body, contentType: MERGE_PATCH });
}

/** The usual application under test: Secret `db` and a Deployment `web` that reads it, annotated to sync to `secret/data/<namespace>/web`. */
export async function createWebApp(kube: KubeClients, namespace: string, stringData: Record<string, string>): Promise<void> {
  await kube.core.createNamespacedSecret({ namespace, body: { metadata: { name: 'db' }, stringData } });
  await kube.apps.createNamespacedDeployment({
    namespace,
    body: {
      metadata: { name: 'web', annotations: { 'vault-sync.io/path': `secret/data/${namespace}/web` } },
      spec: {
        selector: { matchLabels: { app: 'web' } },
        template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'web', image: 'busybox', envFrom: [{ secretRef: { name: 'db' } }] }] } },
      },
    },
  });
}

/**
 * How many requests on `resource` (e.g. "tokenreviews") the apiserver has
 * answered since it started, from its own apiserver_request_total: what a
 * controller really sent, counted by the server.
 */
export async function apiserverRequests(kc: KubeConfig, resource: string): Promise<number> {
  const http = new KubeHttp(kc);
  let text: string;
  try {
    text = await (await http.open('GET', '/metrics', { accept: 'text/plain' })).text();
  } finally {
    http.close();
  }
  let total = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith('apiserver_request_total{') && line.includes(`resource="${resource}"`)) total += Number(line.split(' ').at(-1));
  }
  return total;
}
