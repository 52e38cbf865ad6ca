// Reconcile one Deployment or Secret: level-based, the key is all it gets.
//
//   deleting, finalizer present -> clean every ledger path (unless preserved), drop finalizer
//   annotation removed          -> same, and remove our status annotations
//   invalid annotations         -> Failed status, Event, metric; no retry until the object changes
//   otherwise                   -> decide (zero calls when nothing changed), read the Secrets
//                                  under the memory budget, plan, journal the writes to new
//                                  paths (intent-journal.ts), write + clean stale paths,
//                                  record a signed ledger (the finalizer goes on with the
//                                  first one), settle the journal.
//
// What the reconciler trusts: the ledger annotation only when its MAC
// verifies for this resource (owner id and UID, see shared/ledger.ts); then
// its versions and content tags become the writer's `known` facts, unless
// another resource claims the same path (claims.ts), in which case Vault's
// marker decides. An unverified ledger is a hint at most: which paths may
// exist (read before writing) and which to try cleaning, through the same
// ownership checks and path policy as any write.
//
// Limits per resource (terminal, with an Event): referenced Secrets, and
// bytes of Secret data read per reconcile. Auto-discovery reads, plans and
// writes its documents a batch at a time, so it never holds every Secret.
//
// Retryable failures throw (the queue backs off); terminal ones are recorded
// and return. Cleanup failures keep the finalizer, so nothing is orphaned.
import { ANNOTATION, parseSyncAnnotations, preserveOnDeleteOf, type SyncSpec } from '../shared/annotations.ts';
import { ConfigError, SyncError, asSyncError } from '../shared/errors.ts';
import type { SyncEngine } from '../shared/engine.ts';
import { ACCEPT_METADATA, type KubeHttp } from '../shared/kube/http.ts';
import { isAuthentic, signRecord, type LedgerKey } from '../shared/ledger.ts';
import type { Logger } from '../shared/log.ts';
import type { Metrics } from '../shared/metrics.ts';
import { parseVaultPath, formatPath, logicalCandidates, type PolicyContext } from '../shared/paths.ts';
import { plan, planMode, plannedPaths, secretsNeeded, type NeededSecret, type PlannedDocument, type SecretSnapshot } from '../shared/plan.ts';
import {
  FINALIZER, STATUS_ANNOTATION, formatSecretVersions, formatSyncRecord, parseSecretVersions, parseSyncRecord,
  type PathRecord, type SyncRecord,
} from '../shared/state.ts';
import { ownerId } from '../shared/vault/ownership.ts';
import type { DeleteOp, OpResult, UpsertOp } from '../shared/writer.ts';
import type { Known } from '../shared/write-decision.ts';
import { configFingerprint, contentFingerprint, decideSync } from './decide.ts';
import type { ControllerMetrics } from './metrics.ts';
import { ledgerAfter, statusChanges, syncMessage, type DocumentSummary } from './outcome.ts';
import { objectPath, parseResourceKey, resourceLabel, RESOURCE_KINDS, type DeploymentView, type ResourceKind, type ResourceRef, type ResourceView } from '../shared/resources.ts';
import type { SecretBatch, SecretSource } from './secret-source.ts';
import type { StateStore } from './state-store.ts';
import type { EventSpec, StatusWriter } from './status.ts';
import type { ClusterCache } from './cluster-cache.ts';
import type { HandlerResult } from './queue.ts';
import type { IntentJournal } from './intent-journal.ts';
import { entryId, type JournalEntry } from './journal-entries.ts';

export interface ReconcilerConfig {
  cluster: string;
  adoptPolicy: 'never' | 'always';
  /** Namespaces whose resources may set vault-sync.io/adopt ("*" = all). */
  adoptNamespaces: readonly string[];
  deleteMode: 'all' | 'latest';
  maxSecretsPerResource: number;
  /** A forced write (rotation-check disabled) repeats at most this often per resource. */
  minForcedWriteIntervalMs: number;
  batchSize: number;
}

export interface ReconcilerDeps {
  http: KubeHttp;
  cache: ClusterCache;
  engine: SyncEngine;
  secrets: SecretSource;
  ledgerKey: LedgerKey;
  status: StatusWriter;
  state: StateStore;
  /** Where writes to new paths are journaled before they are sent (intent-journal.ts). */
  journal: Pick<IntentJournal, 'record' | 'tags' | 'entriesOf' | 'all' | 'drop'>;
  config: ReconcilerConfig;
  metrics?: Metrics;
  controllerMetrics?: ControllerMetrics;
  log: Logger;
  now?: () => Date;
}

const STATUS_KEYS = Object.values(STATUS_ANNOTATION);

