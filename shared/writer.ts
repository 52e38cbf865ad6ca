// The batch writer: validated, policy-checked, ownership-safe writes and
// deletes, in batches, with retries, over the one throttled Vault client.
//
// Contract:
//   - `run(ops)` resolves with exactly one result per op, in order, and
//     never rejects: one failed op never stops the rest of its batch.
//   - Ops run in batches of `batchSize`; the ops of a batch run together,
//     batches one after another, `batchDelay` apart. Both can be retuned
//     while running (`setBatchSize`, `setBatchDelay`): a run already past a
//     batch boundary uses the new values from its next batch on.
//   - Transient request failures are retried by the Vault client, request
//     by request (honouring Retry-After); a CAS mismatch retries the whole
//     op here (read, decide, write again), with the same backoff. Terminal
//     failures fail at once with their typed error.
//   - Nothing is sent for a path the policy refuses (writes and deletes
//     alike) or a document whose stored form exceeds the storage's entry
//     limit (vault/entry-size.ts); a write the server refuses as too large
//     fails the same way, terminal, with the same fix.
//   - A secret someone else owns is never overwritten or deleted unless
//     adoption is allowed for that op; a refusal names the other owner only
//     when it lives in the same namespace and cluster.
//
// Where the truth lives, and what it costs (KV v2 requests on the critical
// path, i.e. what a sync waits for while the throttle binds):
//   1. Vault's check-and-set is the arbiter. `cas=0` only creates; `cas=N`
//      only succeeds if nobody wrote since version N. So a write on top of
//      a version we know we wrote needs no read first: if anyone wrote in
//      between, the CAS fails and we read (a foreign write is detected).
//   2. What we wrote is known from this process's memory, or, after a
//      restart, from the resource's ledger annotation (version + content
//      tag per path) when its MAC under the controller's key verifies
//      (ledger.ts): a forged or copied ledger grants nothing.
//   3. A ledger can still be replayed on its own resource (an old, validly
//      signed copy). The reconciler therefore marks an op `contested` when
//      any other tracked resource claims the same path; then what we know
//      stands in for nothing, and Vault's ownership marker decides.
//   4. The marker (custom_metadata: managed-by, owner, content-hash,
//      synced-version, base64-keys) is bookkeeping for readers, restarts
//      without a trusted ledger, and other clusters. It is written on the
//      critical path only when it must be (taking a path over; the base64
//      key list changed), otherwise through the throttle's background lane,
//      which spends only tokens the foreground would waste.
//   Costs: create 1 (write cas=0) · update of a path we wrote 1 (write
//   cas=known) · unchanged 0 (known tag equals the new one) · periodic
//   verify 1 (metadata read) · delete of a path we own 1 · anything
//   uncertain adds one metadata read. KV v1 has neither CAS nor metadata:
//   every op reads the data first (2 per write), and only content equal to
//   what we last wrote proves a v1 path ours.
//
// Crash safety (any point, any order): Vault is written first, the ledger
// after. A crash after the write but before the ledger leaves a ledger one
// version behind: its CAS fails, we read, and the marker (or, for a create,
// the data itself) tells it is ours; at most one redundant version results.
// For a path the ledger does not know yet, the host journals the data tag
// before the write (controller/intent-journal.ts) and passes it back as
// `maybeTags`, so even changed data is recognised after a restart.
// Changed data can never read as unchanged: "unchanged" needs a tag equal to
// the new content's tag on the version live now.
//
// Writes nobody answered (a timeout, a dead connection, a server frozen and
// resumed) may still be applied later, and the transport's own retry may be
// the one answered. So every write's data tag is remembered before it is
// sent, in memory and, if the write fails, in the signed ledger (`try`),
// until a write is answered with success: an unmarked version holding one of
// those tags is ours and is claimed, not refused (fault row 3).
import { performance } from 'node:perf_hooks';
import { systemClock, type Clock } from './clock.ts';
import { asSyncError, OversizeError, OwnershipConflictError, VaultRequestError, type SyncError } from './errors.ts';
import type { LedgerKey } from './ledger.ts';
import type { Logger } from './log.ts';
import { countWriteError, type Metrics } from './metrics.ts';
import {
  checkLogicalPath, checkWrittenPath, logicalKey, toLogical,
  type LogicalPath, type PathPolicy, type PolicyContext, type VaultPath,
} from './paths.ts';
import { hashStored, type Payload } from './payload.ts';
import { DEFAULT_BACKOFF, withRetry, type BackoffPolicy } from './retry.ts';
import { withTenant } from './tenant.ts';
import { DEFAULT_MAX_ENTRY_BYTES, entryBytes } from './vault/entry-size.ts';
import type { KvOperations } from './vault/kv.ts';
import { MarkerQueue } from './vault/markers.ts';
import { keyListEntries, ownedMetadata, type ExistingSecret } from './vault/ownership.ts';
import {
  decideDeleteV1, decideDeleteV2, decideUpsertV1, decideUpsertV2, markerUrgency, type Known,
} from './write-decision.ts';

