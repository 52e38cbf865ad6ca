// OpenBao helpers for integration tests: an admin client on the dev server,
// unique mounts per suite, and the kubernetes auth method wired to the test
// apiserver (TokenReview with a dedicated reviewer service account).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import vault from 'node-vault';
import { requireBinaries } from '../../../tools/testenv/binaries.ts';
import { startFileOpenBao, type FileOpenBaoServer } from '../../../tools/testenv/openbao.ts';
import { uniqueName, serviceAccountToken, type KubeClients } from './kube.ts';
import { testEnv } from './env.ts';

export function adminVault(): vault.client {
  const env = testEnv();
  // A no-op debug sink: node-vault's own debug logging prints request bodies.
  return vault({ endpoint: env.vaultAddr, token: env.vaultToken, debug: () => {} } as vault.VaultOptions);
}

export async function mountKv(client: vault.client, version: 1 | 2, prefix = 'kv'): Promise<string> {
  const mount = uniqueName(`${prefix}${version}`);
  await client.mount({ mount_point: mount, type: 'kv', options: { version: String(version) } });
  return mount;
}

export interface KubernetesAuth {
  mount: string;
}

/**
 * Enables a kubernetes auth mount that reviews tokens against the test
 * apiserver. The reviewer is a service account bound to system:auth-delegator,
 * exactly as a production setup would do it.
 */
export async function enableKubernetesAuth(client: vault.client, kube: KubeClients, namespace: string): Promise<KubernetesAuth> {
  const reviewer = uniqueName('token-reviewer');
  await kube.core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: reviewer } } });
  await kube.rbac.createClusterRoleBinding({
    body: {
      metadata: { name: `${namespace}-${reviewer}` },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'system:auth-delegator' },
      subjects: [{ kind: 'ServiceAccount', name: reviewer, namespace }],
    },
  });
  const reviewerJwt = await serviceAccountToken(kube.core, namespace, reviewer);
  const mount = uniqueName('k8s');
  await client.enableAuth({ mount_point: mount, type: 'kubernetes' });
  await client.write(`auth/${mount}/config`, {
    kubernetes_host: testEnv().kubeServer,
    kubernetes_ca_cert: testEnv().kubeCaPem,
    token_reviewer_jwt: reviewerJwt,
  });
  return { mount };
}

/** An OpenBao of its own on persistent storage, for restart and seal tests. */
export async function startPersistentVault(): Promise<FileOpenBaoServer> {
  const dir = mkdtempSync(join(tmpdir(), 'vso-bao-'));
  const server = await startFileOpenBao({ dir, bin: requireBinaries().bao });
  const stop = server.stop;
  server.stop = async () => {
    await stop();
    rmSync(dir, { recursive: true, force: true });
  };
  return server;
}