function failureEvent(err: SyncError): EventSpec {
  return { reason: err.eventReason, type: 'Warning', note: err.message, action: 'Sync' };
}

/** preserve-on-delete from the annotation if readable, else what the last sync recorded. */
function preserveFlag(annotations: Record<string, string> | undefined, record: SyncRecord): boolean {
  return preserveOnDeleteOf(annotations)?.preserve ?? record.preserve ?? false;
}

/** Whose writes an operation is about: a reconcile's resource, or a journaled resource that is gone. */
type Who = Pick<Subject, 'keyText' | 'label' | 'owner' | 'ctx' | 'record' | 'trusted'>;

function groupBy<T>(items: readonly T[], keyOf: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const k = keyOf(item);
    const group = groups.get(k);
    if (group) group.push(item);
    else groups.set(k, [item]);
  }
  return groups;
}

/** Everything one reconcile knows about its resource. */
interface Subject {
  key: ResourceRef;
  keyText: string;
  view: ResourceView;
  label: string;
  owner: string;
  ctx: PolicyContext;
  record: SyncRecord;
  /** The ledger's MAC verified: its versions and tags are facts. */
  trusted: boolean;
  /** Our finalizer is not on the resource yet: it goes on with the first ledger that lists a path. */
  finalizerPending: boolean;
  /** The intent journal held writes of this resource, not yet in its ledger, when the reconcile began. */
  journaled: boolean;
}

export class Reconciler {
  readonly #d: ReconcilerDeps;
  /** When each key last had Vault verified by a periodic reconcile (memory only). */
  readonly #verifiedAt = new Map<string, number>();
  /** When each key last forced a write (rotation-check disabled), for the floor. */
  readonly #forcedAt = new Map<string, number>();
  /** Secrets discovered per key, for the secrets_discovered gauge (totals kept as they change). */
  readonly #discovered = new Map<string, { kind: ResourceKind; count: number }>();
  readonly #discoveredTotals: Record<ResourceKind, number> = { Deployment: 0, Secret: 0 };

  constructor(deps: ReconcilerDeps) {
    this.#d = deps;
  }

  #now(): Date {
    return (this.#d.now ?? (() => new Date()))();
  }

  async reconcile(keyText: string): Promise<HandlerResult> {
    const key = parseResourceKey(keyText);
    const view = key.kind === 'Deployment' ? this.#d.cache.deployment(key.namespace, key.name) : this.#d.cache.secret(key.namespace, key.name);
    if (!view) {
      this.#forget(keyText);
      return {};
    }
    const { config } = this.#d;
    const annotations = view.metadata.annotations ?? {};
    const record = parseSyncRecord(annotations[STATUS_ANNOTATION.syncState]);
    const owner = ownerId({ cluster: config.cluster, namespace: key.namespace, kind: key.kind, name: key.name });
    const subject: Subject = {
      key, keyText, view, record, owner,
      label: resourceLabel(key.kind, key.namespace, key.name),
      ctx: { namespace: key.namespace, name: key.name, kind: key.kind, cluster: config.cluster },
      trusted: isAuthentic(this.#d.ledgerKey, owner, view.metadata.uid, record),
      finalizerPending: !(view.metadata.finalizers ?? []).includes(FINALIZER),
      journaled: this.#d.journal.entriesOf(keyText).length > 0,
    };
    if (record.paths.length > 0 && !subject.trusted && record.v === 2) {
      this.#d.controllerMetrics?.ledgerRejected.inc();
      this.#d.log.warn('ledger annotation failed authentication; using Vault as the only truth', { kind: key.kind, namespace: key.namespace, name: key.name });
    }
    const hasFinalizer = (view.metadata.finalizers ?? []).includes(FINALIZER);

    if (view.metadata.deletionTimestamp) {
      if (hasFinalizer || subject.journaled) await this.#cleanup(subject, { removeStatus: false });
      return {};
    }
    const parsed = parseSyncAnnotations(subject.label, annotations);
    if (!parsed.managed) {
      if (hasFinalizer || record.paths.length > 0 || subject.journaled) await this.#cleanup(subject, { removeStatus: true });
      this.#forget(keyText);
      return {};
    }
    const log = this.#d.log.child({ kind: key.kind, namespace: key.namespace, name: key.name });
    for (const warning of parsed.warnings) {
      await this.#d.status.event(key, view.metadata.uid, { reason: 'InvalidConfig', type: 'Warning', note: warning.message, action: 'Sync' });
    }
    if (!parsed.spec) {
      this.#d.metrics?.configParseErrors.inc(parsed.errors.length);
      await this.#fail(subject, parsed.errors[0]!, parsed.errors, log);
      return {};
    }
    return this.#sync(subject, parsed.spec, log);
  }

  #adoptAllowed(namespace: string, spec: SyncSpec): { adopt: boolean; refused: boolean } {
    const { config } = this.#d;
    if (config.adoptPolicy === 'always') return { adopt: true, refused: false };
    if (!spec.adopt) return { adopt: false, refused: false };
    const allowed = config.adoptNamespaces.includes('*') || config.adoptNamespaces.includes(namespace);
    return { adopt: allowed, refused: !allowed };
  }

