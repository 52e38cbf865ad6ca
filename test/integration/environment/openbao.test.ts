// Proves the Vault side of the test environment is a real OpenBao: KV v1 and
// v2 engines behave as documented, and the kubernetes auth method logs a
// service account in through a TokenReview against the test apiserver.
import assert from 'node:assert/strict';
import vault from 'node-vault';
import { createNamespace, kubeClients, serviceAccountToken, type KubeClients } from '../support/kube.ts';
import { adminVault, enableKubernetesAuth, mountKv } from '../support/vault.ts';
import { testEnv } from '../support/env.ts';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireBinaries } from '../../../tools/testenv/binaries.ts';
import { baoApi, startDevOpenBao } from '../../../tools/testenv/openbao.ts';
import { AuditLog } from '../../../tools/testenv/audit.ts';

describe('test environment: OpenBao', () => {
  let admin: vault.client;
  before(() => {
    admin = adminVault();
  });

  it('is OpenBao, unsealed, and reachable', async () => {
    const health = await admin.health();
    assert.equal(health.sealed, false);
    assert.match(health.version, /^2\./);
  });

  it('writes and reads a KV v2 secret with versions and custom metadata', async () => {
    const mount = await mountKv(admin, 2);
    const first = await admin.write(`${mount}/data/app/config`, { data: { user: 'u', token: 't1' } });
    assert.equal(first.data.version, 1);
    const second = await admin.write(`${mount}/data/app/config`, { data: { user: 'u', token: 't2' }, options: { cas: 1 } });
    assert.equal(second.data.version, 2);
    await assert.rejects(admin.write(`${mount}/data/app/config`, { data: { x: 'y' }, options: { cas: 1 } }),
      (err: any) => err.response?.statusCode === 400);
    const read = await admin.read(`${mount}/data/app/config`);
    assert.deepEqual(read.data.data, { user: 'u', token: 't2' });
    await admin.write(`${mount}/metadata/app/config`, { custom_metadata: { 'managed-by': 'vault-sync-operator' } });
    const meta = await admin.read(`${mount}/metadata/app/config`);
    assert.equal(meta.data.custom_metadata['managed-by'], 'vault-sync-operator');
  });

  it('writes and reads a KV v1 secret', async () => {
    const mount = await mountKv(admin, 1);
    await admin.write(`${mount}/app/config`, { user: 'u', token: 't' });
    const read = await admin.read(`${mount}/app/config`);
    assert.deepEqual(read.data, { user: 'u', token: 't' });
    const info = await admin.read(`sys/internal/ui/mounts/${mount}/app/config`);
    assert.equal(info.data.options.version, '1');
  });

  it('counts every request in a declarative file audit device', async () => {
    const bao = await startDevOpenBao({ dir: mkdtempSync(join(tmpdir(), 'vso-audit-')), bin: requireBinaries().bao, audit: true });
    try {
      const audit = new AuditLog(bao.auditLog!);
      const mark = audit.mark();
      assert.equal((await baoApi(bao.addr, bao.rootToken, 'POST', 'secret/data/counted', { data: { k: 'v' } })).status, 200);
      assert.equal((await baoApi(bao.addr, bao.rootToken, 'GET', 'secret/metadata/counted')).status, 200);
      assert.equal((await baoApi(bao.addr, bao.rootToken, 'GET', 'secret/data/absent')).status, 404);
      const entries = audit.since(mark);
      assert.deepEqual(entries.map((e) => `${e.operation} ${e.path}`), ['create secret/data/counted', 'read secret/metadata/counted', 'read secret/data/absent']);
      assert.ok(entries.every((e) => e.displayName === entries[0]!.displayName && e.displayName), 'each entry names the token');
    } finally {
      await bao.stop();
    }
  });

  describe('kubernetes auth against the test apiserver', () => {
    let kube: KubeClients;
    let namespace: string;
    let authMount: string;

    before(async () => {
      kube = kubeClients();
      namespace = await createNamespace(kube.core, 'auth');
      ({ mount: authMount } = await enableKubernetesAuth(admin, kube, namespace));
      await kube.core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: 'vault-sync' } } });
      await admin.addPolicy({ name: `${namespace}-writer`, rules: `path "secret/data/${namespace}/*" { capabilities = ["create", "update", "read"] }` });
      await admin.write(`auth/${authMount}/role/vault-sync`, {
        bound_service_account_names: ['vault-sync'],
        bound_service_account_namespaces: [namespace],
        token_policies: [`${namespace}-writer`],
        token_ttl: '10m',
      });
    });

    it('logs a service account in through a TokenReview round trip and uses the token', async () => {
      const jwt = await serviceAccountToken(kube.core, namespace, 'vault-sync');
      const client = vault({ endpoint: testEnv().vaultAddr, debug: () => {} } as vault.VaultOptions);
      const login = await client.kubernetesLogin({ mount_point: authMount, role: 'vault-sync', jwt });
      assert.ok(login.auth.client_token);
      assert.equal(login.auth.metadata.service_account_namespace, namespace);
      assert.ok(login.auth.policies.includes(`${namespace}-writer`));
      client.token = login.auth.client_token;
      await client.write(`secret/data/${namespace}/hello`, { data: { k: 'v' } });
      await assert.rejects(client.write('secret/data/elsewhere/hello', { data: { k: 'v' } }), (err: any) => err.response?.statusCode === 403);
    });

    it('refuses a token of a service account the role does not bind', async () => {
      await kube.core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: 'intruder' } } });
      const jwt = await serviceAccountToken(kube.core, namespace, 'intruder');
      const client = vault({ endpoint: testEnv().vaultAddr, debug: () => {} } as vault.VaultOptions);
      await assert.rejects(client.kubernetesLogin({ mount_point: authMount, role: 'vault-sync', jwt }), (err: any) => err.response?.statusCode === 403);
    });
  });
});
