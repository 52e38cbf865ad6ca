// How large a KV document is once Vault stores it, against the storage's
// entry limit. Pure.
//
// Contract:
//   - `storedBytes(values)` is the length of the JSON Vault's storage keeps
//     for the data: Go's encoding/json, which (unlike JSON.stringify)
//     escapes <, > and & as \u003c..., and U+2028/U+2029 as \u2028/\u2029.
//     It is computed without building the string (a 1 MiB document is not
//     copied just to be measured).
//   - `entryBytes(values)` adds what Vault wraps around it (version record,
//     encryption, raft log framing): ENTRY_OVERHEAD_BYTES, a bound above the
//     measured overhead, so a document we accept is never refused by storage
//     for its size (tested on raft storage: test/integration/core/size-limits).
//   - DEFAULT_MAX_ENTRY_BYTES is raft's default `max_entry_size` (1 MiB), the
//     storage production runs (Vault and OpenBao integrated storage).
//
// Why the stored form and not the bytes of the values: measured on OpenBao
// 2.7.2 raft (test/integration/core/size-limits.test.ts), the largest
// single-key document accepted holds 1,048,350 ASCII characters, but only
// 174,724 of "<" (each stored as six bytes) and 524,174 of "é" or of "\n";
// each time the JSON plus 218-220 bytes is exactly what fits in 1 MiB.
import { Buffer } from 'node:buffer';

export const DEFAULT_MAX_ENTRY_BYTES = 1024 * 1024;

/** Bytes Vault adds to the data's JSON in one raft entry: measured 218-220 on OpenBao 2.7.2, bounded at 512. */
export const ENTRY_OVERHEAD_BYTES = 512;

// Characters Go's JSON encoder writes longer than their UTF-8 bytes.
const NEEDS_ESCAPE = /["\\\u0000-\u001f<>&\u2028\u2029]/;

/** Extra bytes Go's encoding/json spends on escapes in one string. */
function escapeBytes(s: string): number {
  if (!NEEDS_ESCAPE.test(s)) return 0;
  let extra = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x22 || c === 0x5c || c === 0x08 || c === 0x0c || c === 0x0a || c === 0x0d || c === 0x09) extra += 1; // \" \\ \b \f \n \r \t
    else if (c < 0x20 || c === 0x3c || c === 0x3e || c === 0x26) extra += 5; // \u00XX for one byte
    else if (c === 0x2028 || c === 0x2029) extra += 3; // \u2028 (6) for three UTF-8 bytes
  }
  return extra;
}

/** Length of `{"k":"v",...}` as Go's encoding/json writes it. */
export function storedBytes(values: Readonly<Record<string, string>>): number {
  let n = 2; // braces
  let first = true;
  for (const [k, v] of Object.entries(values)) {
    n += (first ? 0 : 1) + 5 + Buffer.byteLength(k) + Buffer.byteLength(v) + escapeBytes(k) + escapeBytes(v); // , "k":"v"
    first = false;
  }
  return n;
}

/** What one KV write of `values` occupies in a storage entry (an upper bound). */
export function entryBytes(values: Readonly<Record<string, string>>): number {
  return storedBytes(values) + ENTRY_OVERHEAD_BYTES;
}
