// The HTTP transport to Vault: one keep-alive connection pool (http-pool.ts), and
// nothing else. It builds no URLs from user input (callers pass validated
// paths, see paths.ts), makes no decisions, and never retries.
//
// Contract:
//   - `request` resolves with status, the headers that matter (Retry-After,
//     X-RateLimit-*) and the parsed JSON body, for every HTTP answer, 2xx or
//     not; it rejects only when no answer came (network, timeout, abort),
//     with an error whose `code` says which.
//   - Redirects are never followed: a 3xx is returned like any other answer,
//     so the token is never sent to an address the operator did not choose.
//   - TLS: the configured CA, server name and verification; verification is
//     off only when `skipVerify` was set explicitly.
//   - Every request has a deadline (`timeoutMs`, default 30 s).
//
// Why not node-vault's client (the library first chosen): it is a shim over
// axios that drops response headers from errors (Retry-After on a 429 never
// reaches the caller), follows redirects carrying X-Vault-Token, reads
// VAULT_* variables on its own, and costs more CPU per request (measured in
// bench/core.ts; see the README's Libraries section). It sends through the
// same node:https pool as the Kubernetes client (http-pool.ts).
import { systemClock, type Clock } from '../clock.ts';
import { HttpPool, TransportError } from '../http-pool.ts';

export interface VaultConnection {
  addr: string;
  /** Vault Enterprise / OpenBao namespace header. */
  namespace?: string;
  caPem?: string;
  /** TLS server name to verify, when it differs from the host in `addr`. */
  tlsServerName?: string;
  /** Only ever true when explicitly configured; see parseBool in config. */
  skipVerify?: boolean;
  timeoutMs?: number;
}

export interface VaultHttpRequest {
  method: string;
  /** Path after /v1/, already validated. */
  path: string;
  token?: string;
  body?: unknown;
  contentType?: string;
  signal?: AbortSignal;
}

export interface VaultHttpResponse {
  status: number;
  /** Retry-After in milliseconds, when the server sent one. */
  retryAfterMs?: number;
  /** Parsed JSON body; undefined for an empty body (204). */
  body: any;
}

/** No answer came back: `code` is the system's or TLS's error code. */
export { TransportError as VaultTransportError };

/** Retry-After as delay-seconds or an HTTP date, in ms from `nowMs`. */
export function parseRetryAfter(value: string | string[] | undefined, nowMs: number): number | undefined {
  const raw = Array.isArray(value) ? value[0] : value;
  if (raw === undefined || raw.trim() === '') return undefined;
  if (/^\d+$/.test(raw.trim())) return Number(raw.trim()) * 1000;
  const at = Date.parse(raw);
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
}

export class VaultHttp {
  readonly #conn: VaultConnection;
  readonly #pool: HttpPool;
  readonly #clock: Clock;

  constructor(conn: VaultConnection, clock: Clock = systemClock) {
    this.#conn = conn;
    this.#clock = clock;
    this.#pool = new HttpPool(`${conn.addr.replace(/\/+$/, '')}/v1`, {
      tls: {
        ...(conn.caPem ? { ca: conn.caPem } : {}),
        ...(conn.tlsServerName ? { servername: conn.tlsServerName } : {}),
        rejectUnauthorized: !conn.skipVerify,
      },
    });
  }

  get addr(): string {
    return this.#conn.addr;
  }

  async request(req: VaultHttpRequest): Promise<VaultHttpResponse> {
    // Vault answers with JSON; ask for it and say so when sending.
    const headers: Record<string, string> = { Accept: 'application/json' };
    if (req.token) headers['X-Vault-Token'] = req.token;
    if (this.#conn.namespace) headers['X-Vault-Namespace'] = this.#conn.namespace;
    const body = req.body === undefined ? undefined : JSON.stringify(req.body);
    if (body !== undefined) {
      headers['Content-Type'] = req.contentType ?? 'application/json';
      headers['Content-Length'] = String(Buffer.byteLength(body));
    }
    const res = await this.#pool.request({ method: req.method, path: `/${req.path}`, headers, body, signal: req.signal, timeoutMs: this.#conn.timeoutMs ?? 30_000 });
    let parsed: any;
    if (res.text.length > 0) {
      try {
        parsed = JSON.parse(res.text);
      } catch {
        // A proxy's HTML error page: keep the status, drop the body.
        parsed = undefined;
      }
    }
    return { status: res.status, retryAfterMs: parseRetryAfter(res.headers['retry-after'], this.#clock.wallNow()), body: parsed };
  }

  async close(): Promise<void> {
    this.#pool.close();
  }
}
