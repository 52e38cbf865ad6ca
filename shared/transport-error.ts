// The error of an HTTP exchange that got no complete answer (network, TLS,
// timeout, abort, a malformed answer): its `code` says why. Shared by the
// connection pool's two transports (http-pool.ts, http1-client.ts).
/** No answer came: `code` tells why. */
export class TransportError extends Error {
  readonly code: string;
  constructor(code: string, message: string, opts: { cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'TransportError';
    this.code = code;
  }
}

export function transportError(err: unknown, what: string): TransportError {
  if (err instanceof TransportError) return err;
  const e = err as { code?: string; name?: string };
  const code = e?.code ?? (e?.name === 'AbortError' ? 'ABORT_ERR' : 'unknown');
  return new TransportError(code, `${what}: no answer (${code})`, { cause: err });
}

