// One keep-alive connection pool to one HTTP(S) server: what the Kubernetes
// and the Vault clients send their requests through. Request/response
// exchanges go through our HTTP/1.1 client (http1-client.ts: less than half
// node:https's CPU per call); streamed bodies (watches) through node:http
// and node:https (built into Node and Deno).
//
// Contract:
//   - `request` resolves with the status, the response headers and the whole
//     body as text, for every HTTP answer; it rejects only when no complete
//     answer came (network, TLS, timeout, abort, a malformed answer), with an
//     error carrying the system or TLS `code` (ECONNREFUSED, ETIMEDOUT,
//     ERR_TLS_..., ABORT_ERR, HPE_INVALID).
//   - `open` resolves once the response headers arrive and hands over the
//     body as a stream (watches); the caller consumes or destroys it.
//   - Redirects are never followed.
//   - `timeoutMs` bounds a whole `request` (headers and body); for `open` it
//     bounds the wait for the headers only (a watch stays open).
//   - `setTls` swaps the TLS material (rotated client certificates): new
//     connections use it, open ones finish on the old pool.
//
// Why not undici, the first choice (client-node brings it): measured in
// bench/ (README, Libraries), undici adds 1.3 MB to the bundle and, with
// client-node, ~85 MiB RSS at start; neither its fetch nor its Pool costs
// less CPU per call than node:https with a keep-alive agent.
import type { Agent as HttpAgent, IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest, type AgentOptions } from 'node:https';
import { nodeHttp } from './node-http.ts';
import { Http1Client } from './http1-client.ts';
import { TransportError, transportError } from './transport-error.ts';

export { TransportError };

export interface TlsMaterial {
  ca?: string | Buffer;
  cert?: string | Buffer;
  key?: string | Buffer;
  rejectUnauthorized?: boolean;
  servername?: string;
}

export interface PoolRequest {
  method: string;
  /** Path and query, appended to the pool's base URL. */
  path: string;
  headers?: OutgoingHttpHeaders;
  body?: string;
  signal?: AbortSignal;
  timeoutMs?: number;
}

export interface PoolResponse {
  status: number;
  headers: IncomingMessage['headers'];
  text: string;
}

export class HttpPool {
  readonly base: URL;
  readonly #secure: boolean;
  readonly #maxSockets: number;
  #agent: HttpAgent | HttpsAgent;
  /** Request/response exchanges (http1-client.ts); `open` stays on node:http. */
  #client: Http1Client;
  /** The host without IPv6 brackets, as node:http wants it. */
  readonly #hostname: string;

  constructor(base: string, opts: { tls?: TlsMaterial; maxSockets?: number } = {}) {
    this.base = new URL(base.replace(/\/+$/, ''));
    this.#secure = this.base.protocol === 'https:';
    this.#hostname = this.base.hostname.replace(/^\[|\]$/g, '');
    this.#maxSockets = opts.maxSockets ?? 32;
    this.#agent = this.#makeAgent(opts.tls);
    const port = Number(this.base.port || (this.#secure ? 443 : 80));
    this.#client = new Http1Client({ host: this.#hostname, port, secure: this.#secure, tls: opts.tls, maxSockets: this.#maxSockets });
  }

  #makeAgent(tls: TlsMaterial | undefined): HttpAgent | HttpsAgent {
    const common = { keepAlive: true, keepAliveMsecs: 30_000, maxSockets: this.#maxSockets, maxFreeSockets: this.#maxSockets };
    if (!this.#secure) return new nodeHttp.Agent(common);
    const options: AgentOptions = { ...common };
    if (tls?.ca !== undefined) options.ca = tls.ca;
    if (tls?.cert !== undefined) options.cert = tls.cert;
    if (tls?.key !== undefined) options.key = tls.key;
    if (tls?.servername !== undefined) options.servername = tls.servername;
    options.rejectUnauthorized = tls?.rejectUnauthorized ?? true;
    return new HttpsAgent(options);
  }

  /** New connections use this TLS material; connections already open finish on the old pool. */
  setTls(tls: TlsMaterial | undefined): void {
    const previous = this.#agent;
    this.#agent = this.#makeAgent(tls);
    this.#client.setTls(tls);
    setTimeout(() => previous.destroy(), 60_000).unref?.();
  }

  // One deadline timer per watch, ours, for its headers only: a watch may
  // stay quiet for minutes afterwards. Not ClientRequest.setTimeout, which
  // arms the socket's idle timer and adds listeners per request.
  open(req: PoolRequest): Promise<IncomingMessage> {
    return new Promise((resolve, reject) => {
      const prefix = this.base.pathname === '/' ? '' : this.base.pathname;
      const options = {
        protocol: this.base.protocol, hostname: this.#hostname, port: this.base.port || undefined,
        path: prefix + req.path, method: req.method, headers: req.headers, agent: this.#agent, signal: req.signal,
      };
      let timer: ReturnType<typeof setTimeout> | undefined;
      const outgoing = (this.#secure ? httpsRequest : nodeHttp.request)(options, (res) => {
        clearTimeout(timer);
        resolve(res);
      });
      outgoing.on('error', (err) => {
        clearTimeout(timer);
        reject(transportError(err, `${req.method} ${this.base.host}`));
      });
      if (req.timeoutMs !== undefined) {
        const ms = req.timeoutMs;
        timer = setTimeout(() => outgoing.destroy(new TransportError('ETIMEDOUT', `${req.method} ${this.base.host}: no answer within ${ms} ms`)), ms);
      }
      outgoing.end(req.body);
    });
  }

  request(req: PoolRequest): Promise<PoolResponse> {
    return this.#client.request(this.base.pathname === '/' ? req : { ...req, path: this.base.pathname + req.path });
  }

  close(): void {
    this.#agent.destroy();
    this.#client.close();
  }
}