export const DEFAULT_BATCH_SIZE = 5;
/** Half of raft's default entry limit: a warning well before a write can fail. */
export const DEFAULT_LARGE_SECRET_BYTES = 512 * 1024;
const MAX_MAYBE = 4;

/**
 * The unanswered tags worth keeping: the oldest since the last answered write,
 * and the newest. When a frozen server wakes, it applies the first queued
 * write that still has the right cas and refuses the rest, so the oldest is
 * the likeliest to be in Vault (fault row 3); the newest cover a write lost
 * on a connection that died later.
 */
export function keptMaybeTags(tags: readonly string[]): string[] {
  return tags.length <= MAX_MAYBE ? [...tags] : [tags[0]!, ...tags.slice(-(MAX_MAYBE - 1))];
}

interface OpBase {
  /** Caller's correlation id, echoed in the result. */
  id: string;
  /** "Deployment team-a/web": names the resource in messages. */
  resource: string;
  path: VaultPath;
  ctx: PolicyContext;
  owner: string;
  /** Take over a secret owned by someone else (explicit adopt policy). */
  adopt?: boolean;
  /** What this resource's authenticated ledger says it wrote here. */
  known?: Known;
  /** Another tracked resource claims this path: what is known proves nothing. */
  contested?: boolean;
  /** Unauthenticated hint that the path exists (an unsigned ledger lists it): read before writing. */
  likelyExists?: boolean;
  /** From the authenticated ledger: data tags of writes sent but never answered (they may have landed). */
  maybeTags?: readonly string[];
}

export interface UpsertOp extends OpBase {
  kind: 'upsert';
  payload: Payload;
  /** Write even when the content is unchanged (rotation-check disabled, manual resync). */
  force?: boolean;
  /** Ask Vault instead of trusting what is known (periodic reconcile: restore deleted or drifted data). */
  verify?: boolean;
}

export interface DeleteOp extends OpBase {
  kind: 'delete';
  /** 'all' removes every version and the metadata; 'latest' soft-deletes the current version. */
  mode?: 'all' | 'latest';
}

export type WriteOp = UpsertOp | DeleteOp;

export type Outcome = 'created' | 'updated' | 'unchanged' | 'deleted' | 'absent' | 'failed';

export interface OpResult {
  id: string;
  kind: WriteOp['kind'];
  outcome: Outcome;
  /** Logical path ("secret/app"), once resolved. */
  path?: string;
  kvVersion?: 1 | 2;
  /** The KV version now holding our content (v2; 0 on v1). */
  version?: number;
  /** Content tag of what Vault holds from us now (for the ledger). */
  tag?: string;
  bytes?: number;
  large?: boolean;
  attempts: number;
  /** Vault requests this op made (instrumentation, tests, benchmarks). */
  requests: number;
  /** A write was sent and never answered (timeout, connection lost): these data tags may be in Vault now. */
  maybeTags?: string[];
  error?: SyncError;
}

