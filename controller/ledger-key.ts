// Loads the controller's ledger key from a Secret in its own namespace,
// creating it on first start.
//
// Contract:
//   - The Secret holds `data.key`: 32 random bytes, base64. Every replica
//     (leader and followers) reads the same Secret, so a successor verifies
//     what its predecessor signed.
//   - Absent: created with a fresh key. Two replicas racing: one create
//     wins (201), the other gets 409 and reads the winner's key.
//   - A Secret that exists but holds no usable key is an error naming the
//     Secret and the fix; it is never overwritten (that would silently
//     invalidate every ledger).
//   - Losing the Secret costs no data: every ledger then fails to verify,
//     and the writer falls back to Vault's ownership markers (one metadata
//     read per path, once) until the ledgers are re-signed.
import { randomBytes } from 'node:crypto';
import { isKubeError, type KubeHttp } from '../shared/kube/http.ts';
import { LEDGER_KEY_BYTES, LedgerKey } from '../shared/ledger.ts';

export class LedgerKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LedgerKeyError';
  }
}

function secretPath(namespace: string, name: string): string {
  return `/api/v1/namespaces/${encodeURIComponent(namespace)}/secrets/${encodeURIComponent(name)}`;
}

function fromSecret(secret: any, where: string): LedgerKey {
  const raw = secret?.data?.key;
  const bytes = typeof raw === 'string' ? Buffer.from(raw, 'base64') : Buffer.alloc(0);
  if (bytes.length < 16) {
    throw new LedgerKeyError(`Secret ${where} has no usable data.key (need at least 16 bytes); fix: delete it so the controller creates a fresh key, or put 32 random bytes (base64) in data.key`);
  }
  return new LedgerKey(bytes);
}

export async function loadLedgerKey(http: KubeHttp, namespace: string, name: string): Promise<LedgerKey> {
  const where = `${namespace}/${name}`;
  const existing = await http.request('GET', secretPath(namespace, name), { allow404: true });
  if (existing) return fromSecret(existing, where);
  try {
    const created = await http.request('POST', `/api/v1/namespaces/${encodeURIComponent(namespace)}/secrets`, {
      body: {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name, namespace, labels: { 'app.kubernetes.io/managed-by': 'vault-sync-operator', 'vault-sync.io/ledger-key': 'true' } },
        type: 'Opaque',
        data: { key: randomBytes(LEDGER_KEY_BYTES).toString('base64') },
      },
    });
    return fromSecret(created, where);
  } catch (err) {
    if (!isKubeError(err, 409)) throw err;
    return fromSecret(await http.request('GET', secretPath(namespace, name)), where);
  }
}

/** "name" (in the controller's namespace) or "namespace/name". */
export function parseKeySecretRef(raw: string, controllerNamespace: string): { namespace: string; name: string } {
  const [a, b] = raw.split('/');
  return b === undefined ? { namespace: controllerNamespace, name: a! } : { namespace: a!, name: b };
}
