// The HTTP transport to Vault: one keep-alive connection pool (undici), and
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
// bench/core.ts; see the README's Libraries section).
import { Agent, request, type Dispatcher } from 'undici';
import { systemClock, type Clock } from '../clock.ts';

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

/** No answer came back: `code` is undici's or the system's error code. */
export class VaultTransportError extends Error {
  readonly code: string;
  constructor(code: string, message: string, opts: { cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'VaultTransportError';
    this.code = code;
  }
}

/** Retry-After as delay-seconds or an HTTP date, in ms from `nowMs`. */
export function parseRetryAfter(value: string | string[] | undefined, nowMs: number): number | undefined {
  const raw = Array.isArray(value) ? value[0] : value;
  if (raw === undefined || raw.trim() === '') return undefined;
  if (/^\d+$/.test(raw.trim())) return Number(raw.trim()) * 1000;
  const at = Date.parse(raw);
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
}

export class VaultHttp {
  readonly #base: string;
  readonly #conn: VaultConnection;
  readonly #agent: Dispatcher;
  readonly #clock: Clock;

  constructor(conn: VaultConnection, clock: Clock = systemClock) {
    this.#conn = conn;
    this.#clock = clock;
    this.#base = `${conn.addr.replace(/\/+$/, '')}/v1/`;
    this.#agent = new Agent({
      keepAliveTimeout: 30_000,
      connect: {
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
    const headers: Record<string, string> = {};
    if (req.token) headers['X-Vault-Token'] = req.token;
    if (this.#conn.namespace) headers['X-Vault-Namespace'] = this.#conn.namespace;
    // Vault answers with JSON; ask for it and say so when sending.
    headers['Accept'] = 'application/json';
    const body = req.body === undefined ? undefined : JSON.stringify(req.body);
    if (body !== undefined) headers['Content-Type'] = req.contentType ?? 'application/json';
    const timeoutMs = this.#conn.timeoutMs ?? 30_000;
    let res: Dispatcher.ResponseData;
    try {
      res = await request(this.#base + req.path, {
        dispatcher: this.#agent,
        method: req.method as Dispatcher.HttpMethod,
        headers,
        body,
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
        signal: req.signal,
      });
    } catch (err) {
      throw transportError(err);
    }
    let text: string;
    try {
      text = await res.body.text();
    } catch (err) {
      throw transportError(err);
    }
    let parsed: any;
    if (text.length > 0) {
      try {
        parsed = JSON.parse(text);
      } catch {
        // A proxy's HTML error page: keep the status, drop the body.
        parsed = undefined;
      }
    }
    return { status: res.statusCode, retryAfterMs: parseRetryAfter(res.headers['retry-after'], this.#clock.wallNow()), body: parsed };
  }

  async close(): Promise<void> {
    await this.#agent.close().catch(() => {});
  }
}

function transportError(err: unknown): VaultTransportError {
  const e = err as { code?: string; name?: string; cause?: { code?: string } };
  const code = e?.code ?? e?.cause?.code ?? (e?.name === 'AbortError' ? 'ABORT_ERR' : 'unknown');
  return new VaultTransportError(code, `no answer from Vault (${code})`, { cause: err });
}
