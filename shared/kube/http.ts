// A small Kubernetes HTTP client on top of @kubernetes/client-node's
// configuration and authentication (kubeconfig, in-cluster, client certs,
// exec/OIDC tokens), using undici like client-node itself.
//
// Why not the generated API classes for everything: we need metadata-only
// lists, watches and patch responses (Accept: PartialObjectMetadata, so
// Secret data never crosses the wire when it is not needed), explicit patch
// content types, and errors that never embed response bodies (client-node's
// ApiException carries the whole body, which for a Secret is its data).
//
// Deadlines: every request has one. `request()` bounds the whole exchange
// (headers and body) by `timeoutMs` (the client's default unless the caller
// passes its own; 0 means none); `open()` bounds only the wait for response
// headers, because a watch stream is long by design and its reader keeps its
// own deadline (see reflector.ts). A request past its deadline is aborted and
// fails with KubeTimeoutError.
import { HttpMethod, RequestContext, type KubeConfig } from '@kubernetes/client-node';
import { fetch, type Dispatcher, type Response } from 'undici';
import { systemClock, type Clock } from '../clock.ts';

export const ACCEPT_JSON = 'application/json';
export const ACCEPT_METADATA = 'application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json';
export const ACCEPT_METADATA_LIST = 'application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json';
export const MERGE_PATCH = 'application/merge-patch+json';
export const STRATEGIC_MERGE_PATCH = 'application/strategic-merge-patch+json';

/** A failed Kubernetes API call. The message names method, path, status and the API's `reason`, never the body. */
export class KubeHttpError extends Error {
  readonly status: number;
  /** metav1.Status reason, e.g. NotFound, Conflict, Forbidden, Expired, Gone. */
  readonly reason: string | undefined;

  constructor(method: string, path: string, status: number, reason: string | undefined) {
    super(`Kubernetes ${method} ${path}: HTTP ${status}${reason ? ` (${reason})` : ''}`);
    this.name = 'KubeHttpError';
    this.status = status;
    this.reason = reason;
  }
}

/** A Kubernetes API call that did not finish within its deadline (it was aborted). */
export class KubeTimeoutError extends Error {
  readonly timeoutMs: number;

  constructor(method: string, path: string, timeoutMs: number) {
    super(`Kubernetes ${method} ${path}: no answer within ${timeoutMs} ms`);
    this.name = 'KubeTimeoutError';
    this.timeoutMs = timeoutMs;
  }
}

/** A write refused before it was sent because the caller's fence was closed (see KubeHttp.withWriteFence). */
export class KubeFencedError extends Error {
  constructor(method: string, path: string) {
    super(`Kubernetes ${method} ${path}: not sent, this instance may no longer write (fenced)`);
    this.name = 'KubeFencedError';
  }
}

/** The default deadline of one Kubernetes request (the controller's --kube-api-timeout). */
export const DEFAULT_KUBE_TIMEOUT_MS = 30_000;

export interface KubeHttpOptions {
  /** Deadline of each request unless the caller passes its own; 0 disables it. */
  timeoutMs?: number;
  clock?: Clock;
}

export interface KubeRequest {
  body?: unknown;
  contentType?: string;
  accept?: string;
  query?: Record<string, string | number | boolean | undefined>;
  signal?: AbortSignal;
  /** Resolve undefined on 404 instead of failing. */
  allow404?: boolean;
  /** This request's deadline (request: whole exchange; open: until headers); 0 = none. */
  timeoutMs?: number;
}

const HTTP_METHOD: Record<string, HttpMethod> = {
  GET: HttpMethod.GET, POST: HttpMethod.POST, PUT: HttpMethod.PUT, PATCH: HttpMethod.PATCH, DELETE: HttpMethod.DELETE,
};

/** How long one connection pool is reused before a fresh one picks up rotated client certificates. */
const DISPATCHER_TTL_MS = 10 * 60_000;

export class KubeHttp {
  readonly kc: KubeConfig;
  readonly server: string;
  // client-node builds a new undici Agent for every request (a TLS handshake
  // and a connection pool each time, never reused): measured at ~0.6 GB RSS
  // and ~55 reconciles/s over 1,000 Deployments. One pool is kept here
  // instead; headers (tokens) are still applied per request.
  // Shared by every view of this client (withWriteFence).
  #pool: { dispatcher?: { value: Dispatcher | undefined; until: number } } = {};
  readonly #timeoutMs: number;
  readonly #clock: Clock;
  #mayWrite: (() => boolean) | undefined;

