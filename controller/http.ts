// HTTP endpoints of the controller.
//
//   metrics address: /metrics (Prometheus text), /state (JSON, never values),
//                    /history?kind=&namespace=&name= (KV v2 version numbers and
//                    times of one resource's ledger paths; metadata only)
//   probe address:   /healthz (the process is alive; never depends on Vault),
//                    /readyz (caches synced, watches healthy, Vault login valid,
//                    or this instance is a standby follower)
//
// /metrics and /state require a bearer token that passes TokenReview and a
// SubjectAccessReview for the non-resource URL with verb "get" (as
// controller-runtime's metrics filter does). Decisions are cached: allowed
// for 5 minutes, denied for 30 seconds; at most 8 TokenReviews and 8
// SubjectAccessReviews run at once. --metrics-auth=false turns it off.
// The status listener (for the apiserver's service proxy) serves the same
// read-only paths without token checks: RBAC on services/proxy gates it.
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { nodeHttp } from '../shared/node-http.ts';
import { createHash } from 'node:crypto';
import type { Registry } from 'prom-client';
import { ENDPOINT, IDENTITY_HEADER, type HistoryResponse, type StateResponse } from '../shared/contract/state.ts';
import type { KubeHttp } from '../shared/kube/http.ts';
import type { Logger } from '../shared/log.ts';
import { groupOf, pluralOf, type ResourceKind } from '../shared/resources.ts';

export interface Probe {
  ready(): { ready: boolean; checks: Record<string, boolean | string> };
  state(): StateResponse;
}

/** Answers /history for one resource; undefined when the controller does not track it. */
export type HistorySource = (kind: ResourceKind, namespace: string, name: string) => Promise<HistoryResponse | undefined>;

type Verdict = 'allowed' | 'unauthenticated' | 'forbidden';

/** Who a TokenReview said the caller is. */
export interface Caller {
  username: string;
  uid?: string;
  groups?: string[];
  extra?: Record<string, string[]>;
}

/** A bounded map with expiry: the oldest entry goes first when full (tokens are keyed by hash only). */
class ExpiringCache<V> {
  readonly #max: number;
  readonly #entries = new Map<string, { value: V; until: number }>();
  constructor(max: number) {
    this.#max = max;
  }
  get(key: string, now: number): V | undefined {
    const hit = this.#entries.get(key);
    if (!hit) return undefined;
    if (hit.until <= now) {
      this.#entries.delete(key);
      return undefined;
    }
    return hit.value;
  }
  set(key: string, value: V, until: number): void {
    this.#entries.delete(key);
    this.#entries.set(key, { value, until });
    while (this.#entries.size > this.#max) this.#entries.delete(this.#entries.keys().next().value!);
  }
  get size(): number {
    return this.#entries.size;
  }
}

/**
 * At most `max` calls of `run` at once; a call beyond that is refused at
 * once (resolves `refused`), never queued: a flood must not build a line of
 * reviews that the apiserver would answer long after the callers gave up.
 */
class InFlightLimit {
  readonly #max: number;
  #inFlight = 0;
  constructor(max: number) {
    this.#max = max;
  }
  async run<T>(task: () => Promise<T>, refused: T): Promise<T> {
    if (this.#inFlight >= this.#max) return refused;
    this.#inFlight++;
    try {
      return await task();
    } finally {
      this.#inFlight--;
    }
  }
}

const ALLOWED_TTL_MS = 300_000;
const DENIED_TTL_MS = 30_000;

/**
 * TokenReview + SubjectAccessReview, as controller-runtime's metrics filter
 * does, with bounded caches (a flood of random tokens cannot grow memory)
 * and at most `maxConcurrentReviews` TokenReviews, and as many
 * SubjectAccessReviews, in flight (it cannot flood the apiserver either:
 * excess callers are refused, unsent and uncached: as unauthenticated, or as
 * not allowed). The two limits are separate, so a flood of random tokens
 * never holds back the access checks of callers who did authenticate.
 */
export class RequestAuthorizer {
  readonly #http: KubeHttp;
  readonly #tokens = new ExpiringCache<Caller | null>(1000);
  readonly #decisions = new ExpiringCache<boolean>(5000);
  readonly #log: Logger | undefined;
  readonly #now: () => number;
  readonly #tokenReviews: InFlightLimit;
  readonly #accessReviews: InFlightLimit;

  constructor(http: KubeHttp, log?: Logger, opts: { now?: () => number; maxConcurrentReviews?: number } = {}) {
    this.#http = http;
    this.#log = log;
    this.#now = opts.now ?? (() => Date.now());
    this.#tokenReviews = new InFlightLimit(opts.maxConcurrentReviews ?? 8);
    this.#accessReviews = new InFlightLimit(opts.maxConcurrentReviews ?? 8);
  }

