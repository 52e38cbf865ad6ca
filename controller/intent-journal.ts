// The intent journal: one ConfigMap in the controller's namespace recording
// which writes to new Vault paths are under way, so that a write that lands
// in Vault just before the process dies is recognised as ours afterwards,
// and cleaned up if its resource went away meanwhile.
//
// Why a journal and not the resource: the first write to a path has no
// ownership marker in Vault yet (it goes out later, in spare budget), and
// the resource's signed ledger is patched only after the write. The intent
// used to be one more patch of the resource before each such write (its
// finalizer and the data tag about to be sent): one apiserver write and one
// watch event per new path, on the user's object (41 patches for a
// 200-volume Deployment). The journal is written once for every intent
// that arrives while its previous patch is in flight (group commit), is not
// watched, and users cannot write it (RBAC: the controller's namespace).
//
// Contract:
//   - `load()` reads the journal (creating it when absent) at the start of
//     work, before any reconcile: entries whose MAC verifies are inherited
//     from the previous process; others are dropped (never trusted).
//   - `record(entries)` resolves once every entry is in the journal (one
//     merge patch carries all entries recorded within `lingerMs` of the
//     first, or while the previous patch was in flight); it rejects when
//     that patch failed, and the caller must then not write. An entry for an owner and path already journaled adds
//     its tags to the entry's (writer.keptMaybeTags).
//   - `tags(owner, path)` are the data tags journaled there: the writer's
//     `maybeTags` (an unmarked version holding one of them is ours).
//   - `entriesOf(resource)` and `all()` list what is journaled; `drop(ids)`
//     removes entries (with the next patch, or `flushDelayMs` later when no
//     write comes first). Removal is lazy: an entry that outlives its need
//     costs a read at most, never a wrong decision.
//   - Only the leader writes (the caller passes a fenced client); nobody
//     else writes this object, so patches never conflict.
import { ACCEPT_METADATA, MERGE_PATCH, isKubeError, type KubeHttp } from '../shared/kube/http.ts';
import type { LedgerKey } from '../shared/ledger.ts';
import type { Logger } from '../shared/log.ts';
import { systemClock, type Clock, type Timer } from '../shared/clock.ts';
import { keptMaybeTags } from '../shared/writer.ts';
import { decodeEntry, encodeEntry, entryId, type JournalEntry } from './journal-entries.ts';

export interface JournalMetrics {
  entries: { set(n: number): void };
  rejected: { inc(n?: number): void };
}

export class IntentJournal {
  readonly #http: KubeHttp;
  readonly #key: LedgerKey;
  readonly #path: string;
  readonly #namespace: string;
  readonly #name: string;
  readonly #clock: Clock;
  readonly #log: Logger | undefined;
  readonly #metrics: JournalMetrics | undefined;
  readonly #flushDelayMs: number;
  readonly #lingerMs: number;
  #lingerTimer: Timer | undefined;
  /** Entry id -> entry: what the journal holds, as this process knows it. */
  readonly #entries = new Map<string, JournalEntry>();
  /** "owner\npath" -> entry id: every write asks for its path's tags, and hashing for the id each time showed in profiles. */
  readonly #ids = new Map<string, string>();
  /** Resource key -> its entry ids (every reconcile asks; nearly always none). */
  readonly #byResource = new Map<string, Set<string>>();
  /** Changes for the next patch: id -> encoded entry, or null to remove it. */
  #changes = new Map<string, string | null>();
  #waiters: { resolve: () => void; reject: (err: unknown) => void }[] = [];
  #inFlight: Promise<void> | undefined;
  #flushTimer: Timer | undefined;

  constructor(opts: { http: KubeHttp; key: LedgerKey; namespace: string; name: string; clock?: Clock; log?: Logger; metrics?: JournalMetrics; flushDelayMs?: number; lingerMs?: number }) {
    this.#http = opts.http;
    this.#key = opts.key;
    this.#namespace = opts.namespace;
    this.#name = opts.name;
    this.#path = `/api/v1/namespaces/${encodeURIComponent(opts.namespace)}/configmaps/${encodeURIComponent(opts.name)}`;
    this.#clock = opts.clock ?? systemClock;
    this.#log = opts.log;
    this.#metrics = opts.metrics;
    this.#flushDelayMs = opts.flushDelayMs ?? 2000;
    // Reconciles start in groups (the throttle grants a backlog's tokens five at a time) and reach
    // this point within milliseconds of each other: a short wait lets one patch carry them all.
    this.#lingerMs = opts.lingerMs ?? 10;
  }

  /** "namespace/name" of the ConfigMap, for messages. */
  get ref(): string {
    return `${this.#namespace}/${this.#name}`;
  }

