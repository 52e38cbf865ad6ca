// The extension's connection to one cluster context: kubeconfig loading
// (settings, multi-file KUBECONFIG, context switch), metadata-only watches of
// annotated Deployments and Secrets, the controller's /state, /metrics and
// /history through the apiserver's service proxy, annotation patches, and
// Events. No child processes, no port-forward: everything goes through the
// apiserver with the user's own credentials, so RBAC decides what they can
// see and do.
//
// A user who may not list Secrets cluster-wide (a namespace-scoped Role) is
// served per namespace: the namespaces of vaultSync.namespaces, else every
// namespace they may list, else the context's own namespace.
import { delimiter } from 'node:path';
import { HttpMethod, KubeConfig, RequestContext } from '@kubernetes/client-node';
import { ANNOTATION } from '../shared/annotations.ts';
import { ENDPOINT, IDENTITY_HEADER, type HistoryResponse } from '../shared/contract/state.ts';
import { ACCEPT_JSON, ACCEPT_METADATA, ACCEPT_METADATA_LIST, KubeHttp, KubeHttpError, MERGE_PATCH } from '../shared/kube/http.ts';
import { collectionPath, groupOf, objectPath, pluralOf, RESOURCE_KINDS, trimMeta, type ResourceKind } from '../shared/resources.ts';
import { Reflector, type Projected } from '../shared/kube/reflector.ts';
import { watchProblem, type Problem } from './model/connection.ts';
import type { EventRow } from './model/timeline.ts';


export interface ConnectionSettings {
  kubeconfig: string;
  context: string;
  namespaces: string[];
  controllerNamespace: string;
  controllerService: string;
  controllerPort: string;
}

export interface ClusterListener {
  onResource(kind: ResourceKind, namespace: string, name: string, annotations: Record<string, string> | undefined, exists: boolean): void;
  onProblem(problem: Problem | undefined): void;
}

/** Loads kubeconfig like kubectl: the setting (paths separated like PATH) or KUBECONFIG (merged), else ~/.kube/config. */
export function loadKubeConfig(settings: Pick<ConnectionSettings, 'kubeconfig' | 'context'>): KubeConfig {
  const kc = new KubeConfig();
  if (settings.kubeconfig) {
    const saved = process.env.KUBECONFIG;
    process.env.KUBECONFIG = settings.kubeconfig.split(delimiter).filter(Boolean).join(delimiter);
    try {
      kc.loadFromDefault();
    } finally {
      if (saved === undefined) delete process.env.KUBECONFIG;
      else process.env.KUBECONFIG = saved;
    }
  } else {
    kc.loadFromDefault();
  }
  if (settings.context) kc.setCurrentContext(settings.context);
  if (!kc.getCurrentCluster()) throw new Error(settings.kubeconfig ? `no cluster in ${settings.kubeconfig}` : 'no current cluster in the kubeconfig');
  return kc;
}


export class ClusterConnection {
  readonly kc: KubeConfig;
  readonly http: KubeHttp;
  readonly settings: ConnectionSettings;
  readonly #reflectors: Reflector<Projected>[] = [];
  readonly #problems = new Map<string, Problem>();
  readonly #listener: ClusterListener;
  /** How each kind is watched: cluster-wide, or per namespace (and which). */
  readonly scopes: Partial<Record<ResourceKind, 'cluster' | string[]>> = {};

  constructor(settings: ConnectionSettings, listener: ClusterListener) {
    this.settings = settings;
    this.#listener = listener;
    this.kc = loadKubeConfig(settings);
    this.http = new KubeHttp(this.kc);
  }

  get context(): string {
    return this.kc.getCurrentContext();
  }

  contexts(): string[] {
    return this.kc.getContexts().map((c) => c.name);
  }