  constructor(kc: KubeConfig, opts: KubeHttpOptions = {}) {
    const cluster = kc.getCurrentCluster();
    if (!cluster) throw new Error('kubeconfig has no current cluster; set a current-context or pass --kubeconfig');
    this.kc = kc;
    this.server = cluster.server.replace(/\/$/, '');
    this.#timeoutMs = opts.timeoutMs ?? DEFAULT_KUBE_TIMEOUT_MS;
    this.#clock = opts.clock ?? systemClock;
  }

  /**
   * A view of this client (same configuration and connection pool) whose
   * writes (every method but GET) fail with KubeFencedError, unsent, while
   * `mayWrite()` is false. Reads always go through.
   */
  withWriteFence(mayWrite: () => boolean): KubeHttp {
    const view = new KubeHttp(this.kc, { timeoutMs: this.#timeoutMs, clock: this.#clock });
    view.#pool = this.#pool;
    view.#mayWrite = mayWrite;
    return view;
  }

  /** Runs `exchange` under the request's deadline; a deadline that fires aborts it and becomes a KubeTimeoutError. */
  async #withDeadline<T>(method: string, path: string, req: KubeRequest, exchange: (signal: AbortSignal | undefined) => Promise<T>): Promise<T> {
    const timeoutMs = req.timeoutMs ?? this.#timeoutMs;
    if (!(timeoutMs > 0)) return exchange(req.signal);
    const deadline = new AbortController();
    const timer = this.#clock.setTimer(() => deadline.abort(new KubeTimeoutError(method, path, timeoutMs)), timeoutMs, { unref: true });
    try {
      return await exchange(req.signal ? AbortSignal.any([req.signal, deadline.signal]) : deadline.signal);
    } catch (err) {
      if (deadline.signal.aborted && !req.signal?.aborted) throw deadline.signal.reason;
      throw err;
    } finally {
      timer.cancel();
    }
  }

  /**
   * Opens a request and returns the raw response (for streams); the caller
   * reads or cancels the body. The deadline covers only the wait for headers.
   */
  open(method: string, path: string, req: KubeRequest = {}): Promise<Response> {
    return this.#withDeadline(method, path, req, (signal) => this.#send(method, path, req, signal));
  }

  async #send(method: string, path: string, req: KubeRequest, signal: AbortSignal | undefined): Promise<Response> {
    if (method !== 'GET' && this.#mayWrite && !this.#mayWrite()) throw new KubeFencedError(method, path);
    const url = new URL(this.server + path);
    for (const [k, v] of Object.entries(req.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    const ctx = new RequestContext(url.toString(), HTTP_METHOD[method] ?? HttpMethod.GET);
    await this.kc.applySecurityAuthentication(ctx);
    const now = this.#clock.now();
    const pool = this.#pool;
    if (!pool.dispatcher || pool.dispatcher.until <= now) {
      const previous = pool.dispatcher?.value;
      pool.dispatcher = { value: ctx.getDispatcher(), until: now + DISPATCHER_TTL_MS };
      // Let requests in flight on the old pool finish, then close it.
      if (previous) this.#clock.setTimer(() => void previous.close().catch(() => {}), 60_000, { unref: true });
    }
    const headers: Record<string, string> = { ...ctx.getHeaders(), Accept: req.accept ?? ACCEPT_JSON };
    if (req.body !== undefined) headers['Content-Type'] = req.contentType ?? ACCEPT_JSON;
    return fetch(url, {
      method,
      headers,
      body: req.body === undefined ? undefined : JSON.stringify(req.body),
      dispatcher: pool.dispatcher.value,
      signal,
    });
  }

  /** One request; resolves with the parsed JSON body. The deadline covers headers and body. */
  request<T = any>(method: string, path: string, req: KubeRequest = {}): Promise<T> {
    return this.#withDeadline(method, path, req, async (signal) => {
      const res = await this.#send(method, path, req, signal);
      if (res.status === 404 && req.allow404) {
        await res.body?.cancel();
        return undefined as T;
      }
      const text = await res.text();
      if (res.status >= 400) {
        let reason: string | undefined;
        try {
          reason = JSON.parse(text)?.reason;
        } catch {
          /* not a Status object */
        }
        throw new KubeHttpError(method, path, res.status, reason);
      }
      return (text ? JSON.parse(text) : undefined) as T;
    });
  }
}

export function isKubeError(err: unknown, status: number): err is KubeHttpError {
  return err instanceof KubeHttpError && err.status === status;
}
