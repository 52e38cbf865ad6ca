// Ownership markers written off the critical path.
//
// After a write, the key's custom_metadata (owner, content-hash,
// synced-version, see ownership.ts) is often only out of date, not wrong:
// the controller's authenticated ledger and its memory already prove what
// it wrote. Those marker updates wait here and go out through the
// throttle's background lane, which only spends tokens the foreground would
// waste, so they never delay a sync while the throttle binds.
//
// Contract:
//   - One pending marker per path; a newer one replaces it (the latest
//     version wins). Markers go out one at a time, oldest path first.
//   - `drop(key)` forgets a pending marker (the path was deleted, or its
//     marker was just written on the critical path).
//   - At most `maxPending` paths wait; beyond that the oldest is dropped and
//     counted (its marker stays stale until the next write: a redundant
//     write after a restart at worst, never a wrong "unchanged").
//   - A 404 means the path is gone: dropped. Other failures were already
//     retried by the client; they are logged and dropped.
//   - `stop()` ends the loop; what is pending is abandoned (safe, as above).
import { isSyncError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { LogicalPath } from '../paths.ts';
import type { KvOperations } from './kv.ts';

export interface MarkerMetrics {
  markersWritten?: { inc(labels: { lane: string; result: string }): void };
}

interface PendingMarker {
  path: LogicalPath;
  meta: Record<string, string | null>;
}

export class MarkerQueue {
  readonly #kv: Pick<KvOperations, 'patchMetadata'>;
  readonly #log: Logger | undefined;
  readonly #metrics: MarkerMetrics | undefined;
  readonly #maxPending: number;
  readonly #pending = new Map<string, PendingMarker>();
  #running = false;
  #stopped = false;
  #idle: (() => void)[] = [];

  constructor(opts: { kv: Pick<KvOperations, 'patchMetadata'>; log?: Logger; metrics?: MarkerMetrics; maxPending?: number }) {
    this.#kv = opts.kv;
    this.#log = opts.log;
    this.#metrics = opts.metrics;
    this.#maxPending = opts.maxPending ?? 20_000;
  }

  #sending = 0;

  /** Markers not yet written: queued, plus the one being sent (a gauge at 0 means no marker request is outstanding). */
  get pending(): number {
    return this.#pending.size + this.#sending;
  }

  enqueue(key: string, path: LogicalPath, meta: Record<string, string | null>): void {
    if (this.#stopped) return;
    // Re-inserting moves the path to the back: Map keeps insertion order.
    this.#pending.delete(key);
    this.#pending.set(key, { path, meta });
    while (this.#pending.size > this.#maxPending) {
      const oldest = this.#pending.keys().next().value!;
      this.#pending.delete(oldest);
      this.#metrics?.markersWritten?.inc({ lane: 'background', result: 'dropped' });
    }
    if (!this.#running) void this.#drain();
  }

  drop(key: string): void {
    this.#pending.delete(key);
  }

  /** Resolves once nothing is pending (tests, benchmarks, graceful shutdown). */
  whenIdle(): Promise<void> {
    if (!this.#running && this.#pending.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  stop(): void {
    this.#stopped = true;
    this.#pending.clear();
  }

  async #drain(): Promise<void> {
    this.#running = true;
    try {
      while (!this.#stopped && this.#pending.size > 0) {
        const [key, marker] = this.#pending.entries().next().value!;
        this.#pending.delete(key);
        this.#sending++;
        try {
          await this.#kv.patchMetadata(marker.path, marker.meta, { lane: 'background' });
          this.#metrics?.markersWritten?.inc({ lane: 'background', result: 'written' });
        } catch (err) {
          const reason = isSyncError(err) ? err.reason : 'Internal';
          this.#metrics?.markersWritten?.inc({ lane: 'background', result: 'failed' });
          this.#log?.debug('ownership marker not written', { reason });
        } finally {
          this.#sending--;
        }
      }
    } finally {
      this.#running = false;
      if (this.#pending.size === 0) for (const resolve of this.#idle.splice(0)) resolve();
      else if (!this.#stopped) void this.#drain();
    }
  }
}