export interface WriterOptions {
  kv: KvOperations;
  policy: PathPolicy;
  /** The controller's key: content tags stored in ledgers and markers. */
  ledgerKey: LedgerKey;
  batchSize?: number;
  backoff?: BackoffPolicy;
  largeSecretBytes?: number;
  /** The storage's entry limit (raft max_entry_size): larger documents are refused before sending. */
  maxEntryBytes?: number;
  /** Pause between two batches of one run, ms (default 0). */
  batchDelayMs?: number;
  defaultDeleteMode?: 'all' | 'latest';
  /** How many paths the writer remembers (version + tag) before it forgets the oldest. */
  memoryEntries?: number;
  /** This cluster's id (kube-system UID), recorded in markers and checked against them. */
  clusterId?: string;
  metrics?: Metrics;
  log?: Logger;
  signal?: AbortSignal;
  clock?: Clock;
}

interface Remembered extends Known {
  owner: string;
  /** Base64 key-list entries of the marker as we last left it. */
  meta: Record<string, string>;
}

/** The mutable part of one op's result, filled in as it runs. */
type Progress = Omit<OpResult, 'id' | 'kind' | 'outcome' | 'attempts' | 'error'>;

export class BatchWriter {
  readonly #o: Required<Pick<WriterOptions, 'batchSize' | 'batchDelayMs' | 'backoff' | 'largeSecretBytes' | 'maxEntryBytes' | 'defaultDeleteMode' | 'memoryEntries'>> & WriterOptions;
  /** What this process wrote last per logical path: versions and tags, never values. */
  readonly #memory = new Map<string, Remembered>();
  readonly #largePaths = new Set<string>();
  /** Data tags of unanswered writes per path (at most MAX_MAYBE): Vault may apply them after we gave up. */
  readonly #maybe = new Map<string, string[]>();
  /** Data tags of values objects already tagged (see #v1Tag); weak, so documents are never kept alive by it. */
  readonly #dataTags = new WeakMap<Record<string, string>, string>();
  readonly #markers: MarkerQueue;
  readonly #clock: Clock;

