// The batch writer: validated, policy-checked, ownership-safe writes and
// deletes, in batches, with retries, over the one throttled Vault client.
//
// Contract:
//   - `run(ops)` resolves with exactly one result per op, in order, and
//     never rejects: one failed op never stops the rest of its batch.
//   - Ops run in batches of `batchSize`; the ops of a batch run together,
//     batches one after another.
//   - Transient request failures are retried by the Vault client, request
//     by request; a CAS mismatch retries the whole op here (re-read, decide,
//     write again), with the same backoff. Terminal failures fail at once
//     with their typed error.
//   - Nothing is sent for a path the policy refuses or a document above the
//     hard size limit.
//   - Unchanged content costs no write: no call at all when this process
//     wrote it last (cache of hashes, never values), one metadata read
//     otherwise.
//   - A secret someone else owns is never overwritten or deleted unless
//     adoption is allowed for that op.
//
// Write protocol on KV v2 (crash-safe in every order):
//   data first, with check-and-set on the version we saw (cas=0 to create),
//   then custom_metadata {managed-by, owner, content-hash, synced-version}.
//   A crash between the two leaves synced-version behind current_version,
//   which reads as "changed" and is rewritten, never as "unchanged".
//   A create that crashed before its metadata leaves an unowned secret whose
//   data is exactly ours; that one case is adopted by comparing the data.
import { performance } from 'node:perf_hooks';
import { asSyncError, OversizeError, OwnershipConflictError, type SyncError } from './errors.ts';
import type { Logger } from './log.ts';
import { countWriteError, type Metrics } from './metrics.ts';
import {
  checkLogicalPath, checkWrittenPath, logicalKey, toLogical,
  type LogicalPath, type PathPolicy, type PolicyContext, type VaultPath,
} from './paths.ts';
import { hashStored, type Payload } from './payload.ts';
import { DEFAULT_BACKOFF, withRetry, type BackoffPolicy } from './retry.ts';
import type { KvOperations } from './vault/kv.ts';
import { currentOwner, isUnchanged, keyListEntries, ownedMetadata, ownershipOf, type ExistingSecret } from './vault/ownership.ts';

export const DEFAULT_BATCH_SIZE = 5;
export const DEFAULT_LARGE_SECRET_BYTES = 1024 * 1024;
export const DEFAULT_MAX_SECRET_BYTES = 16 * 1024 * 1024;

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
  /** The caller's ledger says this resource wrote the path before (KV v1 has no metadata to say so). */
  knownOwned?: boolean;
}

export interface UpsertOp extends OpBase {
  kind: 'upsert';
  payload: Payload;
  /** Write even when the content is unchanged (rotation-check disabled, manual resync). */
  force?: boolean;
  /** Ask Vault instead of trusting what this process wrote (periodic reconcile: restore deleted or drifted data). */
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
  version?: number;
  bytes?: number;
  large?: boolean;
  attempts: number;
  error?: SyncError;
}

export interface WriterOptions {
  kv: KvOperations;
  policy: PathPolicy;
  batchSize?: number;
  backoff?: BackoffPolicy;
  largeSecretBytes?: number;
  maxSecretBytes?: number;
  defaultDeleteMode?: 'all' | 'latest';
  metrics?: Metrics;
  log?: Logger;
  signal?: AbortSignal;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  random?: () => number;
}

interface CacheEntry {
  owner: string;
  hash: string;
  version: number;
  /** Only the base64 key-list entries of the custom_metadata we wrote (to clear stale ones later). */
  meta: Record<string, string>;
}

export class BatchWriter {
  readonly #o: Required<Pick<WriterOptions, 'batchSize' | 'backoff' | 'largeSecretBytes' | 'maxSecretBytes' | 'defaultDeleteMode'>> & WriterOptions;
  /** What this process last wrote per logical path: hashes, never values. */
  readonly #cache = new Map<string, CacheEntry>();
  readonly #largePaths = new Set<string>();