  async load(): Promise<void> {
    let cm = await this.#http.request<{ data?: Record<string, string> }>('GET', this.#path, { allow404: true });
    if (!cm) {
      try {
        cm = await this.#create({});
      } catch (err) {
        if (!isKubeError(err, 409)) throw err; // created meanwhile (another replica before it lost the lease): read it
        cm = await this.#http.request('GET', this.#path);
      }
    }
    this.#entries.clear();
    this.#ids.clear();
    this.#byResource.clear();
    let rejected = 0;
    for (const [id, text] of Object.entries(cm?.data ?? {})) {
      const entry = decodeEntry(this.#key, id, text);
      if (entry) this.#put(id, entry);
      else {
        rejected++;
        this.#changes.set(id, null);
      }
    }
    if (rejected > 0) {
      this.#metrics?.rejected.inc(rejected);
      this.#log?.warn('intent journal entries that do not verify were dropped', { configMap: this.ref, count: rejected });
      this.#scheduleFlush();
    }
    if (this.#entries.size > 0) this.#log?.info('intent journal: writes of the previous process may have landed', { configMap: this.ref, entries: this.#entries.size });
    this.#metrics?.entries.set(this.#entries.size);
  }

  record(entries: readonly JournalEntry[]): Promise<void> {
    if (entries.length === 0) return Promise.resolve();
    for (const e of entries) {
      const id = this.#ids.get(`${e.owner}\n${e.path}`) ?? entryId(e.owner, e.path);
      const before = this.#entries.get(id);
      const tags = keptMaybeTags([...new Set([...(before?.tags ?? []), ...e.tags])]);
      const entry = { ...e, tags };
      this.#put(id, entry);
      this.#changes.set(id, encodeEntry(this.#key, entry));
    }
    this.#metrics?.entries.set(this.#entries.size);
    const done = new Promise<void>((resolve, reject) => this.#waiters.push({ resolve, reject }));
    if (this.#lingerMs <= 0) this.#kick();
    else if (!this.#inFlight && !this.#lingerTimer) {
      this.#lingerTimer = this.#clock.setTimer(() => {
        this.#lingerTimer = undefined;
        this.#kick();
      }, this.#lingerMs);
    }
    return done;
  }

  tags(owner: string, path: string): string[] {
    const id = this.#ids.get(`${owner}\n${path}`);
    return id === undefined ? [] : this.#entries.get(id)!.tags;
  }

  entriesOf(resource: string): [string, JournalEntry][] {
    const ids = this.#byResource.get(resource);
    return ids ? [...ids].map((id) => [id, this.#entries.get(id)!]) : [];
  }

  all(): [string, JournalEntry][] {
    return [...this.#entries];
  }

  get size(): number {
    return this.#entries.size;
  }

  drop(ids: Iterable<string>): void {
    let any = false;
    for (const id of ids) {
      const entry = this.#entries.get(id);
      if (!entry) continue;
      this.#entries.delete(id);
      this.#ids.delete(`${entry.owner}\n${entry.path}`);
      const ofResource = this.#byResource.get(entry.resource)!;
      ofResource.delete(id);
      if (ofResource.size === 0) this.#byResource.delete(entry.resource);
      this.#changes.set(id, null);
      any = true;
    }
    if (!any) return;
    this.#metrics?.entries.set(this.#entries.size);
    this.#scheduleFlush();
  }

  /** Sends what is pending now (shutdown, tests). */
  async flush(): Promise<void> {
    this.#flushTimer?.cancel();
    this.#flushTimer = undefined;
    this.#lingerTimer?.cancel();
    this.#lingerTimer = undefined;
    while (this.#inFlight || this.#changes.size > 0) {
      this.#kick();
      await this.#inFlight?.catch(() => {});
    }
  }

  #put(id: string, entry: JournalEntry): void {
    this.#entries.set(id, entry);
    this.#ids.set(`${entry.owner}\n${entry.path}`, id);
    let ofResource = this.#byResource.get(entry.resource);
    if (!ofResource) this.#byResource.set(entry.resource, (ofResource = new Set()));
    ofResource.add(id);
  }

  // Removals alone wait: the next record carries them, or this timer does.
  #scheduleFlush(): void {
    if (this.#flushTimer) return;
    this.#flushTimer = this.#clock.setTimer(() => {
      this.#flushTimer = undefined;
      this.#kick();
    }, this.#flushDelayMs, { unref: true });
  }

  #kick(): void {
    if (this.#inFlight || this.#changes.size === 0) return;
    this.#lingerTimer?.cancel();
    this.#lingerTimer = undefined;
    const changes = this.#changes;
    const waiters = this.#waiters;
    this.#changes = new Map();
    this.#waiters = [];
    this.#inFlight = this.#send(changes).then(
      () => {
        for (const w of waiters) w.resolve();
      },
      (err: unknown) => {
        // The patch may or may not have applied: send these changes again with the next one (later changes win).
        for (const [id, v] of changes) if (!this.#changes.has(id)) this.#changes.set(id, v);
        for (const w of waiters) w.reject(err);
      },
    ).finally(() => {
      this.#inFlight = undefined;
      if (this.#waiters.length > 0) this.#kick();
      else if (this.#changes.size > 0) this.#scheduleFlush();
    });
  }

  async #send(changes: Map<string, string | null>): Promise<void> {
    const patch = { data: Object.fromEntries(changes) };
    const patched = await this.#http.request('PATCH', this.#path, { body: patch, contentType: MERGE_PATCH, accept: ACCEPT_METADATA, allow404: true });
    if (patched) return;
    // Deleted under us (by a person): recreate it with what this process knows, then it is current again.
    const data: Record<string, string> = {};
    for (const [id, e] of this.#entries) data[id] = encodeEntry(this.#key, e);
    await this.#create(data);
  }

  #create(data: Record<string, string>): Promise<{ data?: Record<string, string> }> {
    return this.#http.request('POST', `/api/v1/namespaces/${encodeURIComponent(this.#namespace)}/configmaps`, {
      body: { metadata: { name: this.#name, labels: { 'app.kubernetes.io/managed-by': 'vault-sync-operator' } }, data },
      accept: ACCEPT_METADATA,
    });
  }
}
