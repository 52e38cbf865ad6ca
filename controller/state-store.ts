// What /state serves beyond the annotations: per-resource details that only
// live in the controller's memory (last error text, last check time).
// Never values.
import type { ResourceExtrasWire as ResourceExtras } from '../shared/contract/state.ts';

export type { ResourceExtras };

export class StateStore {
  readonly #entries = new Map<string, ResourceExtras>();
  readonly #now: () => Date;

  constructor(now: () => Date = () => new Date()) {
    this.#now = now;
  }

  set(key: string, extras: Omit<ResourceExtras, 'checkedAt'>): void {
    if (!extras.lastError && !this.#entries.has(key)) return; // healthy and never failed: nothing to keep
    this.#entries.set(key, { ...this.#entries.get(key), ...extras, checkedAt: this.#now().toISOString() });
  }

  touch(key: string): void {
    const entry = this.#entries.get(key);
    // A resource that never failed needs no entry just to say when it was checked.
    if (entry) entry.checkedAt = this.#now().toISOString();
  }

  get(key: string): ResourceExtras | undefined {
    return this.#entries.get(key);
  }

  delete(key: string): void {
    this.#entries.delete(key);
  }
}
