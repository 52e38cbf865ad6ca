import assert from 'node:assert/strict';
import { VaultRequestError } from '../../../../shared/errors.ts';
import { classifyFailure, reasonForStatus } from '../../../../shared/vault/classify.ts';

describe('vault failure classification', () => {
  const table: [number, boolean, string, boolean][] = [
    [400, false, 'InvalidRequest', false], [400, true, 'CasConflict', true], [403, false, 'PermissionDenied', false],
    [404, false, 'InvalidRequest', false], [412, false, 'VaultUnavailable', true], [413, false, 'Oversize', false],
    [429, false, 'RateLimited', true], [500, false, 'VaultUnavailable', true], [502, false, 'VaultUnavailable', true], [503, false, 'Sealed', true],
  ];
  for (const [status, cas, reason, retryable] of table) {
    it(`HTTP ${status}${cas ? ' on a CAS write' : ''} -> ${reason} (${retryable ? 'retryable' : 'terminal'})`, () => {
      assert.equal(reasonForStatus(status, cas), reason);
      const err = classifyFailure({ operation: 'write', status, carriedPayload: false, usedCas: cas });
      assert.ok(err instanceof VaultRequestError);
      assert.equal(err.retryable, retryable);
      assert.equal(err.status, status);
    });
  }
  it('maps network codes, never messages', () => {
    assert.equal(classifyFailure({ operation: 'read', code: 'ECONNREFUSED', carriedPayload: false, usedCas: false }).reason, 'Network');
    assert.equal(classifyFailure({ operation: 'read', code: 'ECONNABORTED', carriedPayload: false, usedCas: false }).reason, 'Timeout');
    assert.equal(classifyFailure({ operation: 'read', carriedPayload: false, usedCas: false }).retryable, true);
  });
  it('keeps Vault error text out of messages for requests that carried secret data', () => {
    const canary = 'CANARY-9f2c';
    const withPayload = classifyFailure({ operation: 'write', status: 400, vaultErrors: [`bad value ${canary}`], carriedPayload: true, usedCas: false });
    assert.ok(!withPayload.message.includes(canary));
    const withoutPayload = classifyFailure({ operation: 'read', status: 400, vaultErrors: ['no handler for route'], carriedPayload: false, usedCas: false });
    assert.match(withoutPayload.message, /no handler for route/);
  });
});
