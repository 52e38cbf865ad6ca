// A global memory budget in front of Secret reads, fair across tenants.
//
// A Secret holds up to 1 MiB of data, which arrives as base64 (4/3 larger)
// inside JSON and is decoded once more into the payload: reading a Secret
// can briefly cost a few MiB of heap. Without a bound, one tenant that
// references many large Secrets, or several reconciles at once, could push
// the controller past its heap limit ("JavaScript heap out of memory") and
// into a crash loop. Every reconcile therefore reserves bytes here before it
// reads, sized for what it will hold at once, and releases them when done.
//
// Contract:
//   - `reserve(bytes, tenant)` waits until that many bytes are free and
//     resolves with a Reservation. All of it at once, so no two reconciles
//     can deadlock holding halves of what they need. The total held never
//     exceeds the budget.
//   - Fair across tenants (namespaces), in the spirit of the throttle's
//     reserve: a quarter of the budget is a reserve. A tenant that holds a
//     reservation is heavy: heavy waiters are served first come first
//     served, and only while the reserve stays free for others. A tenant
//     that holds none is light: it is served in arrival order too, but when
//     a heavy waiter ahead of it does not fit yet, it may pass that waiter
//     by spending the reserve (passers together hold at most the reserve).
//     So a quiet namespace's one read never queues behind a flood's chunk
//     that is waiting for bytes the flood itself holds.
//   - No starvation: passers only spend the reserve, which heavy waiters
//     never count on, so the first heavy waiter is served once the heavy
//     reservations before it are released. A heavy request larger than
//     what heavy tenants may hold (the budget minus the reserve) is served
//     once it fits, and nobody passes it meanwhile: it runs alone, as every
//     request did before there was a reserve.
//   - A request larger than the whole budget is capped at the budget (it
//     then runs alone): the per-resource limits decide what is too big.
//   - `shrink(to)` hands back what a reservation turned out not to need;
//     `release()` hands back the rest and ends it (the tenant holds one
//     fewer). Both are idempotent.
//   - `close(err)` rejects every waiter (shutdown).

export interface Reservation {
  readonly bytes: number;
  shrink(to: number): void;
  release(): void;
}

interface Waiter {
  bytes: number;
  tenant: string;
  resolve: (r: Reservation) => void;
  reject: (e: Error) => void;
}

export class ReadBudget {
  readonly total: number;
  /** Bytes kept for light tenants (a quarter of the budget). */
  readonly lightReserve: number;
  #free: number;
  /** Bytes held by reservations that passed a heavy waiter (at most the reserve). */
  #passed = 0;
  readonly #line: Waiter[] = [];
  /** Reservations alive per tenant (released ones excluded). */
  readonly #held = new Map<string, number>();
  #closed: Error | undefined;

  constructor(totalBytes: number) {
    if (!(totalBytes > 0)) throw new Error(`read budget must be > 0 bytes (got ${totalBytes})`);
    this.total = totalBytes;
    this.lightReserve = Math.floor(totalBytes / 4);
    this.#free = totalBytes;
  }

  get free(): number {
    return this.#free;
  }

  get waiting(): number {
    return this.#line.length;
  }

  reserve(bytes: number, tenant = ''): Promise<Reservation> {
    if (this.#closed) return Promise.reject(this.#closed);
    const want = Math.max(0, Math.min(this.total, Math.ceil(bytes)));
    return new Promise((resolve, reject) => {
      this.#line.push({ bytes: want, tenant, resolve, reject });
      this.#grant();
    });
  }

  close(err: Error): void {
    this.#closed = err;
    for (const w of this.#line.splice(0)) w.reject(err);
  }

  #heavy(tenant: string): boolean {
    return (this.#held.get(tenant) ?? 0) > 0;
  }

  /** More than heavy tenants may hold: served once it fits, and nobody passes it meanwhile. */
  #oversized(w: Waiter): boolean {
    return w.bytes > this.total - this.lightReserve;
  }

  /**
   * The waiter to serve now, if any. In arrival order: the first heavy
   * waiter if it fits beside the unspent reserve (later heavy ones wait
   * behind it); the first light waiter if it fits, by passing a heavy
   * waiter that does not fit only within the reserve.
   */
  #next(): { index: number; passing: boolean } | undefined {
    let blocked: Waiter | undefined; // the first heavy waiter, when it does not fit yet
    for (let index = 0; index < this.#line.length; index++) {
      const w = this.#line[index]!;
      if (this.#heavy(w.tenant)) {
        if (blocked) continue;
        const fits = this.#oversized(w) ? w.bytes <= this.#free : w.bytes <= this.#free - (this.lightReserve - this.#passed);
        if (fits) return { index, passing: false };
        blocked = w;
        continue;
      }
      if (w.bytes > this.#free) return undefined; // light waiters keep their order too
      if (!blocked) return { index, passing: false };
      const withinReserve = this.#passed + w.bytes <= this.lightReserve && !this.#oversized(blocked);
      return withinReserve ? { index, passing: true } : undefined;
    }
    return undefined;
  }

  #grant(): void {
    for (let next = this.#next(); next; next = this.#next()) this.#serve(next.index, next.passing);
  }

  #serve(index: number, passing: boolean): void {
    const [w] = this.#line.splice(index, 1);
    this.#free -= w!.bytes;
    if (passing) this.#passed += w!.bytes;
    this.#held.set(w!.tenant, (this.#held.get(w!.tenant) ?? 0) + 1);
    w!.resolve(this.#reservation(w!.bytes, w!.tenant, passing));
  }

  #reservation(bytes: number, tenant: string, passing: boolean): Reservation {
    let held = bytes;
    let live = true;
    const giveBack = (amount: number) => {
      if (amount > 0) {
        held -= amount;
        this.#free += amount;
        if (passing) this.#passed -= amount;
      }
    };
    return {
      get bytes() {
        return held;
      },
      shrink: (to: number) => {
        giveBack(held - Math.max(0, Math.min(held, Math.ceil(to))));
        this.#grant();
      },
      release: () => {
        giveBack(held);
        if (live) {
          live = false;
          const n = (this.#held.get(tenant) ?? 1) - 1;
          if (n > 0) this.#held.set(tenant, n);
          else this.#held.delete(tenant);
        }
        this.#grant();
      },
    };
  }
}

/** Heap a Secret of `dataBytes` (decoded size) costs while it is held: the base64 text plus the decoded payload. */
export function secretFootprint(dataBytes: number): number {
  return Math.ceil(dataBytes * (4 / 3)) + dataBytes + 4096;
}

/** What to reserve per Secret before its size is known: the largest a Secret can be. */
export const MAX_SECRET_FOOTPRINT = secretFootprint(1024 * 1024);
