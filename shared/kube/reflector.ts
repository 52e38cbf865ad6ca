// A supervised list+watch ("reflector") that keeps a local cache of one
// resource type and reports every change.
//
// Contract:
//   - `start()` resolves after the first successful list; the cache then
//     holds every object the projection kept.
//   - Watches resume from the last resourceVersion seen (bookmarks
//     included). 410 Gone, or an ERROR event, triggers a relist; the
//     relist is diffed against the cache, so handlers see ADDED / MODIFIED /
//     DELETED for exactly what changed while the watch was down.
//   - Any other failure (network, 401/403, 5xx, a list error) never stops
//     the reflector: it retries with capped exponential backoff and jitter,
//     forever, until `stop()`.
//   - Health is reported as typed events, for readiness and metrics.
//   - Handlers are called synchronously and must not throw (they should
//     only enqueue keys); a throw is caught and reported, never propagated.
//
// `project` turns an API object into what the cache keeps (drop managedFields,
// keep only the fields the controller reads), or undefined to keep nothing.
// That keeps memory flat with thousands of objects.
// Time (backoff sleeps, deadlines, jitter, failing-for) comes from an injected Clock.
import { systemClock, type Clock } from '../clock.ts';
import type { Logger } from '../log.ts';
import { Backoff, type BackoffPolicy } from '../retry.ts';
import { ACCEPT_JSON, ACCEPT_METADATA, ACCEPT_METADATA_LIST, KubeHttpError, type KubeHttp } from './http.ts';

/** Relist/rewatch backoff: 0.5 s doubling to 30 s, equal jitter. */
export const REFLECTOR_BACKOFF: BackoffPolicy = { baseMs: 500, maxMs: 30_000, jitter: 'equal' };
/** How long past the server-side watch timeout the client waits before abandoning a silent stream. */
export const WATCH_GRACE_MS = 30_000;
/** How long stop() waits for the loop to end. */
export const STOP_WAIT_MS = 5000;

export type ChangeType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface ObjectMeta {
  name?: string;
  namespace?: string;
  resourceVersion?: string;
  uid?: string;
  generation?: number;
  annotations?: Record<string, string>;
  labels?: Record<string, string>;
  finalizers?: string[];
  deletionTimestamp?: string | Date;
}

export interface Projected {
  metadata: ObjectMeta;
}

export type ReflectorHealth =
  | { kind: 'listed'; objects: number; relist: boolean }
  | { kind: 'watching' }
  | { kind: 'relist'; reason: 'gone' | 'error-event' }
  | { kind: 'error'; phase: 'list' | 'watch'; error: string; status?: number; retryInMs: number }
  | { kind: 'stopped' };

export interface ReflectorOptions<T extends Projected> {
  /** Short name for logs and metrics, e.g. "deployments". */
  name: string;
  http: Pick<KubeHttp, 'request' | 'open'>;
  /** Collection path, e.g. /apis/apps/v1/deployments or /api/v1/namespaces/ns/secrets. */
  path: string;
  metadataOnly?: boolean;
  labelSelector?: string;
  /** e.g. metadata.name=x: one object (RBAC resourceNames can then limit list and watch to it). */
  fieldSelector?: string;
  project: (obj: any) => T | undefined;
  onChange: (type: ChangeType, key: string, next: T | undefined, prev: T | undefined) => void;
  onHealth?: (event: ReflectorHealth) => void;
  log?: Logger;
  /** Defaults to REFLECTOR_BACKOFF; `jitter` defaults to 'equal'. */
  backoff?: BackoffPolicy;
  pageSize?: number;
  watchTimeoutSeconds?: number;
  clock?: Clock;
}

export function objectKey(meta: ObjectMeta | undefined): string {
  // Flat, not a rope: the store keeps it (see resources.ts, resourceKey).
  return meta?.namespace ? [meta.namespace, meta.name].join('/') : String(meta?.name);
}

