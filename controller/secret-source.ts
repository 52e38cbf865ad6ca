// Reads the Secrets one reconcile needs, data included, straight from the
// API, under the global memory budget and the per-resource byte limit.
//
// Contract:
//   - Names are valid Secret names (plan.secretsNeeded checked them) and go
//     into the URL encoded; a missing Secret reads as undefined.
//   - Before reading, a reservation is taken from the ReadBudget for the
//     namespace (the budget's tenant: a quiet namespace's read may pass a
//     flood's), sized for the worst case of these names (capped by the
//     per-resource limit); after reading it shrinks to what the data really
//     costs. The caller releases it once the documents are written.
//   - Above `maxBytes` of data in total, reading stops and a terminal
//     ConfigError names the resource, the limit and the fix; nothing is
//     kept.
import { ConfigError } from '../shared/errors.ts';
import { ACCEPT_JSON, type KubeHttp } from '../shared/kube/http.ts';
import type { SecretSnapshot } from '../shared/plan.ts';
import { MAX_SECRET_FOOTPRINT, secretFootprint, type ReadBudget, type Reservation } from './read-budget.ts';
import { objectPath } from '../shared/resources.ts';

export interface SecretBatch {
  secrets: Map<string, SecretSnapshot | undefined>;
  reservation: Reservation;
  dataBytes: number;
}

/** Decoded bytes of a Secret's data, from its base64 strings. */
export function dataBytes(data: Readonly<Record<string, string>>): number {
  let n = 0;
  for (const v of Object.values(data)) n += Math.floor((v.length * 3) / 4);
  return n;
}

export class SecretSource {
  readonly #http: KubeHttp;
  readonly #budget: ReadBudget;
  readonly #maxBytes: number;

  constructor(opts: { http: KubeHttp; budget: ReadBudget; maxBytesPerResource: number }) {
    this.#http = opts.http;
    this.#budget = opts.budget;
    this.#maxBytes = opts.maxBytesPerResource;
  }

  async read(namespace: string, names: readonly string[], resource: string, field: string, already = 0): Promise<SecretBatch> {
    const worst = Math.min(names.length * MAX_SECRET_FOOTPRINT, secretFootprint(this.#maxBytes) + MAX_SECRET_FOOTPRINT);
    const reservation = await this.#budget.reserve(worst, namespace);
    const secrets = new Map<string, SecretSnapshot | undefined>();
    let bytes = 0;
    try {
      for (const name of names) {
        const secret = await this.#http.request('GET', objectPath({ kind: 'Secret', namespace, name }), { accept: ACCEPT_JSON, allow404: true });
        if (!secret) {
          secrets.set(name, undefined);
          continue;
        }
        const data: Record<string, string> = secret.data ?? {};
        bytes += dataBytes(data);
        if (already + bytes > this.#maxBytes) {
          throw new ConfigError(resource, field, `references Secrets holding more than ${this.#maxBytes} bytes in total (the per-resource limit)`,
            'split the Secrets across several annotated resources, or raise --max-bytes-per-resource (the controller needs about 2.5x that in heap)');
        }
        secrets.set(name, { name, resourceVersion: String(secret.metadata?.resourceVersion ?? ''), data });
      }
    } catch (err) {
      reservation.release();
      throw err;
    }
    reservation.shrink(secretFootprint(bytes));
    return { secrets, reservation, dataBytes: bytes };
  }
}
