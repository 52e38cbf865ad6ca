// An HTTP/1.1 response parser for one connection, one response at a time
// (no pipelining): what http1-client.ts reads responses with. Pure.
//
// Contract:
//   - `expect(method)` starts a response (HEAD answers have no body);
//     `push(chunk)` feeds bytes as they arrive, however they are split, and
//     returns the response once it is complete; `end()` says the server
//     closed the connection: it completes a body delimited by the close, and
//     throws otherwise (the response was cut short).
//   - Bodies: Content-Length, chunked (extensions and trailers ignored), or
//     until the close; none for HEAD, 1xx, 204 and 304. Interim 1xx answers
//     are skipped.
//   - Header names are lower-cased; repeated headers are joined with ", "
//     (set-cookie kept as a list), as node:http does.
//   - `reusable` says whether the connection may carry another request:
//     not after `Connection: close`, a body delimited by the close, or bytes
//     beyond the response.
//   - Malformed input (a bad status line, header, length or chunk size; a
//     head above `maxHeaderBytes`) throws Http1ParseError: the caller drops
//     the connection.
import type { IncomingHttpHeaders } from 'node:http';

export class Http1ParseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'Http1ParseError';
  }
}

export interface ParsedResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

const CRLF_CRLF = Buffer.from('\r\n\r\n');
const DEFAULT_MAX_HEADER_BYTES = 64 * 1024;

type State =
  | { at: 'idle' }
  | { at: 'head' }
  | { at: 'length'; left: number }
  | { at: 'chunk-size' }
  | { at: 'chunk-data'; left: number }
  | { at: 'chunk-end' }
  | { at: 'trailer' }
  | { at: 'close' };

export class ResponseParser {
  readonly #maxHeaderBytes: number;
  #state: State = { at: 'idle' };
  #head: Buffer[] = [];
  #headBytes = 0;
  /** A partial line (chunk size, chunk end, trailer) carried to the next chunk. */
  #line = '';
  #status = 0;
  #headers: IncomingHttpHeaders = {};
  #body: Buffer[] = [];
  #noBody = false;
  #reusable = true;

  constructor(opts: { maxHeaderBytes?: number } = {}) {
    this.#maxHeaderBytes = opts.maxHeaderBytes ?? DEFAULT_MAX_HEADER_BYTES;
  }

  get reusable(): boolean {
    return this.#reusable;
  }

  /** The head is in and the body is on its way. */
  get inBody(): boolean {
    return this.#state.at !== 'idle' && this.#state.at !== 'head';
  }

  /** True between `expect` and the response's completion. */
  get busy(): boolean {
    return this.#state.at !== 'idle';
  }

  expect(method: string): void {
    this.#state = { at: 'head' };
    this.#noBody = method === 'HEAD';
    this.#head = [];
    this.#headBytes = 0;
    this.#body = [];
    this.#line = '';
  }

