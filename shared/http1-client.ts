// A small keep-alive HTTP/1.1 client for request/response exchanges with
// one server (the apiserver, Vault), over node:net and node:tls: what
// HttpPool.request sends through. Watches (long streamed bodies) stay on
// node:http (HttpPool.open).
//
// Why not node:http or undici for these: measured side by side against the
// real apiserver with the controller's V8 flags (README, Libraries), a GET
// of a Secret costs 0.37-0.44 ms of CPU through node:https (0.45 through
// undici's Pool) and 0.18-0.19 ms here: node's generic machinery (streams,
// events, agents, per-request objects) is most of each call, and the
// controller makes five or six calls per synced resource.
//
// Contract:
//   - `request` resolves with status, headers and the whole body for every
//     complete HTTP answer; it rejects with TransportError (carrying the
//     system or TLS `code`: ECONNREFUSED, ECONNRESET, ETIMEDOUT, ABORT_ERR,
//     ERR_TLS_..., or HPE_INVALID for a malformed answer) when none came.
//   - `timeoutMs` bounds the whole exchange, from the call (a wait for a
//     free connection included) to the last body byte.
//   - At most `maxSockets` connections; callers beyond wait in order.
//     A connection is reused only after a complete answer that allows it;
//     on any error, timeout or abort it is destroyed, never reused.
//   - A request line or header containing CR or LF is refused before
//     anything is sent (no request splitting, whatever the caller passes).
//   - `setTls` takes effect for new connections; idle ones made with the
//     old material are closed.
//   - Idle connections do not keep the process alive, and one the server
//     closed is dropped before it is handed out again.
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import { isIP } from 'node:net';
import { Http1ParseError, ResponseParser, type ParsedResponse } from './http1-parser.ts';
import type { PoolRequest, PoolResponse, TlsMaterial } from './http-pool.ts';
import { TransportError } from './transport-error.ts';

const UNSAFE = /[\r\n]/;

interface Exchange {
  req: PoolRequest;
  resolve: (res: PoolResponse) => void;
  reject: (err: TransportError) => void;
  conn?: Connection;
  timer?: ReturnType<typeof setTimeout>;
  onAbort?: () => void;
  settled: boolean;
}

class Connection {
  readonly socket: Socket;
  readonly generation: number;
  readonly parser = new ResponseParser();
  exchange: Exchange | undefined;
  closed = false;
  /** Its slot was given back (maxSockets). */
  counted = false;

  constructor(socket: Socket, generation: number, onResponse: (c: Connection, res: ParsedResponse) => void, onFailure: (c: Connection, err: TransportError) => void) {
    this.socket = socket;
    this.generation = generation;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      let res: ParsedResponse | undefined;
      try {
        res = this.parser.push(chunk);
      } catch (err) {
        onFailure(this, new TransportError('HPE_INVALID', `malformed HTTP answer (${(err as Http1ParseError).message})`, { cause: err }));
        return;
      }
      if (res) onResponse(this, res);
    });
    socket.on('end', () => {
      let res: ParsedResponse | undefined;
      try {
        res = this.parser.end();
      } catch (err) {
        onFailure(this, new TransportError('ECONNRESET', 'the server closed the connection before answering', { cause: err }));
        return;
      }
      if (res) onResponse(this, res);
      else onFailure(this, new TransportError('ECONNRESET', 'the server closed the connection'));
    });
    socket.on('error', (err: NodeJS.ErrnoException) => onFailure(this, new TransportError(err.code ?? 'unknown', `no answer (${err.code ?? err.message})`, { cause: err })));
    socket.on('close', () => {
      if (!this.closed) onFailure(this, new TransportError('ECONNRESET', 'the connection closed'));
    });
  }

  destroy(): void {
    this.closed = true;
    this.socket.destroy();
  }
}

export class Http1Client {
  readonly #host: string;
  readonly #port: number;
  readonly #secure: boolean;
  readonly #hostHeader: string;
  readonly #maxSockets: number;
  #tls: ConnectionOptions;
  #generation = 0;
  #open = 0;
  readonly #idle: Connection[] = [];
  readonly #waiting: Exchange[] = [];

  constructor(opts: { host: string; port: number; secure: boolean; tls?: TlsMaterial; maxSockets: number }) {
    this.#host = opts.host;
    this.#port = opts.port;
    this.#secure = opts.secure;
    this.#hostHeader = `${isIP(opts.host) === 6 ? `[${opts.host}]` : opts.host}:${opts.port}`;
    this.#maxSockets = opts.maxSockets;
    this.#tls = this.#tlsOptions(opts.tls);
  }

