import assert from 'node:assert/strict';
import { VaultRequestError } from '../../../../shared/errors.ts';
import { classifyFailure, reasonForStatus } from '../../../../shared/vault/classify.ts';

describe('vault failure classification', () => {
  const table: [number, boolean, string, boolean][] = [
    [400, false, 'InvalidRequest', false], [400, true, 'CasConflict', true], [403, false, 'PermissionDenied', false],
    [404, false, 'InvalidRequest', false], [412, false, 'VaultUnavailable', true], [413, false, 'Oversize', false],
    [429, false, 'RateLimited', true], [500, false, 'VaultUnavailable', true], [501, false, 'InvalidRequest', false], [502, false, 'VaultUnavailable', true],
    [503, false, 'Sealed', true], [504, false, 'Timeout', true], [505, false, 'InvalidRequest', false], [507, false, 'VaultUnavailable', true],
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
  it('reads a storage "too large" 500 as terminal Oversize (the only signal there is), every other 500 as transient', () => {
    const raft = ['1 error occurred:\n\t* put failed due to value being too large; got 156 bytes, max 1048576 bytes\n\n'];
    const tooLarge = classifyFailure({ operation: 'write', status: 500, vaultErrors: raft, carriedPayload: true, usedCas: true });
    assert.equal(tooLarge.reason, 'Oversize');
    assert.equal(tooLarge.retryable, false);
    assert.equal(tooLarge.message, 'Vault write failed: HTTP 500 (too large for the storage)', 'Vault\'s text stays out of a payload request\'s message');
    const key = classifyFailure({ operation: 'write', status: 500, vaultErrors: ['put failed due to key being too large'], carriedPayload: true, usedCas: false });
    assert.deepEqual([key.reason, key.retryable], ['InvalidRequest', false]);
    for (const other of [['internal error'], ['context canceled'], ['local node not active but active cluster node not found'], undefined]) {
      const e = classifyFailure({ operation: 'write', status: 500, vaultErrors: other, carriedPayload: true, usedCas: false });
      assert.deepEqual([e.reason, e.retryable], ['VaultUnavailable', true], String(other));
    }
    assert.equal(classifyFailure({ operation: 'write', status: 413, vaultErrors: ['http: request body too large'], carriedPayload: true, usedCas: false }).reason, 'Oversize');
  });

  it('tells an overload 503 (Vault\'s request limiter, or any 503 with Retry-After) from a sealed one', () => {
    const overloaded = classifyFailure({ operation: 'write', status: 503, vaultErrors: ['Vault server temporarily overloaded'], carriedPayload: true, usedCas: false });
    assert.deepEqual([overloaded.reason, overloaded.retryable], ['Overloaded', true]);
    assert.equal(classifyFailure({ operation: 'read', status: 503, retryAfterMs: 2000, carriedPayload: false, usedCas: false }).reason, 'Overloaded');
    assert.equal(classifyFailure({ operation: 'read', status: 503, vaultErrors: ['Vault is sealed'], carriedPayload: false, usedCas: false }).reason, 'Sealed');
    const limited = classifyFailure({ operation: 'write', status: 429, retryAfterMs: 3000, carriedPayload: true, usedCas: false });
    assert.deepEqual([limited.reason, limited.retryAfterMs], ['RateLimited', 3000]);
  });

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
