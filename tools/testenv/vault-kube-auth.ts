// Wires OpenBao's kubernetes auth method to the test apiserver the way a
// production install does, for the demo and the end-to-end tests:
//   - a token-reviewer service account bound to system:auth-delegator, whose
//     TokenRequest token OpenBao uses to call TokenReview;
//   - an auth mount pointing at the apiserver with its CA;
//   - a policy and a role for the controller's service account;
//   - the controller's token written to a file, as kubelet would project it.
import { writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { isKubeError, type KubeHttp } from '../../shared/kube/http.ts';
import { baoApi } from './openbao.ts';

export interface KubeAuthSetup {
  /** Auth mount path, e.g. "kubernetes". */
  mount: string;
  role: string;
  policy: string;
  tokenFile: string;
  /** Flags that point the controller at this setup. */
  controllerArgs: string[];
}

async function ok(res: Promise<{ status: number; json: any }>, what: string): Promise<any> {
  const r = await res;
  if (r.status >= 300) throw new Error(`${what}: HTTP ${r.status} ${JSON.stringify(r.json?.errors ?? '')}`);
  return r.json;
}

/** Creates an object unless it exists already. */
async function ensure(http: KubeHttp, path: string, body: Record<string, unknown>): Promise<void> {
  try {
    await http.request('POST', path, { body });
  } catch (err) {
    if (!isKubeError(err, 409)) throw err;
  }
}

export async function issueToken(http: KubeHttp, namespace: string, serviceAccount: string, seconds = 3600): Promise<string> {
  const res = await http.request('POST', `/api/v1/namespaces/${namespace}/serviceaccounts/${serviceAccount}/token`, {
    body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { audiences: [], expirationSeconds: seconds } },
  });
  return res.status.token as string;
}

export interface VaultAdmin {
  vaultAddr: string;
  vaultToken: string;
}

/**
 * Enables a kubernetes auth mount reviewing tokens against the apiserver
 * through a dedicated reviewer service account in `namespace`.
 */
export async function enableKubernetesAuthMount(opts: VaultAdmin & { http: KubeHttp; kubeServer: string; kubeCaPem: string; namespace: string; mount?: string }): Promise<string> {
  const { http, namespace, vaultAddr, vaultToken } = opts;
  const suffix = randomBytes(3).toString('hex');
  const mount = opts.mount ?? `kubernetes-${suffix}`;
  const reviewer = `token-reviewer-${suffix}`;
  await ensure(http, `/api/v1/namespaces/${namespace}/serviceaccounts`, { metadata: { name: reviewer } });
  await ensure(http, '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings', {
    metadata: { name: `${namespace}-${reviewer}` },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'system:auth-delegator' },
    subjects: [{ kind: 'ServiceAccount', name: reviewer, namespace }],
  });
  const reviewerJwt = await issueToken(http, namespace, reviewer, 24 * 3600);
  const mounts = await ok(baoApi(vaultAddr, vaultToken, 'GET', 'sys/auth'), 'list auth mounts');
  if (!mounts?.[`${mount}/`]) await ok(baoApi(vaultAddr, vaultToken, 'POST', `sys/auth/${mount}`, { type: 'kubernetes' }), 'enable kubernetes auth');
  await ok(baoApi(vaultAddr, vaultToken, 'POST', `auth/${mount}/config`, {
    kubernetes_host: opts.kubeServer, kubernetes_ca_cert: opts.kubeCaPem, token_reviewer_jwt: reviewerJwt,
  }), 'configure kubernetes auth');
  return mount;
}

/** Everything the controller needs to log in: mount, policy, role, and its token in a file. */
export async function configureKubernetesAuth(opts: VaultAdmin & {
  http: KubeHttp;
  kubeServer: string;
  kubeCaPem: string;
  /** Namespace of the controller's (and the reviewer's) service accounts. */
  namespace: string;
  serviceAccount: string;
  /** Vault policy HCL for the controller. */
  policyRules: string;
  tokenFile: string;
  mount?: string;
}): Promise<KubeAuthSetup> {
  const { http, namespace, vaultAddr, vaultToken } = opts;
  const mount = await enableKubernetesAuthMount(opts);
  await ensure(http, `/api/v1/namespaces/${namespace}/serviceaccounts`, { metadata: { name: opts.serviceAccount } });
  const policy = `vault-sync-operator-${randomBytes(3).toString('hex')}`;
  await ok(baoApi(vaultAddr, vaultToken, 'PUT', `sys/policies/acl/${policy}`, { policy: opts.policyRules }), 'write policy');
  const role = opts.serviceAccount;
  await ok(baoApi(vaultAddr, vaultToken, 'POST', `auth/${mount}/role/${role}`, {
    bound_service_account_names: [opts.serviceAccount], bound_service_account_namespaces: [namespace], token_policies: [policy], token_ttl: '1h',
  }), 'write role');
  writeFileSync(opts.tokenFile, await issueToken(http, namespace, opts.serviceAccount), { mode: 0o600 });
  return {
    mount, role, policy, tokenFile: opts.tokenFile,
    controllerArgs: [`--vault-addr=${vaultAddr}`, '--vault-auth-method=kubernetes', `--vault-auth-path=${mount}`, `--vault-role=${role}`, `--service-account-token-file=${opts.tokenFile}`],
  };
}

/**
 * A policy and a kubernetes auth role for one service account, as
 * deploy/vault/setup.sh makes them, optionally requiring a token audience
 * (the chart's vault.tokenAudience).
 */
export async function writeRole(opts: VaultAdmin & { mount: string; role: string; namespace: string; serviceAccount: string; policyRules: string; audience?: string }): Promise<void> {
  await ok(baoApi(opts.vaultAddr, opts.vaultToken, 'PUT', `sys/policies/acl/${opts.role}`, { policy: opts.policyRules }), 'write policy');
  await ok(baoApi(opts.vaultAddr, opts.vaultToken, 'POST', `auth/${opts.mount}/role/${opts.role}`, {
    bound_service_account_names: [opts.serviceAccount], bound_service_account_namespaces: [opts.namespace], token_policies: [opts.role], token_ttl: '1h',
    ...(opts.audience ? { audience: opts.audience } : {}),
  }), 'write role');
}

/** Read/write on one KV v2 prefix (data and metadata), for a test's own namespace. */
export function kvPrefixPolicy(prefix: string): string {
  return [
    `path "secret/data/${prefix}/*" { capabilities = ["create", "read", "update", "delete"] }`,
    `path "secret/metadata/${prefix}/*" { capabilities = ["create", "read", "update", "patch", "delete"] }`,
  ].join('\n');
}
