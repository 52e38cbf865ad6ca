// Reconcile one Deployment or Secret: level-based, the key is all it gets.
//
//   deleting, finalizer present -> clean every ledger path (unless preserved), drop finalizer
//   annotation removed          -> same, and remove our status annotations
//   invalid annotations         -> Failed status, Event, metric; no retry until the object changes
//   otherwise                   -> decide (zero calls when nothing changed), read the Secrets,
//                                  plan, write + clean stale paths in one batch run, record.
//
// Retryable failures throw (the queue backs off); terminal ones are recorded
// and return. Cleanup failures keep the finalizer, so nothing is orphaned.
import { ANNOTATION, parseSyncAnnotations, type SyncSpec } from '../shared/annotations.ts';
import { ConfigError, SyncError, asSyncError } from '../shared/errors.ts';
import type { Engine } from '../shared/engine.ts';
import { ACCEPT_JSON, type KubeHttp } from '../shared/kube/http.ts';
import type { Logger } from '../shared/log.ts';
import type { Metrics } from '../shared/metrics.ts';
import { parseVaultPath, formatPath, type PolicyContext } from '../shared/paths.ts';
import { plan, secretsNeeded, type PlannedDocument, type SecretSnapshot, type SyncKind } from '../shared/plan.ts';
import {
  FINALIZER, MAX_KEYS_RECORDED, STATUS_ANNOTATION, formatSecretVersions, parseSecretVersions, parseSyncRecord,
  type PathRecord, type SyncRecord,
} from '../shared/state.ts';
import { ownerId } from '../shared/vault/ownership.ts';
import type { DeleteOp, OpResult, UpsertOp } from '../shared/writer.ts';
import { configFingerprint, contentFingerprint, decideSync } from './decide.ts';
import type { ControllerMetrics } from './metrics.ts';
import { objectPath, parseKey, resourceLabel, type DeploymentView, type ResourceKey, type ResourceView } from './resources.ts';
import type { StateStore } from './state-store.ts';
import type { EventSpec, StatusWriter } from './status.ts';
import type { ClusterCache } from './watch.ts';
import type { HandlerResult } from './queue.ts';

export interface ReconcilerConfig {
  cluster: string;
  adoptPolicy: 'never' | 'always';
  deleteMode: 'all' | 'latest';
}

export interface ReconcilerDeps {
  http: KubeHttp;
  cache: ClusterCache;
  engine: Engine;
  status: StatusWriter;
  state: StateStore;
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
  const raw = annotations?.[ANNOTATION.preserveOnDelete]?.trim().toLowerCase();
  if (raw === 'true') return true;
  if (raw === 'false') return false;
  if (raw !== undefined) return true; // unreadable: keep the data
  return record.preserve ?? false;
}

export class Reconciler {
  readonly #d: ReconcilerDeps;
  /** When each key last had Vault verified by a periodic reconcile (memory only). */
  readonly #verifiedAt = new Map<string, number>();
  /** Secrets discovered per key, for the secrets_discovered gauge. */
  readonly #discovered = new Map<string, { kind: SyncKind; count: number }>();

  constructor(deps: ReconcilerDeps) {
    this.#d = deps;
  }

  async reconcile(keyText: string): Promise<HandlerResult> {
    const key = parseKey(keyText);
    const view = key.kind === 'Deployment' ? this.#d.cache.deployment(key.namespace, key.name) : this.#d.cache.secret(key.namespace, key.name);
    if (!view) {
      this.#forget(keyText);
      return {};
    }
    const label = resourceLabel(key.kind, key.namespace, key.name);
    const annotations = view.metadata.annotations ?? {};
    const record = parseSyncRecord(annotations[STATUS_ANNOTATION.syncState]);
    const hasFinalizer = (view.metadata.finalizers ?? []).includes(FINALIZER);

    if (view.metadata.deletionTimestamp) {
      if (hasFinalizer) await this.#cleanup(key, view, record, label, { removeStatus: false });
      return {};
    }
    const parsed = parseSyncAnnotations(label, annotations);
    if (!parsed.managed) {
      if (hasFinalizer || record.paths.length > 0) await this.#cleanup(key, view, record, label, { removeStatus: true });
      this.#forget(keyText);
      return {};
    }
    const log = this.#d.log.child({ kind: key.kind, namespace: key.namespace, name: key.name });
    for (const warning of parsed.warnings) {
      await this.#d.status.event(key, view.metadata.uid, { reason: 'InvalidConfig', type: 'Warning', note: warning.message, action: 'Sync' });
    }
    if (!parsed.spec) {
      this.#d.metrics?.configParseErrors.inc(parsed.errors.length);
      await this.#fail(key, view, record, parsed.errors[0]!, parsed.errors, log);
      return {};
    }
    if (!hasFinalizer) await this.#d.status.patch(key, { finalizer: 'add' });
    return this.#sync(key, keyText, view, parsed.spec, record, label, log);
  }

