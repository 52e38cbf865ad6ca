// A small Kubernetes HTTP client: one keep-alive pool (shared/http-pool.ts)
// to the apiserver, with credentials from a KubeCredentials source (our own
// in-cluster and kubeconfig loader, credentials.ts) or from a
// @kubernetes/client-node KubeConfig (exec and OIDC plugins, the extension).
//
// Why not the generated API classes for everything: we need metadata-only
// lists, watches and patch responses (Accept: PartialObjectMetadata, so
// Secret data never crosses the wire when it is not needed), explicit patch
// content types, and errors that never embed response bodies (client-node's
// ApiException carries the whole body, which for a Secret is its data).
//
// Deadlines: every request has one: the caller's `timeoutMs`, else the
// client's default (DEFAULT_KUBE_TIMEOUT_MS unless configured; the
// controller's --kube-api-timeout). `request` bounds the whole exchange,
// `open` only the wait for response headers (a watch stream is long by
// design; its reader keeps its own deadline, see reflector.ts). A request
// past its deadline fails with TransportError code ETIMEDOUT.
//
// Fencing: `withWriteFence` gives a view (same credentials and connection
// pool) whose writes fail unsent with KubeFencedError while the caller's
// fence is closed (a deposed leader's status writes).
import type { IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import type { KubeConfig } from '@kubernetes/client-node';
import { HttpPool, TransportError, type TlsMaterial } from '../http-pool.ts';

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

export interface KubeRequest {
  body?: unknown;
  contentType?: string;
  accept?: string;
  query?: Record<string, string | number | boolean | undefined>;
  signal?: AbortSignal;
  /** Resolve undefined on 404 instead of failing. */
  allow404?: boolean;
  /** Extra request headers (e.g. the caller's identity for the controller's status listener). */
  headers?: Record<string, string>;
  /** Deadline of this request (for `open`: until the response headers arrive); 0 = none. */
  timeoutMs?: number;
}

/** A write refused before it was sent because the caller's fence was closed (see KubeHttp.withWriteFence). */
export class KubeFencedError extends Error {
  constructor(method: string, path: string) {
    super(`Kubernetes ${method} ${path}: not sent, this instance may no longer write (fenced)`);
    this.name = 'KubeFencedError';
  }
}

/** The deadline of one Kubernetes request when the client is given none. */
export const DEFAULT_KUBE_TIMEOUT_MS = 30_000;

/** Where a client's server, TLS material and authentication headers come from. */
export interface KubeCredentials {
  server: string;
  /** Called again every AUTH_TTL_MS: tokens in files rotate. */
  load(): Promise<{ tls: TlsMaterial; headers: Record<string, string> }>;
}

/** A client-node KubeConfig as credentials (exec and OIDC plugins included; TLS material from its own loader). */
export function kubeConfigCredentials(kc: KubeConfig): KubeCredentials {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('kubeconfig has no current cluster; set a current-context or pass --kubeconfig');
  return {
    server: cluster.server,
    async load() {
      const o: Record<string, any> = {};
      await kc.applyToHTTPSOptions(o);
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries<unknown>(o.headers ?? {})) if (v !== undefined) headers[k] = String(v);
      if (o.auth) headers.Authorization = `Basic ${Buffer.from(String(o.auth)).toString('base64')}`;
      const tls: TlsMaterial = {};
      for (const k of ['ca', 'cert', 'key', 'servername'] as const) if (o[k] !== undefined) tls[k] = o[k];
      if (o.rejectUnauthorized !== undefined) tls.rejectUnauthorized = o.rejectUnauthorized;
      return { tls, headers };
    },
  };
}

/**
 * How long authentication headers and TLS material are reused. client-node
 * rebuilds them (and a TLS agent, parsing the client key) on every call:
 * measured at about a third of the controller's CPU. Projected tokens rotate
 * hourly; exec and OIDC tokens live far longer than this.
 */
const AUTH_TTL_MS = 30_000;

export class KubeHttp {
  readonly server: string;
  readonly #credentials: KubeCredentials;
  #pool: HttpPool;
  readonly #defaultTimeoutMs: number;
  #auth: { headers: Record<string, string>; tlsKey: string; until: number } | undefined;
  #authing: Promise<Record<string, string>> | undefined;
  /** A fenced view delegates authentication to the client it was made from. */
  #parent: KubeHttp | undefined;
  #mayWrite: (() => boolean) | undefined;
  /** Epoch milliseconds, for the authentication cache's lifetime. */
  readonly #now: () => number;

  constructor(source: KubeConfig | KubeCredentials, opts: { timeoutMs?: number; now?: () => number } = {}) {
    this.#credentials = 'load' in source ? source : kubeConfigCredentials(source);
    this.server = this.#credentials.server.replace(/\/$/, '');
    this.#pool = new HttpPool(this.server);
    this.#defaultTimeoutMs = opts.timeoutMs ?? DEFAULT_KUBE_TIMEOUT_MS;
    this.#now = opts.now ?? Date.now;
  }

