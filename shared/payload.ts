// Secret values on their way to Vault: encoding, size and content hash. Pure.
//
// Kubernetes hands Secret data over as base64. A value that decodes to valid
// UTF-8 is written as that text; anything else is written as the base64 text
// unchanged and its key is listed as base64-encoded, so bytes are never
// corrupted. The base64 string from the API is reused as-is in that case
// (no decode/re-encode copy), which the memory metric counts.
import { Buffer, isUtf8 } from 'node:buffer';
import { createHash } from 'node:crypto';

export interface EncodedValue {
  value: string;
  base64: boolean;
}

export function encodeSecretValue(base64FromApi: string): EncodedValue {
  const bytes = Buffer.from(base64FromApi, 'base64');
  if (isUtf8(bytes)) return { value: bytes.toString('utf8'), base64: false };
  return { value: base64FromApi, base64: true };
}

export interface Payload {
  /** Key -> value as written to Vault. */
  values: Record<string, string>;
  /** Keys whose values are base64 text of binary data, sorted. */
  base64Keys: string[];
  /** UTF-8 bytes of keys and values as sent (JSON framing excluded). */
  bytes: number;
  /** sha256 over keys, values and encodings, hex. Identifies content without revealing it in logs. */
  hash: string;
}

export function buildPayload(entries: Iterable<[key: string, value: EncodedValue]>): Payload {
  const values: Record<string, string> = {};
  const base64Keys: string[] = [];
  let bytes = 0;
  const sorted = [...entries].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const hash = createHash('sha256');
  for (const [key, encoded] of sorted) {
    values[key] = encoded.value;
    if (encoded.base64) base64Keys.push(key);
    bytes += Buffer.byteLength(key) + Buffer.byteLength(encoded.value);
    // Length-prefixed fields: no two different payloads hash alike.
    hash.update(`${key.length}:${key}|${encoded.base64 ? 'b' : 't'}|${encoded.value.length}:`).update(encoded.value);
  }
  return { values, base64Keys, bytes, hash: hash.digest('hex') };
}

/** Hash of data read back from Vault, comparable with Payload.hash. */
export function hashStored(values: Record<string, string>, base64Keys: readonly string[]): string {
  const b64 = new Set(base64Keys);
  return buildPayload(Object.entries(values).map(([k, v]) => [k, { value: v, base64: b64.has(k) }])).hash;
}
