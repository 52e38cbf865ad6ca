// Vault authentication of the core client against real OpenBao and the real
// apiserver: kubernetes auth with a projected-token file, token expiry and
// revocation handled by re-login, policy denial kept terminal.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type vault from 'node-vault';
import { parseVaultPath } from '../../../shared/paths.ts';
import { buildPayload } from '../../../shared/payload.ts';
import type { UpsertOp } from '../../../shared/writer.ts';
import { createNamespace, kubeClients, serviceAccountToken, type KubeClients } from '../support/kube.ts';
import { adminVault, enableKubernetesAuth, mountKv } from '../support/vault.ts';
import { testEngine } from '../support/engine.ts';

describe('core engine: Vault authentication', function () {
  this.timeout(60_000);
  let admin: vault.client;
  let kube: KubeClients;
  let namespace: string;
  let authMount: string;
  let mount: string;
  let tokenFile: string;

  const op = (name: string, value: string): UpsertOp => ({
    kind: 'upsert', id: name, resource: `Deployment ${namespace}/web`, path: parseVaultPath(`${mount}/data/${namespace}/${name}`, 't'),
    ctx: { namespace, name: 'web', kind: 'Deployment', cluster: '' }, owner: `default/${namespace}/Deployment/web`,
    payload: buildPayload([['k', { value, base64: false }]]),
  });

  before(async () => {
    admin = adminVault();
    kube = kubeClients();
    namespace = await createNamespace(kube.core, 'vauth');
    mount = await mountKv(admin, 2);
    ({ mount: authMount } = await enableKubernetesAuth(admin, kube, namespace));
    await kube.core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: 'vault-sync' } } });
    await admin.addPolicy({ name: `${namespace}-sync`, rules: `path "${mount}/*" { capabilities = ["create","read","update","patch","delete","list"] }\npath "sys/internal/ui/mounts/*" { capabilities = ["read"] }` });
    const role = (ttl: string, maxTtl: string) => ({
      bound_service_account_names: ['vault-sync'], bound_service_account_namespaces: [namespace], token_policies: [`${namespace}-sync`], token_ttl: ttl, token_max_ttl: maxTtl,
    });
    await admin.write(`auth/${authMount}/role/normal`, role('10m', '1h'));
    await admin.write(`auth/${authMount}/role/short`, role('3s', '3s'));
    tokenFile = join(mkdtempSync(join(tmpdir(), 'vso-sa-')), 'token');
    writeFileSync(tokenFile, await serviceAccountToken(kube.core, namespace, 'vault-sync'));
  });

  const kubeEngine = (role: string) => testEngine({ auth: { method: 'kubernetes', role, mount: authMount, tokenFile } });

  it('logs in with kubernetes auth (TokenReview against the apiserver) and writes', async () => {
    const engine = kubeEngine('normal');
    try {
      const [r] = await engine.run([op('a', '1')]);
      assert.equal(r!.outcome, 'created');
      assert.equal(engine.authStatus().authenticated, true);
      assert.match(await engine.registry.metrics(), /vault_sync_operator_auth_attempts_total\{method="kubernetes",result="success"\} 1/);
    } finally {
      await engine.stop();
    }
  });

  it('re-logs in transparently when a short-TTL token expires', async () => {
    const engine = kubeEngine('short');
    try {
      assert.equal((await engine.run([op('b', '1')]))[0]!.outcome, 'created');
      await sleep(4000); // past token_max_ttl: the token is dead
      const [r] = await engine.run([op('b', '2')]);
      assert.equal(r!.outcome, 'updated', r!.error?.message);
      const logins = /vault_sync_operator_auth_attempts_total\{method="kubernetes",result="success"\} (\d+)/.exec(await engine.registry.metrics());
      assert.ok(Number(logins?.[1]) >= 2, 'a second login happened');
    } finally {
      await engine.stop();
    }
  });

  it('tells a revoked token (re-login) from a policy denial (terminal, no login storm)', async () => {
    const engine = kubeEngine('normal');
    try {
      await engine.run([op('c', '1')]);
      // Revoke every token of this auth mount behind the client's back.
      await admin.write(`sys/leases/revoke-prefix/auth/${authMount}/login`, {});
      const [again] = await engine.run([op('c', '2')]);
      assert.equal(again!.outcome, 'updated', again!.error?.message);

      const denied = { ...op('d', '1'), path: parseVaultPath(`secret/data/${namespace}/denied`, 't') };
      const [r] = await engine.run([denied]);
      assert.equal(r!.error?.reason, 'PermissionDenied');
      assert.equal(r!.attempts, 1);
      const logins = /vault_sync_operator_auth_attempts_total\{method="kubernetes",result="success"\} (\d+)/.exec(await engine.registry.metrics());
      assert.equal(Number(logins?.[1]), 2, 'one login, one re-login after revocation, none for the denial');
    } finally {
      await engine.stop();
    }
  });

  it('re-reads the token file at every login', async () => {
    const engine = kubeEngine('normal');
    try {
      writeFileSync(tokenFile, 'not-a-jwt');
      const [r] = await engine.run([op('e', '1')]);
      assert.equal(r!.error?.reason, 'AuthFailed');
      writeFileSync(tokenFile, await serviceAccountToken(kube.core, namespace, 'vault-sync'));
      const [ok] = await engine.run([op('e', '1')]);
      assert.equal(ok!.outcome, 'created', ok!.error?.message);
    } finally {
      await engine.stop();
    }
  });
});
