// The HTTP/1.1 response parser: every framing it supports, fed whole and
// split at every possible point (fast-check picks the cuts), and the inputs
// it must refuse.
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Http1ParseError, ResponseParser, type ParsedResponse } from '../../../shared/http1-parser.ts';

function feed(parser: ResponseParser, bytes: Buffer, cuts: number[]): ParsedResponse | undefined {
  let res: ParsedResponse | undefined;
  let at = 0;
  for (const cut of [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b).concat(bytes.length)) {
    const out = parser.push(bytes.subarray(at, cut));
    if (out) {
      assert.equal(res, undefined, 'one response only');
      res = out;
    }
    at = cut;
  }
  return res;
}

const body = '{"kind":"Secret","data":{"k":"dsOoIOKCrA=="},"note":"ünïcödé"}';
const chunked = (parts: string[]) => parts.map((p) => `${Buffer.byteLength(p).toString(16)}\r\n${p}\r\n`).join('') + '0\r\n\r\n';
const CASES: { name: string; wire: string; method?: string; status: number; body: string; reusable: boolean; headers?: Record<string, unknown> }[] = [
  { name: 'content-length', wire: `HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`, status: 200, body, reusable: true },
  { name: 'chunked', wire: `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n${chunked([body.slice(0, 10), body.slice(10)])}`, status: 200, body, reusable: true },
  { name: 'chunked with an extension and a trailer', wire: `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n0\r\nX-Trailer: t\r\n\r\n`, status: 200, body: 'hello', reusable: true },
  { name: 'empty body by length', wire: 'HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n', status: 201, body: '', reusable: true },
  { name: '204 without a length', wire: 'HTTP/1.1 204 No Content\r\n\r\n', status: 204, body: '', reusable: true },
  { name: 'HEAD with a length', wire: 'HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n', method: 'HEAD', status: 200, body: '', reusable: true },
  { name: 'interim 100 first', wire: `HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 429 Too Many Requests\r\nRetry-After: 2\r\nContent-Length: 2\r\n\r\n{}`, status: 429, body: '{}', reusable: true, headers: { 'retry-after': '2' } },
  { name: 'Connection: close', wire: 'HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}', status: 503, body: '{}', reusable: false },
  { name: 'HTTP/1.0 without keep-alive', wire: 'HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok', status: 200, body: 'ok', reusable: false },
  { name: 'repeated headers joined, set-cookie kept apart', wire: 'HTTP/1.1 200 OK\r\nWarning: a\r\nwarning: b\r\nSet-Cookie: x=1\r\nSet-Cookie: y=2\r\nContent-Length: 0\r\n\r\n', status: 200, body: '', reusable: true, headers: { warning: 'a, b', 'set-cookie': ['x=1', 'y=2'] } },
];

describe('HTTP/1.1 response parser', () => {
  for (const c of CASES) {
    it(`${c.name}: the same response however the bytes are split`, () => {
      const wire = Buffer.from(c.wire, 'utf8');
      fc.assert(fc.property(fc.array(fc.nat(), { maxLength: 12 }), (cuts) => {
        const parser = new ResponseParser();
        parser.expect(c.method ?? 'GET');
        const res = feed(parser, wire, cuts);
        assert.ok(res, 'complete');
        assert.equal(res.status, c.status);
        assert.equal(res.body.toString('utf8'), c.body);
        for (const [k, v] of Object.entries(c.headers ?? {})) assert.deepEqual(res.headers[k], v);
        assert.equal(parser.reusable, c.reusable);
        assert.equal(parser.busy, false);
      }), { seed: 7, numRuns: 200 });
    });
  }

  it('a body delimited by the close completes at end(), and the connection is not reused', () => {
    const parser = new ResponseParser();
    parser.expect('GET');
    assert.equal(parser.push(Buffer.from('HTTP/1.1 200 OK\r\n\r\npart one, ')), undefined);
    assert.equal(parser.push(Buffer.from('part two')), undefined);
    const res = parser.end();
    assert.equal(res?.body.toString(), 'part one, part two');
    assert.equal(parser.reusable, false);
  });

  it('one connection carries consecutive responses', () => {
    const parser = new ResponseParser();
    for (const n of [1, 2, 3]) {
      parser.expect('GET');
      const res = parser.push(Buffer.from(`HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n${n}`));
      assert.equal(res?.body.toString(), String(n));
    }
    assert.equal(parser.reusable, true);
  });

  it('a response cut short by the close fails; bytes beyond a response make the connection unusable', () => {
    const cut = new ResponseParser();
    cut.expect('GET');
    cut.push(Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc'));
    assert.throws(() => cut.end(), Http1ParseError);
    const extra = new ResponseParser();
    extra.expect('GET');
    assert.ok(extra.push(Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nxHTTP/1.1')));
    assert.equal(extra.reusable, false);
    const idle = new ResponseParser();
    assert.throws(() => idle.push(Buffer.from('HTTP/1.1 200 OK\r\n')), Http1ParseError, 'bytes nobody asked for');
  });

  it('refuses malformed answers', () => {
    const bad = [
      'HTTX/1.1 200 OK\r\n\r\n',
      'HTTP/1.1 2000 OK\r\n\r\n',
      'HTTP/1.1 200 OK\r\nno colon\r\n\r\n',
      'HTTP/1.1 200 OK\r\nName : space before the colon\r\n\r\n',
      'HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n',
      'HTTP/1.1 200 OK\r\nContent-Length: 1e3\r\n\r\n',
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n',
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n',
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nabc\r\n',
    ];
    for (const wire of bad) {
      const parser = new ResponseParser();
      parser.expect('GET');
      assert.throws(() => parser.push(Buffer.from(wire)), Http1ParseError, JSON.stringify(wire));
    }
  });

  it('a head above the limit is refused, however it arrives', () => {
    const parser = new ResponseParser({ maxHeaderBytes: 1024 });
    parser.expect('GET');
    parser.push(Buffer.from('HTTP/1.1 200 OK\r\n'));
    assert.throws(() => {
      for (let i = 0; i < 100; i++) parser.push(Buffer.from(`X-Filler-${i}: ${'y'.repeat(40)}\r\n`));
    }, Http1ParseError);
  });
});