  static bearer(header: string | string[] | undefined): string | undefined {
    const value = Array.isArray(header) ? header[0] : header;
    return /^Bearer\s+(.+)$/i.exec(value ?? '')?.[1]?.trim() || undefined;
  }

  /** The caller behind a token, or undefined when the apiserver does not vouch for it. */
  async authenticate(token: string | undefined): Promise<Caller | undefined> {
    if (!token) return undefined;
    // The cache key is a hash: tokens never sit in memory longer than a request.
    const key = createHash('sha256').update(token).digest('hex');
    const now = this.#now();
    const hit = this.#tokens.get(key, now);
    if (hit !== undefined) return hit ?? undefined;
    return this.#tokenReviews.run(async () => {
      try {
        const review = await this.#http.request('POST', '/apis/authentication.k8s.io/v1/tokenreviews', {
          body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token } },
        });
        const user = review?.status?.authenticated ? (review.status.user ?? {}) : undefined;
        const caller: Caller | null = user?.username ? { username: user.username, uid: user.uid, groups: user.groups, extra: user.extra } : null;
        this.#tokens.set(key, caller, now + (caller ? ALLOWED_TTL_MS : DENIED_TTL_MS));
        return caller ?? undefined;
      } catch (err) {
        this.#log?.warn('token review failed', { error: err instanceof Error ? err.message : String(err) });
        return undefined;
      }
    }, undefined);
  }

  /** SubjectAccessReview for a non-resource URL or a resource in a namespace, cached per caller. */
  async allowed(caller: Caller, attrs: { path: string; verb: string } | { namespace: string; verb: string; group: string; resource: string }): Promise<boolean> {
    const key = createHash('sha256').update(JSON.stringify([caller.username, caller.uid, caller.groups, attrs])).digest('hex');
    const now = this.#now();
    const hit = this.#decisions.get(key, now);
    if (hit !== undefined) return hit;
    return this.#accessReviews.run(async () => {
      let allowed = false;
      try {
        const spec = 'path' in attrs ? { nonResourceAttributes: attrs } : { resourceAttributes: attrs };
        const sar = await this.#http.request('POST', '/apis/authorization.k8s.io/v1/subjectaccessreviews', {
          body: { apiVersion: 'authorization.k8s.io/v1', kind: 'SubjectAccessReview', spec: { user: caller.username, uid: caller.uid, groups: caller.groups, extra: caller.extra, ...spec } },
        });
        allowed = sar?.status?.allowed === true;
      } catch (err) {
        this.#log?.warn('authorization check failed', { error: err instanceof Error ? err.message : String(err) });
        return false;
      }
      this.#decisions.set(key, allowed, now + (allowed ? ALLOWED_TTL_MS : DENIED_TTL_MS));
      return allowed;
    }, false);
  }

  async check(authorization: string | undefined, path: string, method: string): Promise<{ verdict: Verdict; caller?: Caller }> {
    const caller = await this.authenticate(RequestAuthorizer.bearer(authorization));
    if (!caller) return { verdict: 'unauthenticated' };
    const verb = method.toLowerCase() === 'head' ? 'get' : method.toLowerCase();
    return { verdict: (await this.allowed(caller, { path, verb })) ? 'allowed' : 'forbidden', caller };
  }

  /** The /state resources this caller may see: those in namespaces where it may list that kind. */
  async visible<T extends { kind: ResourceKind; namespace: string }>(caller: Caller | undefined, resources: readonly T[]): Promise<T[]> {
    if (!caller) return [];
    const verdicts = new Map<string, Promise<boolean>>();
    const mayList = (kind: ResourceKind, namespace: string) => {
      const k = `${kind}/${namespace}`;
      if (!verdicts.has(k)) {
        verdicts.set(k, this.allowed(caller, { namespace, verb: 'list', group: groupOf(kind), resource: pluralOf(kind) }));
      }
      return verdicts.get(k)!;
    };
    const out: T[] = [];
    for (const r of resources) if (await mayList(r.kind, r.namespace)) out.push(r);
    return out;
  }
}

export { IDENTITY_HEADER };

function send(res: ServerResponse, status: number, body: string, type = 'text/plain; charset=utf-8'): void {
  res.writeHead(status, { 'Content-Type': type, 'Cache-Control': 'no-store' });
  res.end(body);
}

