import assert from 'node:assert/strict';
import { buildPayload, encodeSecretValue, hashStored } from '../../../shared/payload.ts';

const b64 = (s: string | Buffer) => (typeof s === 'string' ? Buffer.from(s, 'utf8') : s).toString('base64');

describe('payload', () => {
  it('keeps valid UTF-8 as text, including multi-byte characters', () => {
    assert.deepEqual(encodeSecretValue(b64('pässwörd ✓')), { value: 'pässwörd ✓', base64: false });
  });
  it('keeps binary as the original base64 text, byte for byte', () => {
    const bytes = Buffer.from([0xff, 0xfe, 0x00, 0x80, 0x41]);
    const encoded = encodeSecretValue(b64(bytes));
    assert.equal(encoded.base64, true);
    assert.deepEqual(Buffer.from(encoded.value, 'base64'), bytes);
  });
  it('records base64 keys, byte size and an order-independent hash', () => {
    const a = buildPayload([['b', encodeSecretValue(b64('two'))], ['a', encodeSecretValue(b64(Buffer.from([0xff])))]]);
    const b = buildPayload([['a', encodeSecretValue(b64(Buffer.from([0xff])))], ['b', encodeSecretValue(b64('two'))]]);
    assert.equal(a.hash, b.hash);
    assert.deepEqual(a.base64Keys, ['a']);
    assert.equal(a.bytes, 1 + 4 + 1 + 3); // "a" + "/w==" + "b" + "two"
    assert.deepEqual(Object.keys(a.values), ['a', 'b']);
  });
  it('distinguishes content, encodings and key/value boundaries', () => {
    const h = (entries: [string, string, boolean][]) => buildPayload(entries.map(([k, v, base64]) => [k, { value: v, base64 }])).hash;
    assert.notEqual(h([['k', 'v', false]]), h([['k', 'w', false]]));
    assert.notEqual(h([['k', 'dg==', false]]), h([['k', 'dg==', true]]));
    assert.notEqual(h([['ab', 'c', false]]), h([['a', 'bc', false]]));
  });
  it('hashes data read back from Vault the same as what was planned', () => {
    const planned = buildPayload([['t', encodeSecretValue(b64('x'))], ['bin', encodeSecretValue(b64(Buffer.from([0xff])))]]);
    assert.equal(hashStored(planned.values, planned.base64Keys), planned.hash);
  });
});
