// Reporting back to Kubernetes: status annotations, finalizers and Events.
//
// Patches never conflict: annotations and finalizers go through a strategic
// merge patch without a resourceVersion (finalizers merge as a set, so other
// controllers' finalizers are untouched). Patch responses on Secrets are
// requested as PartialObjectMetadata, so Secret data never comes back.
// Events (events.k8s.io/v1) are deduplicated per object, reason and note for
// ten minutes, so a failing resource does not flood the API.
import { createHash, randomBytes } from 'node:crypto';
import { ACCEPT_METADATA, STRATEGIC_MERGE_PATCH, isKubeError, type KubeHttp } from '../shared/kube/http.ts';
import type { EventReason } from '../shared/errors.ts';
import type { Logger } from '../shared/log.ts';
import { FINALIZER } from '../shared/state.ts';
import type { ControllerMetrics } from './metrics.ts';
import { apiVersionOf, objectPath, resourceKey, type ResourceRef } from '../shared/resources.ts';


export interface EventSpec {
  reason: EventReason;
  type: 'Normal' | 'Warning';
  note: string;
  action: 'Sync' | 'Cleanup' | 'Tune';
}

/** What an Event can be about: a synced resource, or the tuning ConfigMap. */
export type EventSubject = ResourceRef | { kind: 'ConfigMap'; namespace: string; name: string };

const DEDUPE_MS = 10 * 60_000;

/** One Event sent about a resource: its (reason, note) hash and when. */
interface SentEvent {
  digest: string;
  at: number;
}
const MAX_NOTE = 1000;

/** RFC 3339 with microseconds, as metav1.MicroTime wants it. */
export function microTime(d: Date): string {
  return d.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

export class StatusWriter {
  readonly #http: KubeHttp;
  readonly #instance: string;
  readonly #log: Logger | undefined;
  readonly #metrics: ControllerMetrics | undefined;
  /** The wall clock: Event times and the dedupe window. */
  readonly #now: () => Date;
  /**
   * Per resource: hash of (reason, note) -> when it was last emitted. Hashes
   * keep 10k resources cheap, and so does keeping a resource's only entry
   * (the usual case) as a small record: a Map per resource was 10,000 Maps
   * in the heap snapshot at 10,000 Deployments, about 1.5 MiB.
   */
  readonly #recent = new Map<string, SentEvent | Map<string, number>>();
  #recentCount = 0;

  constructor(opts: { http: KubeHttp; instance: string; log?: Logger; metrics?: ControllerMetrics; now?: () => Date }) {
    this.#http = opts.http;
    this.#now = opts.now ?? (() => new Date());
    this.#instance = opts.instance;
    this.#log = opts.log;
    this.#metrics = opts.metrics;
  }

  /**
   * Patches annotations (null removes one) and optionally adds or removes our
   * finalizer. Resolves with the new resourceVersion, or undefined if the
   * object is gone.
   */
  async patch(key: ResourceRef, change: { annotations?: Record<string, string | null>; finalizer?: 'add' | 'remove' }): Promise<string | undefined> {
    const metadata: Record<string, unknown> = {};
    if (change.annotations && Object.keys(change.annotations).length) metadata.annotations = change.annotations;
    if (change.finalizer === 'add') metadata.finalizers = [FINALIZER];
    if (change.finalizer === 'remove') metadata['$deleteFromPrimitiveList/finalizers'] = [FINALIZER];
    if (Object.keys(metadata).length === 0) return undefined;
    try {
      const res = await this.#http.request('PATCH', objectPath(key), {
        body: { metadata },
        contentType: STRATEGIC_MERGE_PATCH,
        // Only the new resourceVersion is needed: metadata back, never the whole object (a Secret's data, a Deployment's spec).
        accept: ACCEPT_METADATA,
      });
      return res?.metadata?.resourceVersion;
    } catch (err) {
      if (isKubeError(err, 404)) return undefined;
      throw err;
    }
  }

  /** Emits an Event about the resource unless the same one went out in the last ten minutes. */
  async event(key: EventSubject, uid: string | undefined, spec: EventSpec, now = this.#now()): Promise<void> {
    const note = spec.note.length > MAX_NOTE ? `${spec.note.slice(0, MAX_NOTE - 1)}…` : spec.note;
    const resource = resourceKey(key);
    const digest = createHash('sha1').update(`${spec.reason}|${note}`).digest('base64');
    const seen = this.#recent.get(resource);
    const last = seen instanceof Map ? seen.get(digest) : seen?.digest === digest ? seen.at : undefined;
    if (last !== undefined && now.getTime() - last < DEDUPE_MS) return;
    if (last === undefined) this.#recentCount++;
    if (seen === undefined || (!(seen instanceof Map) && seen.digest === digest)) this.#recent.set(resource, { digest, at: now.getTime() });
    else if (seen instanceof Map) seen.set(digest, now.getTime());
    else this.#recent.set(resource, new Map([[seen.digest, seen.at], [digest, now.getTime()]]));
    if (this.#recentCount > 20_000) this.#sweep(now.getTime());
    try {
      await this.#http.request('POST', `/apis/events.k8s.io/v1/namespaces/${key.namespace}/events`, {
        accept: ACCEPT_METADATA,
        body: {
          apiVersion: 'events.k8s.io/v1',
          kind: 'Event',
          // client-go's naming: object name, a dot, a unique hex suffix.
          metadata: { name: `${key.name.slice(0, 200)}.${now.getTime().toString(16)}${randomBytes(4).toString('hex')}`, namespace: key.namespace },
          eventTime: microTime(now),
          reportingController: 'vault-sync.io/vault-sync-operator',
          reportingInstance: this.#instance,
          action: spec.action,
          reason: spec.reason,
          type: spec.type,
          note,
          regarding: { apiVersion: apiVersionOf(key.kind), kind: key.kind, namespace: key.namespace, name: key.name, uid },
        },
      });
      this.#metrics?.events.inc({ reason: spec.reason });
    } catch (err) {
      // An Event is a report, not part of the sync: never fail a sync over it.
      this.#log?.warn('could not emit event', { reason: spec.reason, error: err instanceof Error ? err.message : String(err) });
    }
  }

  /** Forgets dedupe entries of a resource (after cleanup). */
  forget(key: ResourceRef): void {
    const seen = this.#recent.get(resourceKey(key));
    if (!seen) return;
    this.#recentCount -= seen instanceof Map ? seen.size : 1;
    this.#recent.delete(resourceKey(key));
  }

  #sweep(now: number): void {
    for (const [resource, seen] of this.#recent) {
      if (!(seen instanceof Map)) {
        if (now - seen.at >= DEDUPE_MS) {
          this.#recent.delete(resource);
          this.#recentCount--;
        }
        continue;
      }
      for (const [digest, at] of seen) {
        if (now - at >= DEDUPE_MS) {
          seen.delete(digest);
          this.#recentCount--;
        }
      }
      if (seen.size === 0) this.#recent.delete(resource);
    }
  }
}
