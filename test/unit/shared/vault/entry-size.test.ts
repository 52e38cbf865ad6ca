import assert from 'node:assert/strict';
import { ENTRY_OVERHEAD_BYTES, entryBytes, storedBytes } from '../../../../shared/vault/entry-size.ts';

/** Go's encoding/json output for a map of strings (sorted keys do not change the length). */
function goJson(values: Record<string, string>): string {
  return JSON.stringify(values).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

describe('entry size: a document as Vault stores it', () => {
  it('is the length of Go\'s JSON: escapes for <, >, &, U+2028/9, quotes, backslashes and control characters', () => {
    const cases: Record<string, string>[] = [
      {}, { k: 'v' }, { a: 'plain', b: 'AAEC/w==' }, { html: '<a href="x">&amp;</a>' }, { nl: 'line\nline\r\t"q"\\' },
      { ctl: '\u0000\u0001\u0008\u000c\u001f' }, { sep: 'a\u2028b\u2029c' }, { 'ké': 'héllo wörld 漢字 😀' },
    ];
    for (const c of cases) assert.equal(storedBytes(c), Buffer.byteLength(goJson(c)), JSON.stringify(c));
  });

  it('adds the storage overhead bound', () => {
    assert.equal(entryBytes({ k: 'v' }), storedBytes({ k: 'v' }) + ENTRY_OVERHEAD_BYTES);
  });

  it('measures a large document without copying it into a string', () => {
    const big = { a: 'x'.repeat(4 * 1024 * 1024) };
    assert.equal(storedBytes(big), 4 * 1024 * 1024 + 8);
  });
});