  async #sync(key: ResourceKey, keyText: string, view: ResourceView, spec: SyncSpec, record: SyncRecord, label: string, log: Logger): Promise<HandlerResult> {
    const { cache, engine, metrics, controllerMetrics, config } = this.#d;
    const now = (this.#d.now ?? (() => new Date()))();
    const annotations = view.metadata.annotations ?? {};
    const podSpec = key.kind === 'Deployment' ? (view as DeploymentView).podSpec : undefined;
    const requeue: HandlerResult = spec.reconcileEveryMs ? { requeueAfterMs: spec.reconcileEveryMs } : {};

    const needed = secretsNeeded({ resource: label, kind: key.kind, name: key.name, spec, cluster: config.cluster, podSpec });
    const currentVersions: Record<string, string | undefined> = {};
    for (const s of needed) currentVersions[s.name] = cache.secret(key.namespace, s.name)?.metadata.resourceVersion;
    const fingerprint = configFingerprint(key.kind, spec, config.cluster, podSpec);
    const lastVerified = this.#verifiedAt.get(keyText);
    const periodicDue = spec.reconcileEveryMs !== undefined && (lastVerified === undefined || now.getTime() - lastVerified >= spec.reconcileEveryMs - 1000);
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
    });
    metrics?.rotationChecks.inc();
    if (!decision.sync) {
      metrics?.rotationSkipped.inc();
      controllerMetrics?.reconcileResults.inc({ kind: key.kind, outcome: 'skipped' });
      this.#d.state.touch(keyText);
      return requeue;
    }
    log.debug('sync needed', { reason: decision.reason });

    const started = performance.now();
    try {
      // Read exactly the Secrets the plan needs, data included, straight from the API.
      const secrets = new Map<string, SecretSnapshot | undefined>();
      for (const s of needed) secrets.set(s.name, await this.#readSecret(key.namespace, s.name));

      // Secret mode: our own annotation patch changes the Secret's resourceVersion but not its data.
      const content = key.kind === 'Secret' ? contentFingerprint(secrets.get(key.name)?.data) : undefined;
      if (decision.reason === 'secret-changed' && !decision.verify && key.kind === 'Secret' && content === record.content && status === 'Synced') {
        metrics?.rotationSkipped.inc();
        controllerMetrics?.reconcileResults.inc({ kind: key.kind, outcome: 'skipped' });
        return requeue;
      }

      const planned = plan({ resource: label, kind: key.kind, name: key.name, spec, cluster: config.cluster, podSpec, secrets });
      this.#discovered.set(keyText, { kind: key.kind, count: secrets.size });
      this.#updateDiscoveredGauge();

      const ctx: PolicyContext = { namespace: key.namespace, name: key.name, kind: key.kind, cluster: config.cluster };
      const owner = ownerId({ cluster: config.cluster, namespace: key.namespace, kind: key.kind, name: key.name });
      const adopt = spec.adopt || config.adoptPolicy === 'always';
      const ledger = new Set(record.paths.map((p) => p.path));
      const wanted = new Set(planned.documents.map((d) => formatPath(d.path)));
      const preserve = spec.preserveOnDelete;
      const upserts: UpsertOp[] = planned.documents.map((d) => ({
        kind: 'upsert', id: formatPath(d.path), resource: label, path: d.path, ctx, owner, payload: d.payload,
        force: decision.force, verify: decision.verify, adopt, knownOwned: ledger.has(formatPath(d.path)),
      }));
      const stale = record.paths.filter((p) => !wanted.has(p.path));
      // Write the new paths first, then clean the old ones: a failed write never leaves nothing behind.
      const deletes: DeleteOp[] = preserve ? [] : stale.map((p) => this.#deleteOp(p.path, label, ctx, owner));
      const results = await engine.writer.run([...upserts, ...deletes]);
      const upsertResults = results.slice(0, upserts.length);
      const deleteResults = results.slice(upserts.length);

      const newRecord: SyncRecord = {
        v: 1,
        paths: this.#ledgerAfter(planned.documents, upsertResults, stale, preserve ? [] : deleteResults, record),
        preserve,
        config: fingerprint,
        ...(content ? { content } : {}),
        ...(spec.resyncRequestedAt ? { resync: spec.resyncRequestedAt } : record.resync ? { resync: record.resync } : {}),
      };
      const failures = results.filter((r) => r.error).map((r) => r.error!);
      if (decision.verify) this.#verifiedAt.set(keyText, now.getTime());
      metrics?.syncDuration.observe({ kind: key.kind }, (performance.now() - started) / 1000);

      if (failures.length > 0) {
        const first = failures.find((f) => !f.retryable) ?? failures[0]!;
        newRecord.reason = first.retryable ? 'SyncFailed' : first.eventReason;
        await this.#record(key, view, newRecord, planned.secretVersions, { status: 'Failed', message: first.message }, results);
        for (const f of failures) await this.#d.status.event(key, view.metadata.uid, failureEvent(f));
        metrics?.syncAttempts.inc({ kind: key.kind, result: 'failure' });
        controllerMetrics?.reconcileResults.inc({ kind: key.kind, outcome: first.retryable ? 'failed' : 'terminal' });
        this.#d.state.set(keyText, { lastError: first.message, reason: first.eventReason });
        const retryable = failures.find((f) => f.retryable);
        if (retryable) throw retryable;
        return requeue;
      }

      const written = upsertResults.filter((r) => r.outcome === 'created' || r.outcome === 'updated').length;
      const message = `${planned.documents.length} document(s) in sync (${written} written, ${planned.documents.length - written} unchanged)`
        + (stale.length ? `; ${preserve ? 'kept' : 'cleaned'} ${stale.length} old path(s)` : '');
      await this.#record(key, view, newRecord, planned.secretVersions, { status: 'Synced', message, lastSync: now.toISOString() }, results);
      if (written > 0 || stale.length > 0 || decision.reason === 'first-sync' || decision.reason === 'resync-requested') {
        await this.#d.status.event(key, view.metadata.uid, {
          reason: 'Synced', type: 'Normal', action: 'Sync',
          note: `${message}: ${planned.documents.map((d) => formatPath(d.path)).join(', ') || 'no Secrets referenced'} (${decision.reason})`,
        });
      }
      for (const r of upsertResults.filter((r) => r.large)) {
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
      if (error.reason === 'SecretNotFound') metrics?.secretNotFound.inc();
      if (error.reason === 'KeyMissing') metrics?.secretKeyMissing.inc();
      if (error instanceof ConfigError) metrics?.configParseErrors.inc();
      if (!error.retryable) {
        await this.#fail(key, view, { ...record, config: undefined }, error, [error], log);
        return requeue;
      }
      throw error;
    }
  }

  #deleteOp(path: string, label: string, ctx: PolicyContext, owner: string): DeleteOp {
    return { kind: 'delete', id: path, resource: label, path: parseVaultPath(path, label), ctx, owner, mode: this.#d.config.deleteMode, knownOwned: true };
  }

  /** The ledger after a run: every path that may hold our data, stale ones marked. */
  #ledgerAfter(documents: PlannedDocument[], upserts: OpResult[], stale: PathRecord[], deletes: OpResult[], previous: SyncRecord): PathRecord[] {
    const out: PathRecord[] = [];
    documents.forEach((d, i) => {
      const r = upserts[i]!;
      const path = formatPath(d.path);
      const before = previous.paths.find((p) => p.path === path);
      // A failed write that cannot have written anything stays out of the ledger.
      const wroteNothing = r.error && ['OwnershipConflict', 'PathDenied', 'Oversize', 'InvalidConfig'].includes(r.error.reason);
      if (wroteNothing && !before) return;
      const keys = Object.keys(d.payload.values);
      out.push({
        path,
        ...(r.kvVersion ? { kv: r.kvVersion } : {}),
        keys: keys.slice(0, MAX_KEYS_RECORDED),
        ...(keys.length > MAX_KEYS_RECORDED ? { keysTruncated: true } : {}),
        bytes: d.payload.bytes,
        ...(r.large ? { large: true } : {}),
      });
    });
    stale.forEach((p, i) => {
      const r = deletes[i];
      // Deleted, already gone, or (never ours) not ours to delete: out of the ledger.
      if (r && (r.outcome === 'deleted' || r.outcome === 'absent' || r.error?.reason === 'OwnershipConflict')) return;
      if (!r) return; // preserved: no longer ours to clean
      out.push({ ...p, stale: true });
    });
    return out;
  }

  async #record(key: ResourceKey, view: ResourceView, record: SyncRecord, versions: Record<string, string>, s: { status: 'Synced' | 'Failed'; message: string; lastSync?: string }, results: OpResult[]): Promise<void> {
    const current = view.metadata.annotations ?? {};
    const large = results.some((r) => r.large);
    const desired: Record<string, string | null> = {
      [STATUS_ANNOTATION.status]: s.status,
      [STATUS_ANNOTATION.message]: s.message,
      [STATUS_ANNOTATION.largeSecret]: large ? 'true' : null,
      [STATUS_ANNOTATION.secretVersions]: formatSecretVersions(versions),
      [STATUS_ANNOTATION.syncState]: JSON.stringify(record),
    };
    // Only what differs: an unchanged status costs no API call (and, on a
    // Secret, no new resourceVersion). The sync time alone is not a change.
    const changes = Object.fromEntries(Object.entries(desired).filter(([k, v]) => (current[k] ?? null) !== v));
    if (Object.keys(changes).length === 0) return;
    if (s.lastSync) changes[STATUS_ANNOTATION.lastSync] = s.lastSync;
    const rv = await this.#d.status.patch(key, { annotations: changes });
    if (key.kind === 'Secret') this.#d.cache.recordOwnWrite(key.namespace, key.name, rv);
  }

  async #fail(key: ResourceKey, view: ResourceView, record: SyncRecord, error: SyncError, all: SyncError[], log: Logger): Promise<void> {
    log.warn('sync failed', { reason: error.reason, error: error.message });
    const failed: SyncRecord = { ...record, reason: error.eventReason };
    await this.#record(key, view, failed, parseSecretVersions(view.metadata.annotations?.[STATUS_ANNOTATION.secretVersions]), { status: 'Failed', message: error.message }, []);
    for (const e of all) await this.#d.status.event(key, view.metadata.uid, failureEvent(e));
    this.#d.metrics?.syncAttempts.inc({ kind: key.kind, result: 'failure' });
    this.#d.controllerMetrics?.reconcileResults.inc({ kind: key.kind, outcome: 'terminal' });
    this.#d.state.set(`${key.kind}/${key.namespace}/${key.name}`, { lastError: error.message, reason: error.eventReason });
  }

  async #cleanup(key: ResourceKey, view: ResourceView, record: SyncRecord, label: string, opts: { removeStatus: boolean }): Promise<void> {
    const { engine, status, config } = this.#d;
    const preserve = preserveFlag(view.metadata.annotations, record);
    const ctx: PolicyContext = { namespace: key.namespace, name: key.name, kind: key.kind, cluster: config.cluster };
    const owner = ownerId({ cluster: config.cluster, namespace: key.namespace, kind: key.kind, name: key.name });
    let cleaned = 0;
    if (!preserve && record.paths.length > 0) {
      const results = await engine.writer.run(record.paths.map((p) => this.#deleteOp(p.path, label, ctx, owner)));
      const retryable = results.find((r) => r.error?.retryable)?.error;
      const remaining = record.paths.filter((_, i) => results[i]!.error && results[i]!.error!.reason !== 'OwnershipConflict');
      for (const r of results.filter((r) => r.error)) await status.event(key, view.metadata.uid, { ...failureEvent(r.error!), action: 'Cleanup' });
      if (remaining.length > 0) {
        // Keep the finalizer and the ledger of what is left; try again later.
        await status.patch(key, { annotations: { [STATUS_ANNOTATION.syncState]: JSON.stringify({ ...record, paths: remaining }) } });
        throw retryable ?? new SyncError('VaultUnavailable', `${label}: ${remaining.length} Vault path(s) could not be cleaned up`);
      }
      cleaned = results.filter((r) => r.outcome === 'deleted').length;
    }
    const removal: Record<string, null> = {};
    if (opts.removeStatus) for (const k of STATUS_KEYS) if (view.metadata.annotations?.[k] !== undefined) removal[k] = null;
    await status.patch(key, { annotations: removal, finalizer: (view.metadata.finalizers ?? []).includes(FINALIZER) ? 'remove' : undefined });
    await status.event(key, view.metadata.uid, {
      reason: 'Cleaned', type: 'Normal', action: 'Cleanup',
      note: preserve
        ? `kept ${record.paths.length} Vault path(s) (preserve-on-delete): ${record.paths.map((p) => p.path).join(', ')}`
        : `removed ${cleaned} Vault path(s)${record.paths.length ? `: ${record.paths.map((p) => p.path).join(', ')}` : ''}`,
    });
    this.#d.controllerMetrics?.reconcileResults.inc({ kind: key.kind, outcome: 'cleaned' });
    status.forget(key);
  }

  async #readSecret(namespace: string, name: string): Promise<SecretSnapshot | undefined> {
    const secret = await this.#d.http.request('GET', objectPath({ kind: 'Secret', namespace, name }), { accept: ACCEPT_JSON, allow404: true });
    if (!secret) return undefined;
    return { name, resourceVersion: String(secret.metadata?.resourceVersion ?? ''), data: secret.data ?? {} };
  }

  #forget(keyText: string): void {
    this.#verifiedAt.delete(keyText);
    if (this.#discovered.delete(keyText)) this.#updateDiscoveredGauge();
    this.#d.state.delete(keyText);
  }

  #updateDiscoveredGauge(): void {
    const totals: Record<string, number> = { Deployment: 0, Secret: 0 };
    for (const { kind, count } of this.#discovered.values()) totals[kind] = (totals[kind] ?? 0) + count;
    for (const [kind, count] of Object.entries(totals)) this.#d.metrics?.secretsDiscovered.set({ kind }, count);
  }
}