  /**
   * A view of this client (same credentials, authentication cache and
   * connection pool) whose writes (every method but GET) fail unsent with
   * KubeFencedError while `mayWrite()` is false. Reads always go through.
   */
  withWriteFence(mayWrite: () => boolean): KubeHttp {
    const view = new KubeHttp(this.#credentials, { timeoutMs: this.#defaultTimeoutMs, now: this.#now });
    view.#pool.close();
    view.#pool = this.#pool;
    view.#parent = this.#parent ?? this;
    view.#mayWrite = mayWrite;
    return view;
  }

  #fence(method: string, path: string): void {
    if (method !== 'GET' && this.#mayWrite && !this.#mayWrite()) throw new KubeFencedError(method, path);
  }

  /** Authentication headers, refreshed every AUTH_TTL_MS (single-flight); the pool follows rotated TLS material. */
  #headers(): Promise<Record<string, string>> {
    if (this.#parent) return this.#parent.#headers();
    if (this.#auth && this.#auth.until > this.#now()) return Promise.resolve(this.#auth.headers);
    this.#authing ??= (async () => {
      const { tls, headers } = await this.#credentials.load();
      const tlsKey = JSON.stringify([tls.ca, tls.cert, tls.key, tls.rejectUnauthorized, tls.servername].map((x) => (Buffer.isBuffer(x) ? x.toString('base64') : x)));
      if (this.#auth?.tlsKey !== tlsKey) this.#pool.setTls(tls);
      this.#auth = { headers, tlsKey, until: this.#now() + AUTH_TTL_MS };
      return headers;
    })().finally(() => {
      this.#authing = undefined;
    });
    return this.#authing;
  }

  async #prepare(path: string, req: KubeRequest) {
    let search = '';
    if (req.query) {
      const query = new URLSearchParams();
      for (const [k, v] of Object.entries(req.query)) if (v !== undefined) query.set(k, String(v));
      if (query.size) search = `?${query.toString()}`;
    }
    const headers: Record<string, string> = { ...req.headers, ...(await this.#headers()), Accept: req.accept ?? ACCEPT_JSON };
    const body = req.body === undefined ? undefined : JSON.stringify(req.body);
    if (body !== undefined) {
      headers['Content-Type'] = req.contentType ?? ACCEPT_JSON;
      headers['Content-Length'] = String(Buffer.byteLength(body));
    }
    const timeoutMs = req.timeoutMs ?? this.#defaultTimeoutMs;
    return { path: path + search, headers, body, signal: req.signal, timeoutMs: timeoutMs > 0 ? timeoutMs : undefined };
  }

  /** Opens a request and returns the response as soon as its headers arrive, the body still to read (watches); the caller reads or cancels it. */
  async open(method: string, path: string, req: KubeRequest = {}): Promise<KubeStream> {
    this.#fence(method, path);
    const res = await this.#pool.open({ method, ...(await this.#prepare(path, req)) });
    return new KubeStream(res, res.statusCode ?? 0, res.headers);
  }

  /** One request; resolves with the parsed JSON body. */
  async request<T = any>(method: string, path: string, req: KubeRequest = {}): Promise<T> {
    this.#fence(method, path);
    const res = await this.#pool.request({ method, ...(await this.#prepare(path, req)) });
    if (res.status === 404 && req.allow404) return undefined as T;
    if (res.status >= 400) {
      let reason: string | undefined;
      try {
        reason = JSON.parse(res.text)?.reason;
      } catch {
        /* not a Status object */
      }
      throw new KubeHttpError(method, path, res.status, reason);
    }
    return (res.text ? JSON.parse(res.text) : undefined) as T;
  }

  close(): void {
    if (!this.#parent) this.#pool.close();
  }
}

/**
 * A response whose body is read as it arrives, on Node's own stream. Not a
 * web Response: constructing the first one loads Node's bundled undici
 * (measured in a bare node 24: +16 MiB RSS, +3.5 MiB heap), which the
 * controller otherwise never needs.
 */
export class KubeStream {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly #body: Readable;
  #cancelled = false;

  constructor(body: Readable, status: number, headers: IncomingHttpHeaders = {}) {
    this.#body = body;
    this.status = status;
    this.headers = headers;
  }

  /** The body's chunks as they arrive; ends quietly once cancel() was called. */
  async *chunks(): AsyncGenerator<Buffer> {
    try {
      for await (const chunk of this.#body) yield chunk as Buffer;
    } catch (err) {
      if (!this.#cancelled) throw err;
    }
  }

  async text(): Promise<string> {
    const parts: Buffer[] = [];
    for await (const chunk of this.chunks()) parts.push(chunk);
    return Buffer.concat(parts).toString('utf8');
  }

  async json<T = any>(): Promise<T> {
    return JSON.parse(await this.text()) as T;
  }

  /** Releases the connection without reading the rest of the body. */
  cancel(): void {
    this.#cancelled = true;
    this.#body.destroy();
  }
}

export { TransportError };

export function isKubeError(err: unknown, status: number): err is KubeHttpError {
  return err instanceof KubeHttpError && err.status === status;
}