  constructor(opts: WriterOptions) {
    this.#o = {
      ...opts,
      batchSize: opts.batchSize ?? DEFAULT_BATCH_SIZE,
      backoff: opts.backoff ?? DEFAULT_BACKOFF,
      largeSecretBytes: opts.largeSecretBytes ?? DEFAULT_LARGE_SECRET_BYTES,
      maxSecretBytes: opts.maxSecretBytes ?? DEFAULT_MAX_SECRET_BYTES,
      defaultDeleteMode: opts.defaultDeleteMode ?? 'all',
    };
    if (!(this.#o.batchSize >= 1)) throw new Error(`batch size must be >= 1 (got ${this.#o.batchSize})`);
  }

  async run(ops: readonly WriteOp[]): Promise<OpResult[]> {
    const results: OpResult[] = [];
    for (let i = 0; i < ops.length; i += this.#o.batchSize) {
      const batch = ops.slice(i, i + this.#o.batchSize);
      const started = performance.now();
      results.push(...(await Promise.all(batch.map((op) => this.#runOne(op)))));
      this.#o.metrics?.batchSize.observe(batch.length);
      this.#o.metrics?.batchDuration.observe((performance.now() - started) / 1000);
    }
    return results;
  }

  /** Forgets what this process wrote (tests; or after Vault was restored from backup). */
  forget(): void {
    this.#cache.clear();
  }

  async #runOne(op: WriteOp): Promise<OpResult> {
    const { metrics, log } = this.#o;
    let attempts = 0;
    const partial: Partial<OpResult> = {};
    try {
      const outcome = await withRetry(
        (attempt) => {
          attempts = attempt;
          return op.kind === 'upsert' ? this.#upsert(op, partial) : this.#delete(op, partial);
        },
        this.#o.backoff,
        {
          retryIf: (err) => err.reason === 'CasConflict',
          sleep: this.#o.sleep, random: this.#o.random, signal: this.#o.signal,
          onRetry: (err, attempt, delayMs) => {
            log?.info('retrying vault operation', { resource: op.resource, op: op.kind, reason: err.reason, attempt, delayMs });
          },
        },
      );
      metrics?.batchOperations.inc({ operation: op.kind, result: outcome === 'unchanged' || outcome === 'absent' ? 'skipped' : 'success' });
      return { id: op.id, kind: op.kind, outcome, attempts, ...partial };
    } catch (err) {
      const error = asSyncError(err, `${op.resource}: vault ${op.kind}`);
      metrics?.batchOperations.inc({ operation: op.kind, result: 'failure' });
      countWriteError(metrics, error.reason);
      log?.warn('vault operation failed', { resource: op.resource, op: op.kind, reason: error.reason, error: error.message, attempts });
      return { id: op.id, kind: op.kind, outcome: 'failed', attempts, error, ...partial };
    }
  }

  async #resolve(op: WriteOp, partial: Partial<OpResult>, checkPolicy: boolean): Promise<LogicalPath> {
    if (checkPolicy) checkWrittenPath(this.#o.policy, op.path, op.ctx, op.resource);
    const mount = await this.#o.kv.resolveMount(op.path, op.resource);
    const logical = toLogical(op.path, mount, op.resource);
    if (checkPolicy) checkLogicalPath(this.#o.policy, logical, op.ctx, op.resource);
    partial.path = logicalKey(logical);
    partial.kvVersion = logical.kvVersion;
    return logical;
  }

  #trackSize(key: string, payload: Payload, op: UpsertOp, partial: Partial<OpResult>): void {
    const large = payload.bytes > this.#o.largeSecretBytes;
    partial.bytes = payload.bytes;
    partial.large = large;
    if (large) {
      if (!this.#largePaths.has(key)) {
        this.#o.log?.warn('large secret', { resource: op.resource, path: key, bytes: payload.bytes, threshold: this.#o.largeSecretBytes });
      }
      this.#largePaths.add(key);
      // Large documents are remembered by hash only, never by value.
      this.#o.metrics?.memoryOptimizations.inc({ optimization: 'hash_only_cache' });
    } else {
      this.#largePaths.delete(key);
    }
    // Binary values travel as the API's own base64 text: no decode/re-encode copy.
    if (payload.base64Keys.length > 0) this.#o.metrics?.memoryOptimizations.inc({ optimization: 'base64_passthrough' }, payload.base64Keys.length);
    this.#o.metrics?.largeSecrets.set(this.#largePaths.size);
  }

  async #upsert(op: UpsertOp, partial: Partial<OpResult>): Promise<Outcome> {
    const { kv } = this.#o;
    const { payload } = op;
    partial.bytes = payload.bytes;
    if (payload.bytes > this.#o.maxSecretBytes) throw new OversizeError(op.path.segments.join('/'), payload.bytes, this.#o.maxSecretBytes);
    const logical = await this.#resolve(op, partial, true);
    const key = logicalKey(logical);
    this.#trackSize(key, payload, op, partial);

    const cached = op.verify ? undefined : this.#cache.get(key);
    if (cached && cached.owner === op.owner && cached.hash === payload.hash && !op.force) return 'unchanged';

    if (logical.kvVersion === 1) return this.#upsertV1(op, logical, key, partial);

    // We wrote the current version ourselves: write on top of it without a read.
    // A CAS mismatch means someone else wrote since; the retry re-reads.
    if (cached && cached.owner === op.owner) {
      return this.#writeV2(op, logical, key, cached.version, cached.meta, partial, 'updated');
    }
    const existing = await kv.readMetadata(logical);
    if (!existing) return this.#writeV2(op, logical, key, 0, {}, partial, 'created');

    const ownership = ownershipOf(existing, op.owner);
    if (ownership === 'unowned' && !op.adopt && (await this.#isOurInterruptedCreate(logical, existing, payload))) {
      // Our own create whose metadata write never happened: claim it, write nothing.
      await this.#claim(logical, key, op, existing.currentVersion, existing.customMetadata);
      partial.version = existing.currentVersion;
      return 'unchanged';
    }
    if (ownership !== 'ours' && !op.adopt) throw new OwnershipConflictError(key, op.owner, currentOwner(existing));
    if (!op.force && ownership === 'ours' && isUnchanged(existing, payload.hash)) {
      this.#cache.set(key, { owner: op.owner, hash: payload.hash, version: existing.currentVersion, meta: keyListEntries(existing.customMetadata) });
      partial.version = existing.currentVersion;
      return 'unchanged';
    }
    return this.#writeV2(op, logical, key, existing.currentVersion, existing.customMetadata, partial, 'updated');
  }

  async #isOurInterruptedCreate(logical: LogicalPath, existing: ExistingSecret, payload: Payload): Promise<boolean> {
    if (existing.currentVersion !== 1 || existing.currentDeleted) return false;
    const current = await this.#o.kv.read(logical);
    return current?.data !== undefined && hashStored(current.data, payload.base64Keys) === payload.hash;
  }

  async #writeV2(op: UpsertOp, logical: LogicalPath, key: string, cas: number, previousMeta: Record<string, string>, partial: Partial<OpResult>, outcome: Outcome): Promise<Outcome> {
    this.#cache.delete(key);
    const version = await this.#o.kv.write(logical, op.payload.values, cas);
    await this.#claim(logical, key, op, version, previousMeta);
    partial.version = version;
    return outcome;
  }

  async #claim(logical: LogicalPath, key: string, op: UpsertOp, version: number, previousMeta: Record<string, string>): Promise<void> {
    const meta = ownedMetadata({ owner: op.owner, hash: op.payload.hash, version, base64Keys: op.payload.base64Keys, previous: previousMeta });
    await this.#o.kv.patchMetadata(logical, meta);
    const kept: Record<string, string> = { ...previousMeta };
    for (const [k, v] of Object.entries(meta)) {
      if (v === null) delete kept[k];
      else kept[k] = v;
    }
    this.#cache.set(key, { owner: op.owner, hash: op.payload.hash, version, meta: keyListEntries(kept) });
  }

  async #upsertV1(op: UpsertOp, logical: LogicalPath, key: string, partial: Partial<OpResult>): Promise<Outcome> {
    // KV v1 has neither metadata nor CAS: ownership comes from the caller's ledger, writes are last-writer-wins.
    const existing = await this.#o.kv.read(logical);
    if (existing?.data) {
      if (!op.force && hashStored(existing.data, op.payload.base64Keys) === op.payload.hash) {
        this.#cache.set(key, { owner: op.owner, hash: op.payload.hash, version: 0, meta: {} });
        return 'unchanged';
      }
      if (!op.knownOwned && !op.adopt) throw new OwnershipConflictError(key, op.owner, undefined);
    }
    this.#cache.delete(key);
    await this.#o.kv.write(logical, op.payload.values);
    this.#cache.set(key, { owner: op.owner, hash: op.payload.hash, version: 0, meta: {} });
    partial.version = 0;
    return existing?.data ? 'updated' : 'created';
  }

  async #delete(op: DeleteOp, partial: Partial<OpResult>): Promise<Outcome> {
    const { kv } = this.#o;
    // Deleting what we wrote is allowed even if the policy has since narrowed; ownership still guards it.
    const logical = await this.#resolve(op, partial, false);
    const key = logicalKey(logical);
    if (logical.kvVersion === 1) {
      const existing = await kv.read(logical);
      if (!existing) return this.#forget(key, 'absent');
      if (!op.knownOwned && !op.adopt) throw new OwnershipConflictError(key, op.owner, undefined);
      await kv.deleteAll(logical);
      return this.#forget(key, 'deleted');
    }
    const existing = await kv.readMetadata(logical);
    if (!existing) return this.#forget(key, 'absent');
    if (ownershipOf(existing, op.owner) !== 'ours' && !op.adopt) throw new OwnershipConflictError(key, op.owner, currentOwner(existing));
    if ((op.mode ?? this.#o.defaultDeleteMode) === 'latest') await kv.deleteLatest(logical);
    else await kv.deleteAll(logical);
    return this.#forget(key, 'deleted');
  }

  #forget(key: string, outcome: Outcome): Outcome {
    this.#cache.delete(key);
    if (this.#largePaths.delete(key)) this.#o.metrics?.largeSecrets.set(this.#largePaths.size);
    return outcome;
  }
}
