// The HTTP/1.1 client against real servers on loopback: node:http for
// well-formed exchanges, raw node:net servers for the answers node:http
// would never send. TLS is exercised by every integration suite (the
// apiserver, OpenBao with TLS in test/integration/core/tls.test.ts).
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Server as NetServer, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { Http1Client } from '../../../shared/http1-client.ts';
import { TransportError } from '../../../shared/transport-error.ts';

async function listen<S extends Server | NetServer>(server: S): Promise<number> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as AddressInfo).port;
}

const isCode = (code: string) => (err: unknown) => err instanceof TransportError && err.code === code;

describe('HTTP/1.1 client', () => {
  let server: Server;
  let port: number;
  const connections = new Set<Socket>();
  let opened = 0;
  let handler: (req: IncomingMessage, res: ServerResponse) => void;

  before(async () => {
    server = createServer((req, res) => handler(req, res));
    server.on('connection', (s: Socket) => {
      opened++;
      connections.add(s);
      s.on('close', () => connections.delete(s));
    });
    port = await listen(server);
  });

  beforeEach(() => {
    opened = 0;
    handler = (req, res) => {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => res.end(JSON.stringify({ method: req.method, url: req.url, body, auth: req.headers.authorization ?? null })));
    };
  });

  after(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  const client = (maxSockets = 4) => new Http1Client({ host: '127.0.0.1', port, secure: false, maxSockets });

  it('sends method, path, headers and body; keeps one connection alive across requests', async () => {
    const c = client();
    const first = await c.request({ method: 'POST', path: '/v1/secret/data/app?x=1', headers: { Authorization: 'Bearer t', 'Content-Type': 'application/json' }, body: '{"data":{"k":"ü"}}' });
    assert.equal(first.status, 200);
    assert.deepEqual(JSON.parse(first.text), { method: 'POST', url: '/v1/secret/data/app?x=1', body: '{"data":{"k":"ü"}}', auth: 'Bearer t' });
    for (let i = 0; i < 5; i++) assert.equal((await c.request({ method: 'GET', path: '/again' })).status, 200);
    assert.equal(opened, 1, 'one connection for six requests');
    c.close();
  });

  it('at most maxSockets connections; callers beyond wait their turn and are all answered', async () => {
    let inFlight = 0;
    let peak = 0;
    handler = (_req, res) => {
      peak = Math.max(peak, ++inFlight);
      setTimeout(() => {
        inFlight--;
        res.end('{}');
      }, 10);
    };
    const c = client(2);
    const answers = await Promise.all(Array.from({ length: 9 }, () => c.request({ method: 'GET', path: '/' })));
    assert.equal(answers.length, 9);
    assert.ok(answers.every((a) => a.status === 200));
    assert.equal(peak, 2);
    assert.equal(opened, 2);
    c.close();
  });

  it('a connection the server closed while idle is not handed out again', async () => {
    const c = client();
    await c.request({ method: 'GET', path: '/' });
    for (const s of connections) s.end(); // the server's keep-alive timeout, say
    await sleep(50);
    assert.equal((await c.request({ method: 'GET', path: '/' })).status, 200);
    assert.equal(opened, 2);
    c.close();
  });

  it('Connection: close on an answer: the next request opens a new connection', async () => {
    handler = (_req, res) => {
      res.setHeader('Connection', 'close');
      res.end('{}');
    };
    const c = client();
    await c.request({ method: 'GET', path: '/' });
    await c.request({ method: 'GET', path: '/' });
    assert.equal(opened, 2);
    c.close();
  });

  it('an abort fails at once with ABORT_ERR, and that connection is never reused', async () => {
    handler = (req, res) => {
      if (req.url === '/hang') return;
      res.end('{}');
    };
    const c = client();
    const ac = new AbortController();
    const pending = c.request({ method: 'GET', path: '/hang', signal: ac.signal });
    await sleep(20);
    ac.abort();
    await assert.rejects(pending, isCode('ABORT_ERR'));
    assert.equal((await c.request({ method: 'GET', path: '/' })).status, 200);
    assert.equal(opened, 2);
    await assert.rejects(c.request({ method: 'GET', path: '/', signal: AbortSignal.abort() }), isCode('ABORT_ERR'), 'already aborted: not sent');
    c.close();
  });

  it('refuses CR or LF in the request line or a header before sending anything', async () => {
    const c = client();
    await assert.rejects(c.request({ method: 'GET', path: '/a HTTP/1.1\r\nX-Injected: 1\r\n\r\nGET /b' }), isCode('ERR_INVALID_CHAR'));
    await assert.rejects(c.request({ method: 'GET', path: '/', headers: { 'X-Vault-Token': 'tok\r\nX-Injected: 1' } }), isCode('ERR_INVALID_CHAR'));
    await assert.rejects(c.request({ method: 'GET', path: 'no-slash' }), isCode('ERR_INVALID_CHAR'));
    assert.equal(opened, 0, 'nothing reached the server');
    c.close();
  });

  it('a closed port fails with ECONNREFUSED', async () => {
    const probe = createNetServer();
    const closedPort = await listen(probe);
    await new Promise((r) => probe.close(r));
    const c = new Http1Client({ host: '127.0.0.1', port: closedPort, secure: false, maxSockets: 1 });
    await assert.rejects(c.request({ method: 'GET', path: '/' }), isCode('ECONNREFUSED'));
    c.close();
  });
});

describe('HTTP/1.1 client, answers node:http would never send', () => {
  let raw: NetServer;
  let port: number;
  let answer: (socket: Socket) => void;

  const sockets = new Set<Socket>();
  const clients: Http1Client[] = [];

  before(async () => {
    raw = createNetServer((socket) => {
      sockets.add(socket);
      socket.once('data', () => answer(socket));
    });
    port = await listen(raw);
  });

  after(async () => {
    for (const c of clients) c.close();
    for (const s of sockets) s.destroy();
    await new Promise((r) => raw.close(r));
  });

  const client = () => {
    const c = new Http1Client({ host: '127.0.0.1', port, secure: false, maxSockets: 2 });
    clients.push(c);
    return c;
  };

  it('a malformed answer fails with HPE_INVALID', async () => {
    answer = (s) => s.end('HTTP/1.1 OK\r\n\r\n');
    await assert.rejects(client().request({ method: 'GET', path: '/' }), isCode('HPE_INVALID'));
  });

  it('a body cut short by the close fails with ECONNRESET', async () => {
    answer = (s) => s.end('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{"partial":');
    await assert.rejects(client().request({ method: 'GET', path: '/' }), isCode('ECONNRESET'));
  });

  it('a body delimited by the close is read to the end', async () => {
    answer = (s) => {
      s.write('HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{"whole":');
      setTimeout(() => s.end('true}'), 10);
    };
    const res = await client().request({ method: 'GET', path: '/' });
    assert.deepEqual(JSON.parse(res.text), { whole: true });
  });

  it('chunked answers split across writes arrive whole', async () => {
    answer = (s) => {
      const parts = ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n{"a"', '\r\n', '6\r\n:"ü"}\r\n0\r', '\n\r\n'];
      let i = 0;
      const next = () => {
        s.write(Buffer.from(parts[i++]!, 'utf8'));
        if (i < parts.length) setTimeout(next, 5);
      };
      next();
    };
    const res = await client().request({ method: 'GET', path: '/' });
    assert.deepEqual(JSON.parse(res.text), { a: 'ü' });
  });
});
