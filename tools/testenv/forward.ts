// A TCP forwarder: every connection accepted on `listen` is piped to a new
// connection to `target`. Either end is a TCP address or a Unix socket path.
// Used for the kubernetes Service IP (pods -> apiserver, no kube-proxy here),
// for node pods reaching OpenBao, and by the demo to show the sandbox on the
// host's loopback through Unix sockets (a socket file is reachable from any
// network namespace, so the host needs no interface or route of ours).
// Made with `{ slowLink: true }`, `setReplyDelay` turns it into a slow link
// (every byte the target sends back arrives that much later, in order), for
// tests that need requests to stay in flight at a real server for a while;
// otherwise the bytes go through plain pipes.
import { connect, createServer, type Server, type Socket } from 'node:net';

export type Endpoint = { host: string; port: number } | { path: string };

export interface Forwarder {
  /** The bound address (the real port when listen.port was 0). */
  listening: Endpoint;
  close(): Promise<void>;
  /** From now on, hold every byte the target sends back for `ms` (0: pass it on at once). Order is kept. Needs `slowLink`. */
  setReplyDelay(ms: number): void;
}

const describe = (e: Endpoint) => ('path' in e ? e.path : `${e.host}:${e.port}`);

/** Like from.pipe(to), but each chunk (and the end) passes `delayMs()` after it arrived, never out of order. */
function delayedPipe(from: Socket, to: Socket, delayMs: () => number): void {
  const line: { at: number; chunk?: Buffer }[] = [];
  let timer: ReturnType<typeof setTimeout> | undefined;
  const drain = () => {
    timer = undefined;
    while (line.length > 0 && line[0]!.at <= Date.now()) {
      const { chunk } = line.shift()!;
      if (!chunk) to.end();
      else if (!to.write(chunk)) {
        // Backpressure, as pipe() would: stop reading until the receiver has caught up.
        from.pause();
        to.once('drain', () => from.resume());
      }
    }
    if (line.length > 0) timer = setTimeout(drain, line[0]!.at - Date.now());
  };
  const push = (chunk?: Buffer) => {
    line.push({ at: Date.now() + delayMs(), chunk });
    if (!timer) drain();
  };
  from.on('data', (chunk: Buffer) => push(chunk));
  from.once('end', () => push());
  to.once('close', () => clearTimeout(timer));
}

export async function forward(listen: Endpoint, target: Endpoint, opts: { slowLink?: boolean } = {}): Promise<Forwarder> {
  const sockets = new Set<Socket>();
  let replyDelayMs = 0;
  const server: Server = createServer((client) => {
    const upstream = 'path' in target ? connect(target.path) : connect(target.port, target.host);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.once('close', () => sockets.delete(s));
      s.on('error', () => { client.destroy(); upstream.destroy(); });
    }
    client.pipe(upstream);
    if (opts.slowLink) delayedPipe(upstream, client, () => replyDelayMs);
    else upstream.pipe(client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => reject(new Error(`forwarder ${describe(listen)} -> ${describe(target)}: ${err.message}`)));
    if ('path' in listen) server.listen(listen.path, resolve);
    else server.listen(listen.port, listen.host, resolve);
  });
  const bound = server.address();
  const listening: Endpoint = 'path' in listen || !bound || typeof bound === 'string' ? listen : { host: listen.host, port: bound.port };
  return {
    listening,
    setReplyDelay: (ms) => {
      if (!opts.slowLink) throw new Error(`forwarder ${describe(listen)} -> ${describe(target)} was not made with { slowLink: true }`);
      replyDelayMs = ms;
    },
    close: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
}