  #tlsOptions(tls: TlsMaterial | undefined): ConnectionOptions {
    const o: ConnectionOptions = { host: this.#host, port: this.#port, ALPNProtocols: ['http/1.1'], rejectUnauthorized: tls?.rejectUnauthorized ?? true };
    if (tls?.ca !== undefined) o.ca = tls.ca;
    if (tls?.cert !== undefined) o.cert = tls.cert;
    if (tls?.key !== undefined) o.key = tls.key;
    // SNI names a host, never an address (node warns, and servers ignore it).
    const servername = tls?.servername ?? (isIP(this.#host) ? undefined : this.#host);
    if (servername !== undefined) o.servername = servername;
    return o;
  }

  setTls(tls: TlsMaterial | undefined): void {
    this.#tls = this.#tlsOptions(tls);
    this.#generation++;
    for (const c of this.#idle.splice(0)) this.#drop(c);
  }

  request(req: PoolRequest): Promise<PoolResponse> {
    return new Promise((resolve, reject) => {
      const what = `${req.method} ${this.#hostHeader}`;
      if (UNSAFE.test(req.method) || UNSAFE.test(req.path) || !req.path.startsWith('/') || Object.entries(req.headers ?? {}).some(([k, v]) => UNSAFE.test(k) || UNSAFE.test(String(v)))) {
        reject(new TransportError('ERR_INVALID_CHAR', `${what}: CR or LF in the request line or a header; not sent`));
        return;
      }
      if (req.signal?.aborted) {
        reject(new TransportError('ABORT_ERR', `${what}: aborted`));
        return;
      }
      const ex: Exchange = { req, resolve, reject, settled: false };
      if (req.timeoutMs !== undefined) {
        const ms = req.timeoutMs;
        ex.timer = setTimeout(() => {
          const late = ex.conn?.parser.inBody ? `body not complete within ${ms} ms` : `no answer within ${ms} ms`;
          this.#fail(ex, new TransportError('ETIMEDOUT', `${what}: ${late}`));
        }, ms);
      }
      if (req.signal) {
        ex.onAbort = () => this.#fail(ex, new TransportError('ABORT_ERR', `${what}: aborted`));
        req.signal.addEventListener('abort', ex.onAbort, { once: true });
      }
      this.#dispatch(ex);
    });
  }

  close(): void {
    for (const c of this.#idle.splice(0)) this.#drop(c);
    for (const ex of this.#waiting.splice(0)) this.#fail(ex, new TransportError('ABORT_ERR', `${ex.req.method} ${this.#hostHeader}: client closed`));
  }

  #dispatch(ex: Exchange): void {
    let conn = this.#idle.pop();
    while (conn && (conn.closed || conn.generation !== this.#generation)) {
      this.#drop(conn);
      conn = this.#idle.pop();
    }
    if (!conn) {
      if (this.#open >= this.#maxSockets) {
        this.#waiting.push(ex);
        return;
      }
      conn = this.#connect();
    } else {
      conn.socket.ref();
    }
    this.#send(conn, ex);
  }

  #connect(): Connection {
    this.#open++;
    const socket = this.#secure ? tlsConnect(this.#tls) : netConnect({ host: this.#host, port: this.#port });
    return new Connection(socket, this.#generation, (c, res) => this.#answered(c, res), (c, err) => this.#broken(c, err));
  }

  #send(conn: Connection, ex: Exchange): void {
    ex.conn = conn;
    conn.exchange = ex;
    const { req } = ex;
    let head = `${req.method} ${req.path} HTTP/1.1\r\nHost: ${this.#hostHeader}\r\n`;
    for (const [k, v] of Object.entries(req.headers ?? {})) if (v !== undefined) head += `${k}: ${String(v)}\r\n`;
    if (req.body !== undefined && req.headers?.['Content-Length'] === undefined && req.headers?.['content-length'] === undefined) head += `Content-Length: ${Buffer.byteLength(req.body)}\r\n`;
    conn.parser.expect(req.method);
    conn.socket.write(req.body === undefined ? `${head}\r\n` : `${head}\r\n${req.body}`);
  }

  #answered(conn: Connection, res: ParsedResponse): void {
    const ex = conn.exchange;
    conn.exchange = undefined;
    if (conn.parser.reusable && !conn.closed) this.#release(conn);
    else this.#drop(conn);
    if (ex && this.#settle(ex)) ex.resolve({ status: res.status, headers: res.headers, text: res.body.toString('utf8') });
  }

  #broken(conn: Connection, err: TransportError): void {
    const ex = conn.exchange;
    conn.exchange = undefined;
    this.#drop(conn);
    if (ex) this.#fail(ex, new TransportError(err.code, `${ex.req.method} ${this.#hostHeader}: ${err.message}`, { cause: err.cause }));
  }

  /** A finished connection: to the next waiting request, or idle. */
  #release(conn: Connection): void {
    const next = this.#waiting.shift();
    if (next) {
      this.#send(conn, next);
      return;
    }
    if (conn.generation !== this.#generation) {
      this.#drop(conn);
      return;
    }
    conn.socket.unref();
    this.#idle.push(conn);
  }

  /** Closes a connection; the first time, its slot goes to the next waiting request. */
  #drop(conn: Connection): void {
    conn.destroy();
    const i = this.#idle.indexOf(conn);
    if (i >= 0) this.#idle.splice(i, 1);
    if (conn.counted) return;
    conn.counted = true;
    this.#open--;
    const next = this.#waiting.shift();
    if (next) this.#dispatch(next);
  }

  #settle(ex: Exchange): boolean {
    if (ex.settled) return false;
    ex.settled = true;
    if (ex.timer !== undefined) clearTimeout(ex.timer);
    if (ex.onAbort) ex.req.signal?.removeEventListener('abort', ex.onAbort);
    return true;
  }

  #fail(ex: Exchange, err: TransportError): void {
    if (!this.#settle(ex)) return;
    const queued = this.#waiting.indexOf(ex);
    if (queued >= 0) this.#waiting.splice(queued, 1);
    if (ex.conn && ex.conn.exchange === ex) {
      ex.conn.exchange = undefined;
      this.#drop(ex.conn);
    }
    ex.reject(err);
  }
}
