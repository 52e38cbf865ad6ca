// A global memory budget in front of Secret reads.
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
//   - `reserve(bytes)` waits until that many bytes are free, first come
//     first served, and resolves with a Reservation. All of it at once, so
//     no two reconciles can deadlock holding halves of what they need.
//   - A request larger than the whole budget is capped at the budget (it
//     then runs alone): the per-resource limits decide what is too big.
//   - `shrink(to)` hands back what a reservation turned out not to need;
//     `release()` hands back the rest. Both are idempotent.
//   - `close(err)` rejects every waiter (shutdown).

export interface Reservation {
  readonly bytes: number;
  shrink(to: number): void;
  release(): void;
}

export class ReadBudget {
  readonly total: number;
  #free: number;
  readonly #line: { bytes: number; resolve: (r: Reservation) => void; reject: (e: Error) => void }[] = [];
  #closed: Error | undefined;

  constructor(totalBytes: number) {
    if (!(totalBytes > 0)) throw new Error(`read budget must be > 0 bytes (got ${totalBytes})`);
    this.total = totalBytes;
    this.#free = totalBytes;
  }

  get free(): number {
    return this.#free;
  }

  get waiting(): number {
    return this.#line.length;
  }

  reserve(bytes: number): Promise<Reservation> {
    if (this.#closed) return Promise.reject(this.#closed);
    const want = Math.max(0, Math.min(this.total, Math.ceil(bytes)));
    return new Promise((resolve, reject) => {
      this.#line.push({ bytes: want, resolve, reject });
      this.#grant();
    });
  }

  close(err: Error): void {
    this.#closed = err;
    for (const w of this.#line.splice(0)) w.reject(err);
  }

  #grant(): void {
    while (this.#line.length > 0 && this.#line[0]!.bytes <= this.#free) {
      const w = this.#line.shift()!;
      this.#free -= w.bytes;
      w.resolve(this.#reservation(w.bytes));
    }
  }

  #reservation(bytes: number): Reservation {
    let held = bytes;
    const giveBack = (amount: number) => {
      if (amount <= 0) return;
      held -= amount;
      this.#free += amount;
      this.#grant();
    };
    return {
      get bytes() {
        return held;
      },
      shrink: (to: number) => giveBack(held - Math.max(0, Math.min(held, Math.ceil(to)))),
      release: () => giveBack(held),
    };
  }
}

/** Heap a Secret of `dataBytes` (decoded size) costs while it is held: the base64 text plus the decoded payload. */
export function secretFootprint(dataBytes: number): number {
  return Math.ceil(dataBytes * (4 / 3)) + dataBytes + 4096;
}

/** What to reserve per Secret before its size is known: the largest a Secret can be. */
export const MAX_SECRET_FOOTPRINT = secretFootprint(1024 * 1024);