export async function listen(server: Server, address: string): Promise<{ host: string; port: number }> {
  const m = /^(.*):(\d+)$/.exec(address);
  if (!m) throw new Error(`bind address "${address}" must look like host:port or :port`);
  const host = m[1] || '0.0.0.0';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(Number(m[2]), host, () => resolve());
  });
  const a = server.address();
  return { host, port: typeof a === 'object' && a ? a.port : Number(m[2]) };
}

/**
 * How a listener decides who may see what:
 *   token     /metrics and /state need a bearer token allowed by TokenReview +
 *             SubjectAccessReview for the URL; /state then lists only the
 *             resources of namespaces where the caller may list that kind.
 *   proxied   behind the apiserver's service proxy (RBAC on services/proxy is
 *             the gate, and the proxy strips Authorization): /metrics and the
 *             controller-level /state are served; resources are listed only
 *             for a caller who proves who they are in the x-vault-sync-
 *             authorization header, filtered the same way.
 *   open      no checks (--metrics-auth=false).
 */
export type Access = { mode: 'token'; authorizer: RequestAuthorizer } | { mode: 'proxied'; authorizer: RequestAuthorizer } | { mode: 'open' };

const READ_ONLY_PATHS = new Set<string>([ENDPOINT.metrics, ENDPOINT.state, ENDPOINT.history]);

export function metricsServer(opts: { registry: Registry; probe: Probe; access: Access; history?: HistorySource; log?: Logger }): Server {
  const { access } = opts;
  return nodeHttp.createServer((req: IncomingMessage, res: ServerResponse) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://localhost');
      const path = url.pathname;
      if (!READ_ONLY_PATHS.has(path) || (path === ENDPOINT.history && !opts.history)) return send(res, 404, 'not found\n');
      if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'method not allowed\n');
      let caller: Caller | undefined;
      if (access.mode === 'token') {
        const checked = await access.authorizer.check(req.headers.authorization, path, req.method);
        if (checked.verdict === 'unauthenticated') return send(res, 401, 'unauthorized: send a Kubernetes bearer token\n');
        if (checked.verdict === 'forbidden') return send(res, 403, `forbidden: the token may not get ${path}\n`);
        caller = checked.caller;
      } else if (access.mode === 'proxied') {
        caller = await access.authorizer.authenticate(RequestAuthorizer.bearer(req.headers[IDENTITY_HEADER]));
      }
      if (path === ENDPOINT.metrics) return send(res, 200, await opts.registry.metrics(), opts.registry.contentType);
      if (path === ENDPOINT.history) {
        const q = historyQuery(url.searchParams);
        if (!q) return send(res, 400, 'bad request: give kind=Deployment|Secret, namespace and name\n');
        // The same gate as the resources of /state: the caller may list that kind in that namespace.
        if (access.mode !== 'open' && (await access.authorizer.visible(caller, [q])).length === 0) {
          return send(res, 403, `forbidden: the caller may not list ${q.kind === 'Secret' ? 'secrets' : 'deployments'} in ${q.namespace}\n`);
        }
        const body = await opts.history!(q.kind, q.namespace, q.name);
        if (!body) return send(res, 404, `not found: ${q.kind} ${q.namespace}/${q.name} is not synced by this controller\n`);
        return send(res, 200, `${JSON.stringify(body)}\n`, 'application/json');
      }
      const state = opts.probe.state();
      if (access.mode !== 'open') state.resources = await access.authorizer.visible(caller, state.resources);
      return send(res, 200, `${JSON.stringify(state, null, 2)}\n`, 'application/json');
    })().catch((err) => {
      opts.log?.error('metrics endpoint failed', { error: err instanceof Error ? err.message : String(err) });
      if (!res.headersSent) send(res, 500, 'internal error\n');
    });
  });
}

// Kubernetes object names: DNS subdomains (Secrets) or labels (Deployments); the subdomain rule covers both.
const OBJECT_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

function historyQuery(q: URLSearchParams): { kind: ResourceKind; namespace: string; name: string } | undefined {
  const kind = q.get('kind');
  const namespace = q.get('namespace') ?? '';
  const name = q.get('name') ?? '';
  if ((kind !== 'Deployment' && kind !== 'Secret') || !OBJECT_NAME.test(namespace) || !OBJECT_NAME.test(name)) return undefined;
  return { kind, namespace, name };
}

export function probeServer(probe: Probe): Server {
  return nodeHttp.createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    if (path === '/healthz') return send(res, 200, 'ok\n');
    if (path === '/readyz') {
      const r = probe.ready();
      return send(res, r.ready ? 200 : 503, `${JSON.stringify(r.checks)}\n`, 'application/json');
    }
    return send(res, 404, 'not found\n');
  });
}