  push(chunk: Buffer): ParsedResponse | undefined {
    let buf = chunk;
    for (;;) {
      const state = this.#state;
      switch (state.at) {
        case 'idle':
          if (buf.length > 0) {
            this.#reusable = false;
            throw new Http1ParseError('bytes from the server while no request was waiting');
          }
          return undefined;
        case 'head': {
          const rest = this.#pushHead(buf);
          if (rest === undefined) return undefined;
          buf = rest;
          if (this.#state.at === 'idle') return this.#finish(buf);
          continue;
        }
        case 'length':
          buf = this.#take(state, buf);
          return state.left > 0 ? undefined : this.#finish(buf);
        case 'close':
          if (buf.length > 0) this.#body.push(buf);
          return undefined;
        case 'chunk-data':
          buf = this.#take(state, buf);
          if (state.left > 0) return undefined;
          this.#state = { at: 'chunk-end' };
          continue;
        case 'chunk-size':
        case 'chunk-end':
        case 'trailer': {
          const nl = buf.indexOf(10);
          if (nl < 0) {
            this.#line += buf.toString('latin1');
            if (this.#line.length > this.#maxHeaderBytes) throw new Http1ParseError('chunk line too long');
            return undefined;
          }
          const line = (this.#line + buf.toString('latin1', 0, nl)).replace(/\r$/, '');
          this.#line = '';
          buf = buf.subarray(nl + 1);
          if (state.at === 'chunk-end') {
            if (line !== '') throw new Http1ParseError('chunk not followed by CRLF');
            this.#state = { at: 'chunk-size' };
          } else if (state.at === 'chunk-size') {
            const size = /^([0-9a-fA-F]{1,12})(;.*)?$/.exec(line.trim());
            if (!size) throw new Http1ParseError('bad chunk size');
            const n = parseInt(size[1]!, 16);
            this.#state = n === 0 ? { at: 'trailer' } : { at: 'chunk-data', left: n };
          } else if (line === '') {
            return this.#finish(buf);
          }
          continue;
        }
      }
    }
  }

  /** The server closed the connection. */
  end(): ParsedResponse | undefined {
    this.#reusable = false;
    if (this.#state.at === 'close') return this.#finish(Buffer.alloc(0));
    if (this.#state.at === 'idle') return undefined;
    throw new Http1ParseError('connection closed before the response was complete');
  }

  /** Moves up to `state.left` body bytes out of `buf`; returns what follows them. */
  #take(state: { left: number }, buf: Buffer): Buffer {
    const take = Math.min(state.left, buf.length);
    if (take > 0) this.#body.push(buf.subarray(0, take));
    state.left -= take;
    return buf.subarray(take);
  }

  /** Consumes head bytes; returns what follows the head once it is complete. */
  #pushHead(buf: Buffer): Buffer | undefined {
    this.#head.push(buf);
    this.#headBytes += buf.length;
    const joined = this.#head.length === 1 ? buf : Buffer.concat(this.#head, this.#headBytes);
    // The terminator may straddle the previous chunk: search from just before this one.
    const from = Math.max(0, this.#headBytes - buf.length - 3);
    const end = joined.indexOf(CRLF_CRLF, from);
    if (end < 0) {
      if (this.#headBytes > this.#maxHeaderBytes) throw new Http1ParseError(`response head above ${this.#maxHeaderBytes} bytes`);
      this.#head = [joined];
      return undefined;
    }
    const rest = joined.subarray(end + 4);
    this.#head = [];
    this.#headBytes = 0;
    this.#parseHead(joined.toString('latin1', 0, end));
    return rest;
  }

  #parseHead(text: string): void {
    const lines = text.split('\r\n');
    const status = /^HTTP\/1\.([01]) (\d{3})(?: .*)?$/.exec(lines[0]!);
    if (!status) throw new Http1ParseError('bad status line');
    const code = Number(status[2]);
    const headers: IncomingHttpHeaders = {};
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i]!;
      const colon = line.indexOf(':');
      if (colon <= 0 || /[\s]/.test(line[colon - 1]!)) throw new Http1ParseError('bad header line');
      const name = line.slice(0, colon).toLowerCase();
      const value = line.slice(colon + 1).trim();
      if (name === 'set-cookie') (headers['set-cookie'] ??= []).push(value);
      else {
        const before = headers[name];
        headers[name] = before === undefined ? value : `${before as string}, ${value}`;
      }
    }
    if (code >= 100 && code < 200) {
      this.#state = { at: 'head' }; // interim answer: the real one follows
      return;
    }
    this.#status = code;
    this.#headers = headers;
    const connection = String(headers.connection ?? '').toLowerCase();
    if (status[1] === '0' ? !connection.includes('keep-alive') : connection.includes('close')) this.#reusable = false;
    const te = String(headers['transfer-encoding'] ?? '').toLowerCase();
    if (this.#noBody || code === 204 || code === 304) this.#state = { at: 'idle' };
    else if (te !== '' && te !== 'identity') {
      if (!/(^|,)\s*chunked\s*$/.test(te)) throw new Http1ParseError(`unsupported transfer-encoding ${te}`);
      this.#state = { at: 'chunk-size' };
    } else if (headers['content-length'] !== undefined) {
      const raw = String(headers['content-length']);
      if (!/^\d{1,15}$/.test(raw)) throw new Http1ParseError('bad content-length');
      const n = Number(raw);
      this.#state = n === 0 ? { at: 'idle' } : { at: 'length', left: n };
    } else {
      this.#state = { at: 'close' };
      this.#reusable = false;
    }
  }

  #finish(rest: Buffer): ParsedResponse {
    this.#state = { at: 'idle' };
    if (rest.length > 0) this.#reusable = false; // no pipelining: bytes beyond the response are an error
    const body = this.#body.length === 1 ? this.#body[0]! : Buffer.concat(this.#body);
    this.#body = [];
    return { status: this.#status, headers: this.#headers, body };
  }
}
