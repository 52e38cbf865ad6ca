// Secret hygiene: values planted as canaries must never show up in log
// lines, error messages (inspected in full, causes included) or metrics,
// whatever path an operation takes: success, skip, conflict, denial,
// oversize, CAS race.
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import type vault from 'node-vault';
import { buildPayload, encodeSecretValue } from '../../../shared/payload.ts';
import type { OpResult, UpsertOp } from '../../../shared/writer.ts';
import { adminVault, mountKv } from '../support/vault.ts';
import { testEngine, upsertOp } from '../support/engine.ts';

const CANARY_TEXT = 'CANARY-7d1f0a-text-value';
const CANARY_BINARY = Buffer.concat([Buffer.from('CANARY-bin-'), Buffer.from([0xff, 0x00, 0xfe])]);

describe('core engine: secret hygiene (canaries)', () => {
  let admin: vault.client;
  let mount: string;
  before(async () => {
    admin = adminVault();
    mount = await mountKv(admin, 2, 'hyg');
    await admin.write(`${mount}/data/not-ours`, { data: { x: 'y' } });
  });

  it('never leaks values into logs, errors or metrics', async () => {
    const payload = buildPayload([
      ['password', encodeSecretValue(Buffer.from(CANARY_TEXT).toString('base64'))],
      ['blob', encodeSecretValue(CANARY_BINARY.toString('base64'))],
    ]);
    // A raw write: node-vault's tokenCreate() would switch the admin client to the new token.
    const limitedToken = (await admin.write('auth/token/create', { policies: ['default'], ttl: '10m' })).auth.client_token;
    const op = (path: string, extra: Partial<UpsertOp> = {}) => upsertOp(path, payload, extra);
    const engine = testEngine({ maxEntryBytes: 10_000 });
    const denied = testEngine({ auth: { method: 'token', token: limitedToken } });
    const oversize = testEngine({ maxEntryBytes: 10 });
    const results: OpResult[] = [];
    try {
      results.push(...await engine.run([op(`${mount}/data/a`), op(`${mount}/data/not-ours`)]));
      results.push(...await engine.run([op(`${mount}/data/a`), op(`${mount}/data/a`, { force: true })]));
      results.push(...await denied.run([op(`${mount}/data/b`)]));
      results.push(...await oversize.run([op(`${mount}/data/c`)]));
      await admin.write(`${mount}/data/a`, { data: { drift: 'x' } }); // makes the next CAS attempt fail once
      results.push(...await engine.run([op(`${mount}/data/a`, { force: true })]));
    } finally {
      await Promise.all([engine.stop(), denied.stop(), oversize.stop()]);
    }
    assert.deepEqual(results.map((r) => r.error?.reason ?? r.outcome), ['created', 'OwnershipConflict', 'unchanged', 'updated', 'PermissionDenied', 'Oversize', 'updated']);
    assert.equal(results.at(-1)!.attempts, 2, 'the last write hit a CAS conflict first');

    const haystacks = [
      ...engine.logLines, ...denied.logLines, ...oversize.logLines,
      ...results.flatMap((r) => (r.error ? [r.error.message, inspect(r.error, { depth: 10 }), JSON.stringify(r.error)] : [])),
      await engine.registry.metrics(), await denied.registry.metrics(), await oversize.registry.metrics(),
    ];
    assert.ok(engine.logLines.length > 0, 'logging happened');
    const needles = [CANARY_TEXT, CANARY_BINARY.toString('base64'), 'CANARY'];
    for (const hay of haystacks) for (const needle of needles) assert.ok(!hay.includes(needle), `leaked ${needle} in: ${hay.slice(0, 300)}`);
    // ...while the value did reach Vault intact.
    assert.equal((await admin.read(`${mount}/data/a`)).data.data.password, CANARY_TEXT);
  });
});
