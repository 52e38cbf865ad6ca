// The extension's connection to one cluster context: kubeconfig loading
// (settings, multi-file KUBECONFIG, context switch), metadata-only watches of
// annotated Deployments and Secrets, the controller's /state and /metrics
// through the apiserver's service proxy, and the resync patch. No child
// processes, no port-forward: everything goes through the apiserver with the
// user's own credentials, so RBAC decides what they can see and do.
import { delimiter } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { ANNOTATION } from '../shared/annotations.ts';
import { ACCEPT_JSON, KubeHttp, KubeHttpError, MERGE_PATCH } from '../shared/kube/http.ts';
import { trimMeta } from '../shared/kube/projection.ts';
import { Reflector, type Projected, type ReflectorHealth } from '../shared/kube/reflector.ts';

export interface ConnectionSettings {
  kubeconfig: string;
  context: string;
  controllerNamespace: string;
  controllerService: string;
  controllerPort: string;
}

export type Problem =
  | { kind: 'rbac'; text: string }
  | { kind: 'unreachable'; text: string }
  | { kind: 'no-kubeconfig'; text: string };

export interface ClusterListener {
  onResource(kind: 'Deployment' | 'Secret', namespace: string, name: string, annotations: Record<string, string> | undefined): void;
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
  return kc;
}

function problemFrom(event: Extract<ReflectorHealth, { kind: 'error' }>, what: string): Problem {
  if (event.status === 401 || event.status === 403) {
    return { kind: 'rbac', text: `Not allowed to list ${what} in this context (HTTP ${event.status}). Ask for list/watch on ${what}, or switch context.` };
  }
  return { kind: 'unreachable', text: `Cannot reach the cluster: ${event.error}. Retrying.` };
}

export class ClusterConnection {
  readonly kc: KubeConfig;
  readonly http: KubeHttp;
  readonly settings: ConnectionSettings;
  readonly #reflectors: Reflector<Projected>[] = [];
  readonly #problems = new Map<string, Problem>();
  readonly #listener: ClusterListener;

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

  /** Starts the watches; resolves once both have listed (or keeps retrying in the background). */
  async start(): Promise<void> {
    const watch = (kind: 'Deployment' | 'Secret', path: string, what: string) => {
      const reflector = new Reflector<Projected>({
        name: what, http: this.http, path, metadataOnly: true,
        project: (obj) => ({ metadata: trimMeta(obj?.metadata) }),
        onChange: (_type, _key, next, prev) => {
          const meta = (next ?? prev)?.metadata;
          this.#listener.onResource(kind, meta?.namespace ?? '', meta?.name ?? '', next?.metadata.annotations);
        },
        onHealth: (event) => {
          if (event.kind === 'error') this.#problems.set(what, problemFrom(event, what));
          else if (event.kind === 'listed' || event.kind === 'watching') this.#problems.delete(what);
          this.#listener.onProblem(this.#problems.values().next().value);
        },
        backoff: { baseMs: 1000, maxMs: 30_000 },
      });
      this.#reflectors.push(reflector);
      return reflector.start();
    };
    await Promise.all([watch('Deployment', '/apis/apps/v1/deployments', 'deployments'), watch('Secret', '/api/v1/secrets', 'secrets')]);
  }

  async stop(): Promise<void> {
    await Promise.all(this.#reflectors.splice(0).map((r) => r.stop()));
  }

  #proxyPath(path: string): string {
    const { controllerNamespace, controllerService, controllerPort } = this.settings;
    return `/api/v1/namespaces/${controllerNamespace}/services/${controllerService}:${controllerPort}/proxy${path}`;
  }

  /** GET on the controller through the apiserver's service proxy. */
  async controller(path: '/state' | '/metrics'): Promise<string> {
    const res = await this.http.open('GET', this.#proxyPath(path), { accept: path === '/state' ? ACCEPT_JSON : 'text/plain' });
    const text = await res.text();
    if (res.status >= 400) throw new KubeHttpError('GET', this.#proxyPath(path), res.status, undefined);
    return text;
  }

  /** Asks the controller for one sync that bypasses change detection (RBAC decides who may). */
  async requestResync(kind: 'Deployment' | 'Secret', namespace: string, name: string, now = new Date()): Promise<string> {
    const path = kind === 'Deployment' ? `/apis/apps/v1/namespaces/${namespace}/deployments/${name}` : `/api/v1/namespaces/${namespace}/secrets/${name}`;
    const value = now.toISOString();
    await this.http.request('PATCH', path, {
      body: { metadata: { annotations: { [ANNOTATION.resyncRequestedAt]: value } } },
      contentType: MERGE_PATCH,
      accept: 'application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json',
    });
    return value;
  }

  /** Events about one resource, newest first. */
  async events(kind: string, namespace: string, name: string): Promise<{ time: string; type: string; reason: string; note: string }[]> {
    const list = await this.http.request('GET', `/apis/events.k8s.io/v1/namespaces/${namespace}/events`);
    return (list.items ?? [])
      .filter((e: any) => e.regarding?.kind === kind && e.regarding?.name === name)
      .map((e: any) => ({ time: String(e.eventTime ?? e.deprecatedLastTimestamp ?? e.metadata?.creationTimestamp ?? ''), type: e.type, reason: e.reason, note: e.note ?? '' }))
      .sort((a: { time: string }, b: { time: string }) => (a.time < b.time ? 1 : -1));
  }
}

export function describeError(err: unknown): string {
  if (err instanceof KubeHttpError) {
    if (err.status === 403) return 'not allowed (RBAC): ask for the permission, or switch context';
    if (err.status === 404) return 'not found';
    if (err.status === 503) return 'service unavailable (is the controller running?)';
    return err.message;
  }
  return err instanceof Error ? err.message : String(err);
}