  #needed(s: Subject, spec: SyncSpec, podSpec: DeploymentView['podSpec'] | undefined): NeededSecret[] {
    const { config } = this.#d;
    const needed = secretsNeeded({ resource: s.label, kind: s.key.kind, name: s.key.name, spec, cluster: config.cluster, podSpec });
    if (needed.length > config.maxSecretsPerResource) {
      const field = spec.secrets ? ANNOTATION.secrets : 'spec.template.spec';
      throw new ConfigError(s.label, field, `references ${needed.length} Secrets, above the limit of ${config.maxSecretsPerResource} per resource`,
        'split the references across several annotated resources, or raise --max-secrets-per-resource');
    }
    return needed;
  }

  async #sync(s: Subject, spec: SyncSpec, log: Logger): Promise<HandlerResult> {
    const { cache, engine, metrics, controllerMetrics, config } = this.#d;
    const { key, keyText, view, label, record } = s;
    const now = this.#now();
    const annotations = view.metadata.annotations ?? {};
    const podSpec = key.kind === 'Deployment' ? (view as DeploymentView).podSpec : undefined;
    const requeue: HandlerResult = spec.reconcileEveryMs ? { requeueAfterMs: spec.reconcileEveryMs } : {};

    let needed: NeededSecret[];
    try {
      needed = this.#needed(s, spec, podSpec);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      metrics?.configParseErrors.inc();
      await this.#fail({ ...s, record: { ...record, config: undefined } }, err, [err], log);
      return requeue;
    }
    const currentVersions: Record<string, string | undefined> = {};
    for (const n of needed) currentVersions[n.name] = cache.secret(key.namespace, n.name)?.metadata.resourceVersion;
    const fingerprint = configFingerprint(key.kind, spec, config.cluster, podSpec);
    // The first periodic verify comes one interval after this process first sees the resource:
    // a restart over synced resources costs no Vault request, and never a burst of verifies.
    let lastVerified = this.#verifiedAt.get(keyText);
    if (lastVerified === undefined && spec.reconcileEveryMs !== undefined) this.#verifiedAt.set(keyText, (lastVerified = now.getTime()));
    const periodicDue = spec.reconcileEveryMs !== undefined && now.getTime() - lastVerified! >= spec.reconcileEveryMs - 1000;
    const status = annotations[STATUS_ANNOTATION.status];
    const decision = decideSync({
      synced: status === 'Synced' && record.config !== undefined,
      lastFailedRetryable: status === 'Failed' && record.reason === 'SyncFailed',
      recordedConfig: record.config,
      config: fingerprint,
      recordedVersions: parseSecretVersions(annotations[STATUS_ANNOTATION.secretVersions]),
      currentVersions,
      rotationCheck: spec.rotationCheck,
      resyncRequested: spec.resyncRequestedAt !== undefined && spec.resyncRequestedAt !== record.resync,
      periodicDue,
      journaled: s.journaled,
    });
    metrics?.rotationChecks.inc();
    if (!decision.sync) return this.#skipped(s, requeue);
    // A floor on forced writes: rotation-check disabled must not turn into a write storm.
    let force = decision.force;
    if (force && decision.reason === 'rotation-check-disabled') {
      const last = this.#forcedAt.get(keyText);
      if (last !== undefined && now.getTime() - last < config.minForcedWriteIntervalMs) force = false;
      else this.#forcedAt.set(keyText, now.getTime());
    }
    log.debug('sync needed', { reason: decision.reason });

    const started = performance.now();
    const { adopt, refused } = this.#adoptAllowed(key.namespace, spec);
    if (refused) {
      await this.#d.status.event(key, view.metadata.uid, {
        reason: 'InvalidConfig', type: 'Warning', action: 'Sync',
        note: `${label}: annotation ${ANNOTATION.adopt}: namespace "${key.namespace}" may not adopt Vault secrets, so the annotation is ignored; fix: ask the operator to add the namespace to --adopt-namespaces`,
      });
    }
    try {
      const run = await this.#writeDocuments(s, spec, podSpec, needed, { force, verify: decision.verify, adopt });
      if (run === 'unchanged-secret') return this.#skipped(s, requeue);
      const { documents, upserts, secretVersions, content } = run;
      this.#setDiscovered(keyText, { kind: key.kind, count: needed.length });

      const preserve = spec.preserveOnDelete;
      // Stale: in the ledger, no longer desired. After an interrupted run, "desired" is every path
      // the plan would write, so nothing not yet reached is mistaken for stale.
      const wanted = new Set(run.error ? plannedPaths({ resource: label, kind: key.kind, name: key.name, spec, cluster: config.cluster, podSpec }).map(formatPath) : documents.map((d) => d.path));
      const stale = record.paths.filter((p) => !wanted.has(p.path));
      // Write the new paths first, then clean the old ones: a failed write never leaves nothing behind.
      const deletes = preserve || run.error ? undefined : await engine.run(stale.map((p) => this.#deleteOp(s, p, adopt)));
      const results = [...upserts, ...(deletes ?? [])];
      const newRecord: SyncRecord = {
        v: 2,
        paths: ledgerAfter({ documents, upserts, stale, deletes: run.error && !preserve ? 'not-attempted' : deletes, previous: record.paths }),
        preserve,
        config: fingerprint,
        ...(content ? { content } : {}),
        ...(spec.resyncRequestedAt ? { resync: spec.resyncRequestedAt } : record.resync ? { resync: record.resync } : {}),
      };
      if (run.error) this.#countInputError(run.error);
      const failures = [...(run.error ? [run.error] : []), ...results.filter((r) => r.error).map((r) => r.error!)];
      if (decision.verify) this.#verifiedAt.set(keyText, now.getTime());
      metrics?.syncDuration.observe({ kind: key.kind }, (performance.now() - started) / 1000);

      if (failures.length > 0) {
        const first = failures.find((f) => !f.retryable) ?? failures[0]!;
        newRecord.reason = first.retryable ? 'SyncFailed' : first.eventReason;
        if (!(await this.#recordRun(s, newRecord, secretVersions, { status: 'Failed', message: first.message }, results))) return {};
        for (const f of failures) await this.#d.status.event(key, view.metadata.uid, failureEvent(f));
        metrics?.syncAttempts.inc({ kind: key.kind, result: 'failure' });
        controllerMetrics?.reconcileResults.inc({ kind: key.kind, outcome: first.retryable ? 'failed' : 'terminal' });
        this.#d.state.set(keyText, { lastError: first.message, reason: first.eventReason });
        const retryable = failures.find((f) => f.retryable);
        if (retryable) throw retryable;
        return requeue;
      }

      const written = upserts.filter((r) => r.outcome === 'created' || r.outcome === 'updated').length;
      const message = syncMessage(documents.length, written, stale.length, preserve);
      if (!(await this.#recordRun(s, newRecord, secretVersions, { status: 'Synced', message, lastSync: now.toISOString() }, results))) return {};
      if (written > 0 || stale.length > 0 || decision.reason === 'first-sync' || decision.reason === 'resync-requested') {
        await this.#d.status.event(key, view.metadata.uid, {
          reason: 'Synced', type: 'Normal', action: 'Sync',
          note: `${message}: ${documents.map((d) => d.path).join(', ') || 'no Secrets referenced'} (${decision.reason})`,
        });
      }
      for (const r of upserts.filter((r) => r.large)) {
        await this.#d.status.event(key, view.metadata.uid, {
          reason: 'LargeSecret', type: 'Warning', action: 'Sync',
          note: `Vault document ${r.path} is ${r.bytes} bytes, above the large-secret threshold; consider splitting it (select keys in vault-sync.io/secrets)`,
        });
      }
      if (written > 0) metrics?.rotationDetected.inc();
      else metrics?.rotationSkipped.inc();
      metrics?.syncAttempts.inc({ kind: key.kind, result: 'success' });
      controllerMetrics?.reconcileResults.inc({ kind: key.kind, outcome: 'synced' });
      this.#d.state.set(keyText, { lastError: undefined, reason: undefined });
      return requeue;
    } catch (err) {
      if (err instanceof SyncError && err.retryable) throw err;
      const error = asSyncError(err, label);
      this.#countInputError(error);
      if (!error.retryable) {
        await this.#fail({ ...s, record: { ...record, config: undefined } }, error, [error], log);
        return requeue;
      }
      throw error;
    }
  }

  #countInputError(error: SyncError): void {
    const { metrics } = this.#d;
    if (error.reason === 'SecretNotFound') metrics?.secretNotFound.inc();
    if (error.reason === 'KeyMissing') metrics?.secretKeyMissing.inc();
    if (error instanceof ConfigError) metrics?.configParseErrors.inc();
  }

  #skipped(s: Subject, requeue: HandlerResult): HandlerResult {
    this.#d.metrics?.rotationSkipped.inc();
    this.#d.controllerMetrics?.reconcileResults.inc({ kind: s.key.kind, outcome: 'skipped' });
    this.#d.state.touch(s.keyText);
    return requeue;
  }

  /**
   * Reads, plans and writes every document. Auto-discovery goes a batch of
   * Secrets at a time (each is its own document); custom and Secret mode
   * read what their one document needs.
   */
  async #writeDocuments(
    s: Subject, spec: SyncSpec, podSpec: DeploymentView['podSpec'] | undefined, needed: NeededSecret[],
    flags: { force: boolean; verify: boolean; adopt: boolean },
  ): Promise<'unchanged-secret' | { documents: DocumentSummary[]; upserts: OpResult[]; secretVersions: Record<string, string>; content?: string; error?: SyncError }> {
    const { config, engine, secrets: source } = this.#d;
    const { key, label, record } = s;
    const field = spec.secrets ? ANNOTATION.secrets : key.kind === 'Secret' ? 'data' : 'spec.template.spec';
    const chunks = planMode(key.kind, spec) === 'auto'
      ? Array.from({ length: Math.ceil(needed.length / config.batchSize) }, (_, i) => needed.slice(i * config.batchSize, (i + 1) * config.batchSize))
      : [needed];
    const documents: DocumentSummary[] = [];
    const upserts: OpResult[] = [];
    const secretVersions: Record<string, string> = {};
    let content: string | undefined;
    let bytesRead = 0;
    for (const chunk of chunks) {
      let batch: SecretBatch;
      try {
        batch = await source.read(key.namespace, chunk.map((n) => n.name), label, field, bytesRead);
      } catch (err) {
        // Stop here; what earlier chunks wrote is reported (and recorded) with the error.
        if (documents.length === 0) throw err;
        return { documents, upserts, secretVersions, ...(content ? { content } : {}), error: asSyncError(err, label) };
      }
      try {
        bytesRead += batch.dataBytes;
        if (key.kind === 'Secret') {
          // Secret mode: our own annotation patch changes the Secret's resourceVersion but not its data.
          const own = batch.secrets.get(key.name);
          content = own ? engine.tag(contentHash(own)) : undefined;
          const status = s.view.metadata.annotations?.[STATUS_ANNOTATION.status];
          if (!flags.force && !flags.verify && content === record.content && status === 'Synced' && s.trusted && !s.journaled) return 'unchanged-secret';
        }
        let planned: ReturnType<typeof plan>;
        try {
          planned = plan({
            resource: label, kind: key.kind, name: key.name, spec, cluster: config.cluster, podSpec, secrets: batch.secrets,
            ...(planMode(key.kind, spec) === 'auto' ? { only: new Set(chunk.map((n) => n.name)) } : {}),
          });
        } catch (err) {
          if (documents.length === 0) throw err;
          return { documents, upserts, secretVersions, ...(content ? { content } : {}), error: asSyncError(err, label) };
        }
        Object.assign(secretVersions, planned.secretVersions);
        await this.#journalIntent(s, planned.documents);
        const ops = planned.documents.map((d) => this.#upsertOp(s, d, flags));
        upserts.push(...(await engine.run(ops)));
        for (const d of planned.documents) documents.push({ path: formatPath(d.path), keys: Object.keys(d.payload.values), bytes: d.payload.bytes });
      } finally {
        batch.reservation.release();
      }
    }
    return { documents, upserts, secretVersions, ...(content ? { content } : {}) };
  }

  /**
   * Before writing to paths the signed ledger does not know a version of,
   * journals the intent: per new path, the data tag about to be sent. If the
   * process dies between the Vault write and the ledger patch, its successor
   * finds the unmarked secret holding that data and knows it is ours (even
   * after the Secret has changed since), or removes it if the resource went
   * away. Costs no Vault request and, shared with the reconciles running at
   * the same time, a fraction of one apiserver patch (intent-journal.ts).
   */
  async #journalIntent(s: Subject, documents: readonly PlannedDocument[]): Promise<void> {
    const { engine, journal } = this.#d;
    const entries: JournalEntry[] = [];
    for (const d of documents) {
      const path = formatPath(d.path);
      if (this.#known(s, path).known) continue;
      entries.push({ resource: s.keyText, owner: s.owner, uid: s.view.metadata.uid ?? '', path, tags: [engine.dataTag(d.payload.values)] });
    }
    await journal.record(entries);
  }

  /**
   * What the authenticated ledger says we wrote at a path, and which
   * unanswered writes of ours may have landed there: the ledger's `try` and
   * what the intent journal holds for this owner and path (its entries are
   * signed too).
   */
  #known(s: Who, path: string): { known?: Known; maybeTags?: string[] } {
    const journaled = this.#d.journal.tags(s.owner, path);
    const entry = s.trusted ? s.record.paths.find((p) => p.path === path) : undefined;
    const maybeTags = journaled.length === 0 ? entry?.try ?? [] : [...new Set([...(entry?.try ?? []), ...journaled])];
    return {
      ...(entry?.ver !== undefined && entry.h ? { known: { version: entry.ver, tag: entry.h } } : {}),
      ...(maybeTags.length ? { maybeTags } : {}),
    };
  }

  /**
   * After the resource's ledger landed: the journal entries it now covers go
   * (a write to the path answered in this run, or the ledger's `try` holds
   * their tags). An entry for a path the ledger does not list is a write of
   * ours that nothing records (an earlier run, or the previous process): it
   * is removed from Vault if it landed, then from the journal.
   */
  async #settleJournal(s: Subject, paths: readonly PathRecord[], upserts: readonly OpResult[]): Promise<void> {
    const { journal } = this.#d;
    const entries = journal.entriesOf(s.keyText);
    if (entries.length === 0) return;
    const listed = new Map(paths.map((p) => [p.path, p]));
    const answered = new Set(upserts.filter((r) => !r.error).map((r) => r.id));
    const covered: string[] = [];
    const orphans: [string, JournalEntry][] = [];
    for (const [id, e] of entries) {
      const p = listed.get(e.path);
      if (!p) orphans.push([id, e]);
      else if (answered.has(e.path) || e.tags.every((t) => p.try?.includes(t))) covered.push(id);
    }
    journal.drop(covered);
    for (const [owner, group] of groupBy(orphans, ([, e]) => e.owner)) await this.#removeUnrecorded({ ...s, owner }, group.map(([, e]) => e.path));
  }

  /**
   * Deletes paths this resource may have written without recording them
   * (journal entries, or a run whose resource vanished before its ledger
   * landed), through the usual ownership checks: only an unmarked version
   * holding one of our tags, or our marker, is deleted. Journal entries of
   * those paths go once the answer is final (deleted, absent, or not ours).
   */
  async #removeUnrecorded(s: Who, paths: readonly string[]): Promise<void> {
    const { engine, journal, log } = this.#d;
    const ops: DeleteOp[] = [];
    for (const path of new Set(paths)) {
      try {
        ops.push(this.#deleteOp(s, { path }, false));
      } catch {
        journal.drop([entryId(s.owner, path)]); // unparseable: never ours to touch
      }
    }
    const results = await engine.run(ops);
    const final = results.filter((r) => !r.error || !r.error.retryable);
    journal.drop(final.map((r) => entryId(s.owner, r.id)));
    const left = results.length - final.length;
    if (left > 0) log.warn('unrecorded writes could not be checked yet; the intent journal keeps them', { resource: s.label, paths: left });
  }

  /**
   * Journal entries whose resource no longer exists (the apiserver says so,
   * not only the cache): their writes, if they landed, are removed. Runs at
   * the start of work and now and then; only namespaces this controller
   * watches are considered (another controller may own the others).
   */
  async sweepJournal(watched: (namespace: string) => boolean): Promise<void> {
    const { journal, cache, config } = this.#d;
    for (const [resource, entries] of groupBy(journal.all().map(([, e]) => e), (e) => e.resource)) {
      let ref: ResourceRef;
      try {
        ref = parseResourceKey(resource);
      } catch {
        journal.drop(entries.map((e) => entryId(e.owner, e.path)));
        continue;
      }
      if (!watched(ref.namespace)) continue;
      if ((ref.kind === 'Deployment' ? cache.deployment(ref.namespace, ref.name) : cache.secret(ref.namespace, ref.name)) !== undefined) continue;
      const live = await this.#d.http.request('GET', objectPath(ref), { allow404: true, accept: ACCEPT_METADATA });
      if (live) continue;
      for (const [owner, group] of groupBy(entries, (e) => e.owner)) {
        const who: Who = {
          keyText: resource, label: resourceLabel(ref.kind, ref.namespace, ref.name), owner, trusted: false, record: { v: 2, paths: [] },
          ctx: { namespace: ref.namespace, name: ref.name, kind: ref.kind, cluster: config.cluster },
        };
        await this.#removeUnrecorded(who, group.map((e) => e.path));
      }
    }
  }

  #contested(s: Who, path: PathRecord | string): boolean {
    const written = typeof path === 'string' ? path : path.path;
    const candidates = new Set<string>();
    try {
      for (const c of logicalCandidates(parseVaultPath(written, s.label))) candidates.add(c);
    } catch {
      return true; // unparseable: never trust anything about it
    }
    if (typeof path !== 'string' && path.key) candidates.add(path.key);
    return this.#d.cache.claimedByOthers([...candidates], s.keyText);
  }

  #upsertOp(s: Subject, d: PlannedDocument, flags: { force: boolean; verify: boolean; adopt: boolean }): UpsertOp {
    const path = formatPath(d.path);
    return {
      kind: 'upsert', id: path, resource: s.label, path: d.path, ctx: s.ctx, owner: s.owner, payload: d.payload,
      force: flags.force, verify: flags.verify, adopt: flags.adopt,
      ...this.#known(s, path), contested: this.#contested(s, path),
      likelyExists: s.record.paths.some((p) => p.path === path),
    };
  }

  #deleteOp(s: Who, p: PathRecord, adopt: boolean): DeleteOp {
    return {
      kind: 'delete', id: p.path, resource: s.label, path: parseVaultPath(p.path, s.label), ctx: s.ctx, owner: s.owner,
      mode: this.#d.config.deleteMode, adopt, ...this.#known(s, p.path), contested: this.#contested(s, p),
    };
  }

  /** Patches status and ledger; false when the resource is gone (the patch found nothing). */
  async #record(s: Subject, record: SyncRecord, versions: Record<string, string>, st: { status: 'Synced' | 'Failed'; message: string; lastSync?: string }, results: OpResult[]): Promise<boolean> {
    const current = s.view.metadata.annotations ?? {};
    const signed = signRecord(this.#d.ledgerKey, s.owner, s.view.metadata.uid ?? '', record);
    const changes = statusChanges(current, {
      [STATUS_ANNOTATION.status]: st.status,
      [STATUS_ANNOTATION.message]: st.message,
      [STATUS_ANNOTATION.largeSecret]: results.some((r) => r.large) ? 'true' : null,
      [STATUS_ANNOTATION.secretVersions]: formatSecretVersions(versions),
      [STATUS_ANNOTATION.syncState]: formatSyncRecord(signed),
    }, st.lastSync);
    const finalizer = s.finalizerPending && record.paths.length > 0 ? 'add' as const : undefined;
    if (Object.keys(changes).length === 0 && !finalizer) return true;
    const rv = await this.#d.status.patch(s.key, { annotations: changes, finalizer });
    if (rv === undefined) return false;
    this.#d.cache.recordOwnWrite(s.key.kind, s.key.namespace, s.key.name, rv);
    if (finalizer) s.finalizerPending = false;
    return true;
  }

  /**
   * Records a run that may have written, then settles the intent journal.
   * A resource that vanished before its ledger landed never had our
   * finalizer on (it goes on with the first ledger): what the run wrote is
   * removed now, unless preserved. False when the resource is gone.
   */
  async #recordRun(s: Subject, record: SyncRecord, versions: Record<string, string>, st: { status: 'Synced' | 'Failed'; message: string; lastSync?: string }, results: OpResult[]): Promise<boolean> {
    if (await this.#record(s, record, versions, st, results)) {
      await this.#settleJournal(s, record.paths, results);
      return true;
    }
    const journaled = this.#d.journal.entriesOf(s.keyText);
    if (record.preserve) this.#d.journal.drop(journaled.map(([id]) => id));
    else await this.#removeUnrecorded(s, [...record.paths.map((p) => p.path), ...journaled.map(([, e]) => e.path)]);
    this.#forget(s.keyText);
    return false;
  }

  async #fail(s: Subject, error: SyncError, all: SyncError[], log: Logger): Promise<void> {
    log.warn('sync failed', { reason: error.reason, error: error.message });
    // Only a trusted ledger is carried over: an unverified one would be signed into a trusted one here.
    const paths = s.trusted ? s.record.paths : [];
    const failed: SyncRecord = { ...s.record, v: 2, paths, reason: error.eventReason };
    await this.#record(s, failed, parseSecretVersions(s.view.metadata.annotations?.[STATUS_ANNOTATION.secretVersions]), { status: 'Failed', message: error.message }, []);
    for (const e of all) await this.#d.status.event(s.key, s.view.metadata.uid, failureEvent(e));
    this.#d.metrics?.syncAttempts.inc({ kind: s.key.kind, result: 'failure' });
    this.#d.controllerMetrics?.reconcileResults.inc({ kind: s.key.kind, outcome: 'terminal' });
    this.#d.state.set(s.keyText, { lastError: error.message, reason: error.eventReason });
  }

  async #cleanup(s: Subject, opts: { removeStatus: boolean }): Promise<void> {
    const { engine, status } = this.#d;
    const { key, view, record } = s;
    const preserve = preserveFlag(view.metadata.annotations, record);
    // Writes of ours the ledger never recorded (intent journal) go with the ledger's paths.
    const journaled = this.#d.journal.entriesOf(s.keyText);
    const targets: PathRecord[] = [...record.paths, ...journaled.filter(([, e]) => !record.paths.some((p) => p.path === e.path)).map(([, e]) => ({ path: e.path }))];
    let cleaned = 0;
    if (!preserve && targets.length > 0) {
      const parsed = parseSyncAnnotations(s.label, view.metadata.annotations);
      const adopt = parsed.managed && parsed.spec ? this.#adoptAllowed(key.namespace, parsed.spec).adopt : false;
      const ops: DeleteOp[] = [];
      const unparseable: PathRecord[] = [];
      for (const p of targets) {
        try {
          ops.push(this.#deleteOp(s, p, adopt));
        } catch {
          unparseable.push(p);
        }
      }
      const results = await engine.run(ops);
      const retryable = results.find((r) => r.error?.retryable)?.error;
      // Refused (not ours, or outside the policy) means not ours to clean: dropped, reported.
      const remaining = ops.filter((_, i) => results[i]!.error && !results[i]!.error!.wroteNothing).map((op) => targets.find((p) => p.path === op.id)!);
      for (const r of results.filter((r) => r.error)) await status.event(key, view.metadata.uid, { ...failureEvent(r.error!), action: 'Cleanup' });
      if (remaining.length > 0) {
        // Keep the finalizer and the ledger of what is left; try again later.
        const left = signRecord(this.#d.ledgerKey, s.owner, view.metadata.uid ?? '', { ...record, v: 2, paths: s.trusted ? remaining : [] });
        await status.patch(key, { annotations: { [STATUS_ANNOTATION.syncState]: formatSyncRecord(left) } });
        throw retryable ?? new SyncError('VaultUnavailable', `${s.label}: ${remaining.length} Vault path(s) could not be cleaned up`);
      }
      cleaned = results.filter((r) => r.outcome === 'deleted').length;
      if (unparseable.length) this.#d.log.warn('ledger paths that do not parse were skipped', { kind: key.kind, namespace: key.namespace, name: key.name, count: unparseable.length });
    }
    this.#d.journal.drop(journaled.map(([id]) => id));
    const removal: Record<string, null> = {};
    if (opts.removeStatus) for (const k of STATUS_KEYS) if (view.metadata.annotations?.[k] !== undefined) removal[k] = null;
    await status.patch(key, { annotations: removal, finalizer: (view.metadata.finalizers ?? []).includes(FINALIZER) ? 'remove' : undefined });
    await status.event(key, view.metadata.uid, {
      reason: 'Cleaned', type: 'Normal', action: 'Cleanup',
      note: preserve
        ? `kept ${record.paths.length} Vault path(s) (preserve-on-delete): ${record.paths.map((p) => p.path).join(', ')}`
        : `removed ${cleaned} Vault path(s)${cleaned ? `: ${record.paths.map((p) => p.path).join(', ')}` : ''}`,
    });
    this.#d.controllerMetrics?.reconcileResults.inc({ kind: key.kind, outcome: 'cleaned' });
    status.forget(key);
  }

  #forget(keyText: string): void {
    this.#verifiedAt.delete(keyText);
    this.#forcedAt.delete(keyText);
    this.#setDiscovered(keyText, undefined);
    this.#d.state.delete(keyText);
  }

  #setDiscovered(keyText: string, entry: { kind: ResourceKind; count: number } | undefined): void {
    const before = this.#discovered.get(keyText);
    if (before?.kind === entry?.kind && before?.count === entry?.count) return;
    if (before) this.#discoveredTotals[before.kind] -= before.count;
    if (entry) {
      this.#discoveredTotals[entry.kind] += entry.count;
      this.#discovered.set(keyText, entry);
    } else {
      this.#discovered.delete(keyText);
    }
    for (const kind of RESOURCE_KINDS) this.#d.metrics?.secretsDiscovered.set({ kind }, this.#discoveredTotals[kind]);
  }
}

/** sha256 of a Secret's data, internal only: Secret mode stores its tag (under the controller's key) on the Secret. */
function contentHash(secret: SecretSnapshot): string {
  return contentFingerprint(secret.data);
}