export class Reflector<T extends Projected> {
  readonly store = new Map<string, T>();
  readonly #o: ReflectorOptions<T>;
  #rv: string | undefined;
  #stopped = false;
  #abort = new AbortController();
  #synced = false;
  #failingSince: number | undefined;
  #loop: Promise<void> | undefined;
  #stream: { cancel(): void } | undefined;
  readonly #clock: Clock;

  constructor(opts: ReflectorOptions<T>) {
    this.#o = opts;
    this.#clock = opts.clock ?? systemClock;
  }

  get synced(): boolean {
    return this.#synced;
  }

  /** Milliseconds the reflector has been failing to list or watch, or 0 when fine. */
  failingForMs(): number {
    return this.#failingSince === undefined ? 0 : this.#clock.now() - this.#failingSince;
  }

  start(): Promise<void> {
    let resolveSynced!: () => void;
    const synced = new Promise<void>((r) => (resolveSynced = r));
    this.#loop = this.#run(resolveSynced);
    return synced;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#abort.abort();
    // Ends a body being read even on a runtime that stops heeding the abort
    // signal once the body flows (Deno did, with web streams).
    this.#stream?.cancel();
    const giveUp = new AbortController();
    await Promise.race([this.#loop, this.#clock.sleep(STOP_WAIT_MS, giveUp.signal).catch(() => {})]);
    giveUp.abort();
    this.#o.onHealth?.({ kind: 'stopped' });
  }

  #emit(type: ChangeType, key: string, next: T | undefined, prev: T | undefined): void {
    try {
      this.#o.onChange(type, key, next, prev);
    } catch (err) {
      this.#o.log?.error('watch handler threw; event dropped', { watch: this.#o.name, key, error: err instanceof Error ? err.message : String(err) });
    }
  }

  async #run(onSynced: () => void): Promise<void> {
    const backoff = new Backoff({ jitter: 'equal', ...(this.#o.backoff ?? REFLECTOR_BACKOFF) }, () => this.#clock.random());
    while (!this.#stopped) {
      let phase: 'list' | 'watch' = 'list';
      try {
        if (this.#rv === undefined) {
          await this.#list();
          if (!this.#synced) {
            this.#synced = true;
            onSynced();
          }
        }
        phase = 'watch';
        await this.#watch(() => {
          backoff.reset();
          this.#failingSince = undefined;
        });
      } catch (err) {
        if (this.#stopped) break;
        if (err instanceof GoneError) {
          this.#rv = undefined;
          this.#o.onHealth?.({ kind: 'relist', reason: err.fromEvent ? 'error-event' : 'gone' });
          continue;
        }
        this.#failingSince ??= this.#clock.now();
        const retryInMs = backoff.next();
        const error = err instanceof Error ? err.message : String(err);
        const status = err instanceof KubeHttpError ? err.status : undefined;
        this.#o.onHealth?.({ kind: 'error', phase, error, ...(status ? { status } : {}), retryInMs });
        this.#o.log?.warn('watch failed; retrying', { watch: this.#o.name, phase, error, retryInMs });
        try {
          await this.#clock.sleep(retryInMs, this.#abort.signal);
        } catch {
          break;
        }
      }
    }
  }

  async #list(): Promise<void> {
    const relist = this.#synced;
    const seen = new Map<string, T>();
    let continueToken: string | undefined;
    let rv: string | undefined;
    do {
      const page: any = await this.#o.http.request('GET', this.#o.path, {
        accept: this.#o.metadataOnly ? ACCEPT_METADATA_LIST : ACCEPT_JSON,
        query: { limit: this.#o.pageSize ?? 500, continue: continueToken, labelSelector: this.#o.labelSelector, fieldSelector: this.#o.fieldSelector },
        signal: this.#abort.signal,
      });
      for (const item of page.items ?? []) {
        const projected = this.#o.project(item);
        if (projected) seen.set(objectKey(item.metadata), projected);
      }
      continueToken = page.metadata?.continue || undefined;
      rv = page.metadata?.resourceVersion;
    } while (continueToken);

    // Diff against the cache, so a relist reports exactly what changed.
    for (const [key, prev] of [...this.store]) {
      if (!seen.has(key)) {
        this.store.delete(key);
        this.#emit('DELETED', key, undefined, prev);
      }
    }
    for (const [key, next] of seen) {
      const prev = this.store.get(key);
      this.store.set(key, next);
      if (!prev) this.#emit('ADDED', key, next, undefined);
      else if (prev.metadata.resourceVersion !== next.metadata.resourceVersion) this.#emit('MODIFIED', key, next, prev);
    }
    this.#rv = rv;
    this.#o.onHealth?.({ kind: 'listed', objects: seen.size, relist });
  }