  /** May the user list `kind` cluster-wide? (SelfSubjectAccessReview; unknown counts as yes, the watch will tell.) */
  async #mayListAll(kind: ResourceKind): Promise<boolean> {
    try {
      const review = await this.http.request('POST', '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews', {
        body: { apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectAccessReview', spec: { resourceAttributes: { verb: 'list', group: groupOf(kind), resource: pluralOf(kind) } } },
      });
      return review?.status?.allowed !== false;
    } catch {
      return true;
    }
  }

  async #fallbackNamespaces(): Promise<string[]> {
    try {
      const list = await this.http.request('GET', '/api/v1/namespaces', { accept: ACCEPT_METADATA_LIST });
      const names = (list?.items ?? []).map((n: any) => String(n?.metadata?.name ?? '')).filter(Boolean);
      if (names.length) return names;
    } catch {
      /* may not list namespaces either */
    }
    const ns = this.kc.getContextObject(this.context)?.namespace;
    return [ns || 'default'];
  }

  /** Starts the watches; resolves once each has listed (or keeps retrying in the background). */
  async start(): Promise<void> {
    const watch = (kind: ResourceKind, namespace: string | undefined, perNamespace: boolean) => {
      const what = `${pluralOf(kind)}${namespace ? ` in ${namespace}` : ''}`;
      const reflector = new Reflector<Projected>({
        name: what, http: this.http, path: collectionPath(kind, namespace), metadataOnly: true,
        project: (obj) => ({ metadata: trimMeta(obj?.metadata) }),
        onChange: (_type, _key, next, prev) => {
          const meta = (next ?? prev)?.metadata;
          this.#listener.onResource(kind, meta?.namespace ?? '', meta?.name ?? '', next?.metadata.annotations, next !== undefined);
        },
        onHealth: (event) => {
          if (event.kind === 'error') {
            // Per namespace, a namespace the user may not read is simply not shown.
            if (perNamespace && (event.status === 403 || event.status === 404)) return;
            this.#problems.set(what, watchProblem(event.status, pluralOf(kind), event.error));
          } else if (event.kind === 'listed' || event.kind === 'watching') {
            this.#problems.delete(what);
          }
          this.#listener.onProblem(this.#problems.values().next().value);
        },
        backoff: { baseMs: 1000, maxMs: 30_000 },
      });
      this.#reflectors.push(reflector);
      // A namespace the user may not read never lists: do not wait for it.
      return perNamespace ? Promise.race([reflector.start(), new Promise<void>((r) => setTimeout(r, 5000))]) : reflector.start();
    };
    const starts: Promise<void>[] = [];
    let fallback: string[] | undefined;
    for (const kind of RESOURCE_KINDS) {
      if (this.settings.namespaces.length) {
        this.scopes[kind] = this.settings.namespaces;
      } else if (await this.#mayListAll(kind)) {
        this.scopes[kind] = 'cluster';
      } else {
        this.scopes[kind] = fallback ??= await this.#fallbackNamespaces();
      }
      const scope = this.scopes[kind]!;
      if (scope === 'cluster') starts.push(watch(kind, undefined, false));
      else for (const ns of scope) starts.push(watch(kind, ns, true));
    }
    await Promise.all(starts);
  }

  async stop(): Promise<void> {
    await Promise.all(this.#reflectors.splice(0).map((r) => r.stop()));
  }

  #proxyPath(path: string): string {
    const { controllerNamespace, controllerService, controllerPort } = this.settings;
    return `/api/v1/namespaces/${encodeURIComponent(controllerNamespace)}/services/${encodeURIComponent(controllerService)}:${encodeURIComponent(controllerPort)}/proxy${path}`;
  }

  /**
   * Who the user is, for the controller: the kubeconfig's bearer token in
   * the identity header (the service proxy strips Authorization). Client
   * certificates cannot be forwarded: then none, and the controller lists no
   * resources in /state (the tree does not need them: it reads the apiserver).
   */
  async #identity(): Promise<Record<string, string>> {
    const ctx = new RequestContext(`${this.http.server}/`, HttpMethod.GET);
    await this.kc.applySecurityAuthentication(ctx);
    const auth = Object.entries(ctx.getHeaders()).find(([k]) => k.toLowerCase() === 'authorization')?.[1];
    return auth && /^Bearer\s+\S/i.test(auth) ? { [IDENTITY_HEADER]: auth } : {};
  }

  /** GET on the controller through the apiserver's service proxy. */
  async controller(path: typeof ENDPOINT.state | typeof ENDPOINT.metrics, signal?: AbortSignal): Promise<string> {
    const headers = path === ENDPOINT.state ? await this.#identity() : {};
    const res = await this.http.open('GET', this.#proxyPath(path), { accept: path === ENDPOINT.state ? ACCEPT_JSON : 'text/plain', signal, headers });
    const text = await res.text();
    if (res.status >= 400) throw new KubeHttpError('GET', this.#proxyPath(path), res.status, undefined);
    return text;
  }

  /** The KV version history of one resource's ledger paths (metadata only), from the controller. */
  async history(kind: ResourceKind, namespace: string, name: string): Promise<HistoryResponse> {
    const q = new URLSearchParams({ kind, namespace, name });
    return this.http.request('GET', this.#proxyPath(`${ENDPOINT.history}?${q}`), { headers: await this.#identity() });
  }

  /**
   * Why the controller's service proxy failed: 404 and 503 look alike from
   * the proxy, so ask the apiserver whether the namespace and the Service exist.
   */
  async probeControllerService(): Promise<'namespace-missing' | 'service-missing' | 'service-exists' | 'unknown'> {
    const { controllerNamespace: ns, controllerService: svc } = this.settings;
    try {
      const service = await this.http.request('GET', `/api/v1/namespaces/${encodeURIComponent(ns)}/services/${encodeURIComponent(svc)}`, { allow404: true, accept: ACCEPT_METADATA });
      if (service) return 'service-exists';
      const namespace = await this.http.request('GET', `/api/v1/namespaces/${encodeURIComponent(ns)}`, { allow404: true, accept: ACCEPT_METADATA });
      return namespace ? 'service-missing' : 'namespace-missing';
    } catch {
      return 'unknown';
    }
  }

  /** Merge-patches vault-sync.io annotations (null removes one) with the user's credentials: RBAC decides. */
  async patchAnnotations(kind: ResourceKind, namespace: string, name: string, annotations: Record<string, string | null>): Promise<void> {
    await this.http.request('PATCH', objectPath({ kind, namespace, name }), { body: { metadata: { annotations } }, contentType: MERGE_PATCH, accept: ACCEPT_METADATA });
  }

  /** Asks the controller for one sync that bypasses change detection. */
  async requestResync(kind: ResourceKind, namespace: string, name: string, now: Date): Promise<string> {
    const value = now.toISOString();
    await this.patchAnnotations(kind, namespace, name, { [ANNOTATION.resyncRequestedAt]: value });
    return value;
  }

  /** Events about one resource, newest first. */
  async events(kind: string, namespace: string, name: string): Promise<EventRow[]> {
    const list = await this.http.request('GET', `/apis/events.k8s.io/v1/namespaces/${encodeURIComponent(namespace)}/events`);
    return (list.items ?? [])
      .filter((e: any) => e.regarding?.kind === kind && e.regarding?.name === name)
      .map((e: any) => ({
        time: String(e.series?.lastObservedTime ?? e.eventTime ?? e.deprecatedLastTimestamp ?? e.metadata?.creationTimestamp ?? ''),
        type: String(e.type ?? ''), reason: String(e.reason ?? ''), note: String(e.note ?? ''),
        ...(e.series?.count ? { count: Number(e.series.count) } : {}),
      }))
      .sort((a: EventRow, b: EventRow) => (a.time < b.time ? 1 : a.time > b.time ? -1 : 0));
  }
}

/** One line for an error from a command, whatever threw it. */
export function errorText(err: unknown): string {
  if (err instanceof KubeHttpError) return err.message;
  return err instanceof Error ? err.message : String(err);
}
