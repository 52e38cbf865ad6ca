import assert from 'node:assert/strict';
import { SyncError } from '../../../../shared/errors.ts';
import { planLogin, renewalDelayMs, tokenFromLogin } from '../../../../shared/vault/auth.ts';

describe('vault auth', () => {
  it('reads the service-account token file at every login (kubelet rotates it)', async () => {
    let n = 0;
    const reader = async () => `jwt-${++n}\n`;
    const auth = { method: 'kubernetes' as const, role: 'r', mount: 'kubernetes', tokenFile: '/t' };
    assert.deepEqual(await planLogin(auth, reader), { kind: 'request', path: 'auth/kubernetes/login', body: { role: 'r', jwt: 'jwt-1' } });
    const second = await planLogin(auth, reader);
    assert.equal(second.kind === 'request' && second.body.jwt, 'jwt-2');
  });
  it('builds AppRole and static-token logins', async () => {
    assert.deepEqual(await planLogin({ method: 'approle', mount: 'approle', roleId: 'rid', secretIdFile: '/s' }, async () => 'sid'),
      { kind: 'request', path: 'auth/approle/login', body: { role_id: 'rid', secret_id: 'sid' } });
    assert.deepEqual(await planLogin({ method: 'token', token: 'tok' }), { kind: 'static', token: 'tok' });
  });
  it('fails clearly, and retryably, when the token file is missing', async () => {
    await assert.rejects(planLogin({ method: 'kubernetes', role: 'r', mount: 'k', tokenFile: '/nonexistent/token' }),
      (e: unknown) => e instanceof SyncError && e.reason === 'AuthFailed' && e.retryable && /\/nonexistent\/token \(ENOENT\)/.test(e.message));
  });
  it('renews at two thirds of the TTL; never for non-expiring tokens', () => {
    assert.equal(renewalDelayMs({ token: 't', ttlSeconds: 3600, renewable: true }), 2_400_000);
    assert.equal(renewalDelayMs({ token: 't', ttlSeconds: 0, renewable: false }), undefined);
    assert.equal(renewalDelayMs({ token: 't', ttlSeconds: 1, renewable: true }), 1000);
  });
  it('reads a login response', () => {
    assert.deepEqual(tokenFromLogin({ auth: { client_token: 'x', lease_duration: 60, renewable: true } }), { token: 'x', ttlSeconds: 60, renewable: true });
    assert.throws(() => tokenFromLogin({}), SyncError);
  });
});
