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
// for 5 minutes, denied for 30 seconds. --metrics-auth=false turns it off.
// The status listener (for the apiserver's service proxy) serves the same
// read-only paths without token checks: RBAC on services/proxy gates it.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createHash } from 'node:crypto';
import type { Registry } from 'prom-client';
import { ENDPOINT, type HistoryResponse, type StateResponse } from '../shared/contract/state.ts';
import type { KubeHttp } from '../shared/kube/http.ts';
import type { Logger } from '../shared/log.ts';

export interface Probe {
  ready(): { ready: boolean; checks: Record<string, boolean | string> };
  state(): StateResponse;
}

/** Answers /history for one resource; undefined when the controller does not track it. */
export type HistorySource = (kind: 'Deployment' | 'Secret', namespace: string, name: string) => Promise<HistoryResponse | undefined>;

type Verdict = 'allowed' | 'unauthenticated' | 'forbidden';

export class RequestAuthorizer {
  readonly #http: KubeHttp;
  readonly #cache = new Map<string, { verdict: Verdict; until: number }>();
  readonly #log: Logger | undefined;

  constructor(http: KubeHttp, log?: Logger) {
    this.#http = http;
    this.#log = log;
  }

  async check(authorization: string | undefined, path: string, method: string): Promise<Verdict> {
    const token = /^Bearer\s+(.+)$/i.exec(authorization ?? '')?.[1]?.trim();
    if (!token) return 'unauthenticated';
    const verb = method.toLowerCase() === 'head' ? 'get' : method.toLowerCase();
    // The cache key is a hash: tokens never sit in memory longer than a request.
    const cacheKey = createHash('sha256').update(`${token}\n${path}\n${verb}`).digest('hex');
    const hit = this.#cache.get(cacheKey);
    if (hit && hit.until > Date.now()) return hit.verdict;
    const verdict = await this.#review(token, path, verb);
    this.#cache.set(cacheKey, { verdict, until: Date.now() + (verdict === 'allowed' ? 300_000 : 30_000) });
    if (this.#cache.size > 1000) for (const [k, v] of this.#cache) if (v.until <= Date.now()) this.#cache.delete(k);
    return verdict;
  }

  async #review(token: string, path: string, verb: string): Promise<Verdict> {
    try {
      const review = await this.#http.request('POST', '/apis/authentication.k8s.io/v1/tokenreviews', {
        body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token } },
      });
      if (!review?.status?.authenticated) return 'unauthenticated';
      const user = review.status.user ?? {};
      const sar = await this.#http.request('POST', '/apis/authorization.k8s.io/v1/subjectaccessreviews', {
        body: {
          apiVersion: 'authorization.k8s.io/v1', kind: 'SubjectAccessReview',
          spec: { user: user.username, uid: user.uid, groups: user.groups, extra: user.extra, nonResourceAttributes: { path, verb } },
        },
      });
      return sar?.status?.allowed ? 'allowed' : 'forbidden';
    } catch (err) {
      this.#log?.warn('authorization check failed', { error: err instanceof Error ? err.message : String(err) });
      return 'forbidden';
    }
  }
}

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

const READ_ONLY_PATHS = new Set<string>([ENDPOINT.metrics, ENDPOINT.state, ENDPOINT.history]);

export function metricsServer(opts: { registry: Registry; probe: Probe; history?: HistorySource; authorizer?: RequestAuthorizer; log?: Logger }): Server {
  return createServer((req: IncomingMessage, res: ServerResponse) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://localhost');
      const path = url.pathname;
      if (!READ_ONLY_PATHS.has(path) || (path === ENDPOINT.history && !opts.history)) return send(res, 404, 'not found\n');
      if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'method not allowed\n');
      if (opts.authorizer) {
        const verdict = await opts.authorizer.check(req.headers.authorization, path, req.method);
        if (verdict === 'unauthenticated') return send(res, 401, 'unauthorized: send a Kubernetes bearer token\n');
        if (verdict === 'forbidden') return send(res, 403, `forbidden: the token may not get ${path}\n`);
      }
      if (path === ENDPOINT.metrics) return send(res, 200, await opts.registry.metrics(), opts.registry.contentType);
      if (path === ENDPOINT.history) return sendHistory(res, url.searchParams, opts.history!);
      return send(res, 200, `${JSON.stringify(opts.probe.state(), null, 2)}\n`, 'application/json');
    })().catch((err) => {
      opts.log?.error('metrics endpoint failed', { error: err instanceof Error ? err.message : String(err) });
      if (!res.headersSent) send(res, 500, 'internal error\n');
    });
  });
}

// Kubernetes object names: DNS subdomains (Secrets) or labels (Deployments); the subdomain rule covers both.
const OBJECT_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

async function sendHistory(res: ServerResponse, q: URLSearchParams, history: HistorySource): Promise<void> {
  const kind = q.get('kind');
  const namespace = q.get('namespace') ?? '';
  const name = q.get('name') ?? '';
  if ((kind !== 'Deployment' && kind !== 'Secret') || !OBJECT_NAME.test(namespace) || !OBJECT_NAME.test(name)) {
    return send(res, 400, 'bad request: give kind=Deployment|Secret, namespace and name\n');
  }
  const body = await history(kind, namespace, name);
  if (!body) return send(res, 404, `not found: ${kind} ${namespace}/${name} is not synced by this controller\n`);
  return send(res, 200, `${JSON.stringify(body)}\n`, 'application/json');
}

export function probeServer(probe: Probe): Server {
  return createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    if (path === '/healthz') return send(res, 200, 'ok\n');
    if (path === '/readyz') {
      const r = probe.ready();
      return send(res, r.ready ? 200 : 503, `${JSON.stringify(r.checks)}\n`, 'application/json');
    }
    return send(res, 404, 'not found\n');
  });
}
