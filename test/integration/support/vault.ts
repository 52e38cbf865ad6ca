// OpenBao helpers for integration tests: an admin client on the dev server,
// unique mounts per suite, and the kubernetes auth method wired to the test
// apiserver (TokenReview with a dedicated reviewer service account).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import vault from 'node-vault';
import { requireBinaries } from '../../../tools/testenv/binaries.ts';
import { startFileOpenBao, type FileOpenBaoServer } from '../../../tools/testenv/openbao.ts';
import { uniqueName, type KubeClients } from './kube.ts';
import { KubeHttp } from '../../../shared/kube/http.ts';
import { enableKubernetesAuthMount } from '../../../tools/testenv/vault-kube-auth.ts';
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

/** A kubernetes auth mount reviewing tokens against the test apiserver (reviewer SA in `namespace`). */
export async function enableKubernetesAuth(_client: vault.client, kube: KubeClients, namespace: string): Promise<KubernetesAuth> {
  const env = testEnv();
  const mount = await enableKubernetesAuthMount({
    http: new KubeHttp(kube.kc), kubeServer: env.kubeServer, kubeCaPem: env.kubeCaPem, vaultAddr: env.vaultAddr, vaultToken: env.vaultToken, namespace,
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

/** The `data` of a Vault read, or undefined when the path does not exist (404). */
export async function readOrUndefined(client: vault.client, path: string): Promise<any> {
  try {
    return (await client.read(path)).data;
  } catch (err: any) {
    if (err.response?.statusCode === 404) return undefined;
    throw err;
  }
}