  async #watch(onConnected: () => void): Promise<void> {
    const timeoutSeconds = this.#o.watchTimeoutSeconds ?? 300;
    const res = await this.#o.http.open('GET', this.#o.path, {
      accept: this.#o.metadataOnly ? ACCEPT_METADATA : ACCEPT_JSON,
      query: {
        watch: 1,
        allowWatchBookmarks: true,
        resourceVersion: this.#rv,
        timeoutSeconds,
        labelSelector: this.#o.labelSelector,
        fieldSelector: this.#o.fieldSelector,
      },
      signal: this.#abort.signal,
    });
    if (res.status === 410) {
      res.cancel();
      throw new GoneError(false);
    }
    if (res.status !== 200) {
      res.cancel();
      throw new KubeHttpError('WATCH', this.#o.path, res.status, undefined);
    }
    onConnected();
    this.#o.onHealth?.({ kind: 'watching' });
    const decoder = new TextDecoder();
    let buffered = '';
    this.#stream = res;
    // The server ends the watch after timeoutSeconds; past that (plus grace) the stream is dead.
    const giveUp = this.#clock.setTimer(() => {
      this.#o.log?.warn('watch stream silent past its timeout; reconnecting', { watch: this.#o.name });
      res.cancel();
    }, timeoutSeconds * 1000 + WATCH_GRACE_MS, { unref: true });
    try {
      for await (const chunk of res.chunks()) {
        if (this.#stopped) break;
        buffered += decoder.decode(chunk, { stream: true });
        let newline: number;
        while ((newline = buffered.indexOf('\n')) >= 0) {
          const line = buffered.slice(0, newline);
          buffered = buffered.slice(newline + 1);
          if (line.trim()) this.#handleLine(line);
        }
      }
    } finally {
      giveUp.cancel();
      // An ERROR event ends the loop early: release the connection either way.
      res.cancel();
      if (this.#stream === res) this.#stream = undefined;
    }
  }

  #handleLine(line: string): void {
    const event = JSON.parse(line) as { type: string; object: any };
    const obj = event.object;
    if (event.type === 'ERROR') {
      // A Status object; 410 means our resourceVersion is too old.
      throw new GoneError(true);
    }
    const rv = obj?.metadata?.resourceVersion;
    if (rv) this.#rv = rv;
    if (event.type === 'BOOKMARK') return;
    const key = objectKey(obj.metadata);
    const prev = this.store.get(key);
    if (event.type === 'DELETED') {
      if (prev) this.store.delete(key);
      const gone = this.#o.project(obj);
      this.#emit('DELETED', key, undefined, prev ?? gone);
      return;
    }
    const next = this.#o.project(obj);
    if (next) this.store.set(key, next);
    else if (prev) this.store.delete(key);
    if (!next && !prev) return;
    if (!next) this.#emit('DELETED', key, undefined, prev);
    else this.#emit(prev ? 'MODIFIED' : 'ADDED', key, next, prev);
  }
}

class GoneError extends Error {
  readonly fromEvent: boolean;
  constructor(fromEvent: boolean) {
    super('watch resourceVersion expired');
    this.fromEvent = fromEvent;
  }
}