  constructor(opts: WriterOptions) {
    this.#o = {
      ...opts,
      batchSize: opts.batchSize ?? DEFAULT_BATCH_SIZE,
      backoff: opts.backoff ?? DEFAULT_BACKOFF,
      largeSecretBytes: opts.largeSecretBytes ?? DEFAULT_LARGE_SECRET_BYTES,
      maxEntryBytes: opts.maxEntryBytes ?? DEFAULT_MAX_ENTRY_BYTES,
      batchDelayMs: opts.batchDelayMs ?? 0,
      defaultDeleteMode: opts.defaultDeleteMode ?? 'all',
      memoryEntries: opts.memoryEntries ?? 200_000,
    };
    if (!(this.#o.batchSize >= 1)) throw new Error(`batch size must be >= 1 (got ${this.#o.batchSize})`);
    this.#clock = opts.clock ?? systemClock;
    this.#markers = new MarkerQueue({ kv: opts.kv, log: opts.log, metrics: opts.metrics ? { markersWritten: opts.metrics.markers } : undefined });
  }

  /** Content tag of a payload hash under the controller's key. */
  tag(hash: string): string {
    return this.#o.ledgerKey.contentTag(hash);
  }

  /** The tag of a document's data alone (what a later read of the data can recompute): intent records, unanswered writes. */
  dataTag(values: Record<string, string>): string {
    return this.#v1Tag(values);
  }

  /** Ownership markers waiting for spare throttle budget. */
  get pendingMarkers(): number {
    return this.#markers.pending;
  }

  /** Resolves when every pending marker has been written (tests, benchmarks). */
  markersIdle(): Promise<void> {
    return this.#markers.whenIdle();
  }

  stop(): void {
    this.#markers.stop();
  }

  /** Ops per batch from the next batch on (tuning at run time). */
  setBatchSize(size: number): void {
    if (!(Number.isInteger(size) && size >= 1)) throw new Error(`batch size must be a whole number >= 1 (got ${size})`);
    this.#o.batchSize = size;
  }

  /** Pause between batches from the next batch on, ms (tuning at run time). */
  setBatchDelay(ms: number): void {
    if (!(ms >= 0 && Number.isFinite(ms))) throw new Error(`batch delay must be >= 0 ms (got ${ms})`);
    this.#o.batchDelayMs = ms;
  }

  async run(ops: readonly WriteOp[]): Promise<OpResult[]> {
    const results: OpResult[] = [];
    for (let i = 0; i < ops.length; i += this.#o.batchSize) {
      if (i > 0 && this.#o.batchDelayMs > 0) await this.#clock.sleep(this.#o.batchDelayMs, this.#o.signal).catch(() => {});
      const batch = ops.slice(i, i + this.#o.batchSize);
      const started = performance.now();
      // Each op runs as its namespace: the throttle gives namespaces turns (tenant.ts).
      results.push(...(await Promise.all(batch.map((op) => withTenant(op.ctx.namespace, () => this.#runOne(op))))));
      this.#o.metrics?.batchSize.observe(batch.length);
      this.#o.metrics?.batchDuration.observe((performance.now() - started) / 1000);
    }
    return results;
  }

  async #runOne(op: WriteOp): Promise<OpResult> {
    const { metrics, log } = this.#o;
    let attempts = 0;
    const progress: Progress = { requests: 0 };
    try {
      const outcome = await withRetry(
        (attempt) => {
          attempts = attempt;
          // After a CAS mismatch, what we knew is stale: read before deciding again.
          const stale = attempt > 1;
          return op.kind === 'upsert' ? this.#upsert(op, progress, stale) : this.#delete(op, progress);
        },
        this.#o.backoff,
        {
          retryIf: (err) => err.reason === 'CasConflict',
          sleep: (ms, signal) => this.#clock.sleep(ms, signal), random: () => this.#clock.random(), signal: this.#o.signal,
          onRetry: (err, attempt, delayMs) => {
            log?.info('retrying vault operation', { resource: op.resource, op: op.kind, reason: err.reason, attempt, delayMs });
          },
        },
      );
      metrics?.batchOperations.inc({ operation: op.kind, result: outcome === 'unchanged' || outcome === 'absent' ? 'skipped' : 'success' });
      return { id: op.id, kind: op.kind, outcome, attempts, ...progress };
    } catch (err) {
      const error = this.#tooLarge(op, err) ?? asSyncError(err, `${op.resource}: vault ${op.kind}`);
      metrics?.batchOperations.inc({ operation: op.kind, result: 'failure' });
      countWriteError(metrics, error.reason);
      log?.warn('vault operation failed', { resource: op.resource, op: op.kind, reason: error.reason, error: error.message, attempts });
      return { id: op.id, kind: op.kind, outcome: 'failed', attempts, error, ...progress };
    }
  }

  async #resolve(op: WriteOp, progress: Progress): Promise<LogicalPath> {
    checkWrittenPath(this.#o.policy, op.path, op.ctx, op.resource);
    const mount = await this.#o.kv.resolveMount(op.path, op.resource);
    const logical = toLogical(op.path, mount, op.resource);
    checkLogicalPath(this.#o.policy, logical, op.ctx, op.resource);
    progress.path = logicalKey(logical);
    progress.kvVersion = logical.kvVersion;
    return logical;
  }

  /** What is known of our last write here: this process's memory first, else the authenticated ledger. */
  #known(key: string, op: WriteOp): Known | undefined {
    const remembered = this.#memory.get(key);
    if (remembered && remembered.owner === op.owner) return remembered;
    return op.known;
  }

  #remember(key: string, owner: string, version: number, tag: string, meta: Record<string, string>): void {
    this.#memory.delete(key); // re-insert: most recent last
    this.#memory.set(key, { owner, version, tag, meta });
    if (this.#memory.size > this.#o.memoryEntries) this.#memory.delete(this.#memory.keys().next().value!);
  }

  #trackSize(key: string, op: UpsertOp, progress: Progress): void {
    const { payload } = op;
    const large = payload.bytes > this.#o.largeSecretBytes;
    progress.bytes = payload.bytes;
    progress.large = large;
    if (large) {
      if (!this.#largePaths.has(key)) {
        this.#o.log?.warn('large secret', { resource: op.resource, path: key, bytes: payload.bytes, threshold: this.#o.largeSecretBytes });
      }
      this.#largePaths.add(key);
      // Large documents are remembered by tag only, never by value.
      this.#o.metrics?.memoryOptimizations.inc({ optimization: 'hash_only_cache' });
    } else {
      this.#largePaths.delete(key);
    }
    // Binary values travel as the API's own base64 text: no decode/re-encode copy.
    if (payload.base64Keys.length > 0) this.#o.metrics?.memoryOptimizations.inc({ optimization: 'base64_passthrough' }, payload.base64Keys.length);
    this.#o.metrics?.largeSecrets.set(this.#largePaths.size);
  }

  #conflict(key: string, op: WriteOp, currentOwner: string | undefined): OwnershipConflictError {
    // The same owner id, refused: another cluster wrote it (its cluster-id differs).
    if (currentOwner === op.owner) return new OwnershipConflictError(key, op.owner, undefined, true, 'another cluster with the same --cluster-name (or none)');
    // Name the other owner only inside the caller's own namespace and cluster: never an oracle across tenants.
    const prefix = `${op.owner.split('/').slice(0, 2).join('/')}/`;
    return new OwnershipConflictError(key, op.owner, currentOwner?.startsWith(prefix) ? currentOwner : undefined, currentOwner !== undefined);
  }

  async #upsert(op: UpsertOp, progress: Progress, stale: boolean): Promise<Outcome> {
    const { kv } = this.#o;
    const { payload } = op;
    progress.bytes = payload.bytes;
    const entry = entryBytes(payload.values);
    if (entry > this.#o.maxEntryBytes) throw new OversizeError({ resource: op.resource, path: op.path.segments.join('/'), bytes: entry, limit: this.#o.maxEntryBytes });
    const logical = await this.#resolve(op, progress);
    const key = logicalKey(logical);
    this.#trackSize(key, op, progress);
    const tag = this.tag(payload.hash);
    const known = this.#known(key, op);
    const contested = op.contested ?? false;
    const maybeTags = this.#maybeTags(key, op);
    const dataTag = this.#v1Tag(payload.values);

    if (logical.kvVersion === 1) {
      progress.requests++;
      const stored = await kv.read(logical);
      const storedTag = stored?.data ? this.#v1Tag(stored.data) : undefined;
      const step = decideUpsertV1({ tag: dataTag, force: op.force ?? false, adopt: op.adopt ?? false, known, contested, storedTag, maybeTags });
      if (step.do === 'conflict') throw this.#conflict(key, op, undefined);
      if (step.do === 'write') {
        this.#memory.delete(key);
        progress.requests++;
        await this.#unanswered(key, op, dataTag, progress, () => kv.write(logical, payload.values));
      }
      this.#maybe.delete(key);
      const v1Tag = dataTag;
      this.#remember(key, op.owner, 0, v1Tag, {});
      progress.version = 0;
      progress.tag = v1Tag;
      return step.do === 'skip' ? 'unchanged' : step.outcome;
    }

    let existing: ExistingSecret | 'absent' | undefined;
    for (;;) {
      const step = decideUpsertV2({
        tag, owner: op.owner, clusterId: this.#o.clusterId, force: op.force ?? false, verify: op.verify ?? false, adopt: op.adopt ?? false,
        known, contested, stale, existing, likelyExists: op.likelyExists, legacyHash: payload.hash, maybeTags,
      });
      switch (step.do) {
        case 'skip': {
          this.#maybe.delete(key);
          const version = step.version ?? known?.version ?? 0;
          const remembered = this.#memory.get(key);
          this.#remember(key, op.owner, version, tag, remembered?.meta ?? (existing && existing !== 'absent' ? keyListEntries(existing.customMetadata) : {}));
          progress.version = version;
          progress.tag = tag;
          return 'unchanged';
        }
        case 'read':
          progress.requests++;
          existing = (await kv.readMetadata(logical)) ?? 'absent';
          continue;
        case 'check-data': {
          progress.requests++;
          const current = await kv.read(logical);
          const storedTag = current?.data !== undefined ? this.#v1Tag(current.data) : undefined;
          const live = existing as ExistingSecret;
          if (storedTag === dataTag && hashStored(current!.data!, payload.base64Keys) === payload.hash) {
            // Our own write whose bookkeeping never happened: claim it, write no data.
            this.#maybe.delete(key);
            await this.#writeMarker(key, logical, op, tag, live.currentVersion, live.customMetadata, 'now', progress);
            progress.version = live.currentVersion;
            progress.tag = tag;
            return 'unchanged';
          }
          if (storedTag === undefined || !maybeTags.includes(storedTag)) throw this.#conflict(key, op, undefined);
          // An older write of ours that Vault applied after we gave up on it: ours, so write on top and claim.
          const written = await this.#unanswered(key, op, dataTag, progress, () => kv.write(logical, payload.values, live.currentVersion));
          this.#maybe.delete(key);
          await this.#writeMarker(key, logical, op, tag, written.version, written.customMetadata, 'now', progress);
          progress.version = written.version;
          progress.tag = tag;
          return 'updated';
        }
        case 'conflict':
          throw this.#conflict(key, op, step.currentOwner);
        case 'write': {
          this.#memory.delete(key);
          progress.requests++;
          const written = await this.#unanswered(key, op, dataTag, progress, () => kv.write(logical, payload.values, step.cas));
          this.#maybe.delete(key);
          const previous = this.#memory.get(key)?.meta ?? written.customMetadata;
          const desired = ownedMetadata({ owner: op.owner, clusterId: this.#o.clusterId, hash: tag, version: written.version, base64Keys: payload.base64Keys, previous });
          const urgency = markerUrgency(desired, written.customMetadata, step.takeover);
          await this.#writeMarker(key, logical, op, tag, written.version, written.customMetadata, urgency, progress);
          progress.version = written.version;
          progress.tag = tag;
          return step.outcome;
        }
      }
    }
  }

  /** Records what we wrote, and brings the marker up to date now or in spare budget. */
  async #writeMarker(key: string, logical: LogicalPath, op: UpsertOp, tag: string, version: number, current: Record<string, string>, urgency: 'now' | 'background' | 'none', progress: Progress): Promise<void> {
    const meta = ownedMetadata({ owner: op.owner, clusterId: this.#o.clusterId, hash: tag, version, base64Keys: op.payload.base64Keys, previous: current });
    const kept: Record<string, string> = { ...keyListEntries(current) };
    for (const [k, v] of Object.entries(meta)) {
      if (v === null) delete kept[k];
      else kept[k] = v;
    }
    if (urgency === 'now') {
      this.#markers.drop(key);
      progress.requests++;
      await this.#o.kv.patchMetadata(logical, meta);
      this.#o.metrics?.markers.inc({ lane: 'foreground', result: 'written' });
    } else if (urgency === 'background') {
      this.#markers.enqueue(key, logical, meta);
    }
    this.#remember(key, op.owner, version, tag, keyListEntries(kept));
  }

  async #delete(op: DeleteOp, progress: Progress): Promise<Outcome> {
    const { kv } = this.#o;
    // Deletes obey the path policy like writes: a ledger never widens what a namespace may touch.
    const logical = await this.#resolve(op, progress);
    const key = logicalKey(logical);
    const known = this.#known(key, op);
    const contested = op.contested ?? false;
    const adopt = op.adopt ?? false;
    const maybeTags = this.#maybeTags(key, op);
    if (logical.kvVersion === 1) {
      progress.requests++;
      const stored = await kv.read(logical);
      const step = decideDeleteV1({ adopt, known, contested, maybeTags, storedTag: stored?.data ? this.#v1Tag(stored.data) : undefined });
      if (step.do === 'absent') return this.#forget(key, 'absent');
      if (step.do === 'conflict') throw this.#conflict(key, op, undefined);
      progress.requests++;
      await kv.deleteAll(logical);
      return this.#forget(key, 'deleted');
    }
    let existing: ExistingSecret | 'absent' | undefined;
    for (;;) {
      const step = decideDeleteV2({ owner: op.owner, clusterId: this.#o.clusterId, adopt, known, contested, existing, maybeTags });
      if (step.do === 'read') {
        progress.requests++;
        existing = (await kv.readMetadata(logical)) ?? 'absent';
        continue;
      }
      if (step.do === 'check-data') {
        progress.requests++;
        const current = await kv.read(logical);
        const storedTag = current?.data !== undefined ? this.#v1Tag(current.data) : undefined;
        if (storedTag === undefined || !maybeTags.includes(storedTag)) throw this.#conflict(key, op, undefined);
        // An unanswered write of ours that landed: ours to delete.
        existing = { ...(existing as ExistingSecret), customMetadata: { 'managed-by': 'vault-sync-operator', owner: op.owner } };
        continue;
      }
      if (step.do === 'absent') return this.#forget(key, 'absent');
      if (step.do === 'conflict') throw this.#conflict(key, op, step.currentOwner);
      progress.requests++;
      if ((op.mode ?? this.#o.defaultDeleteMode) === 'latest') await kv.deleteLatest(logical);
      else await kv.deleteAll(logical);
      return this.#forget(key, 'deleted');
    }
  }

  /** Vault refused the write as too large: reported like our own refusal (resource, size, limit, fix). */
  #tooLarge(op: WriteOp, err: unknown): OversizeError | undefined {
    if (op.kind !== 'upsert' || !(err instanceof VaultRequestError) || err.reason !== 'Oversize') return undefined;
    return new OversizeError({ resource: op.resource, path: op.path.segments.join('/'), bytes: entryBytes(op.payload.values), limit: this.#o.maxEntryBytes, serverStatus: err.status });
  }

  /** Unanswered writes' data tags for a path: this process's and the ledger's. */
  #maybeTags(key: string, op: WriteOp): string[] {
    return keptMaybeTags([...new Set([...(op.maybeTags ?? []), ...(this.#maybe.get(key) ?? [])])]);
  }

  /**
   * Sends a write. Its data tag is remembered before it goes out (and
   * reported for the ledger if the write fails): Vault may apply it without
   * our hearing, and not only when the final answer is a timeout. The
   * transport retries a request that went unanswered, so the answer we get
   * may be the retry's (a CAS refusal, because the first attempt was applied
   * after all: fault row 3). A later read then recognises the data as ours.
   * The callers forget the tags once a write is answered with success.
   */
  async #unanswered<T>(key: string, op: WriteOp, dataTag: string, progress: Progress, send: () => Promise<T>): Promise<T> {
    // The ledger's and the journal's tags too: a failed write must not make the record forget them.
    const tags = keptMaybeTags([...this.#maybeTags(key, op).filter((t) => t !== dataTag), dataTag]);
    this.#maybe.set(key, tags);
    try {
      return await send();
    } catch (err) {
      progress.maybeTags = tags;
      throw err;
    }
  }

  /**
   * KV v1 keeps no list of base64 keys, so its tag covers the stored text alone (what a later read can recompute).
   * Remembered per values object: a planned document's tag is asked for by the intent journal and again by the write.
   */
  #v1Tag(values: Record<string, string>): string {
    let tag = this.#dataTags.get(values);
    if (tag === undefined) this.#dataTags.set(values, (tag = this.tag(hashStored(values, []))));
    return tag;
  }

  #forget(key: string, outcome: Outcome): Outcome {
    this.#memory.delete(key);
    this.#maybe.delete(key);
    this.#markers.drop(key);
    if (this.#largePaths.delete(key)) this.#o.metrics?.largeSecrets.set(this.#largePaths.size);
    return outcome;
  }
}
