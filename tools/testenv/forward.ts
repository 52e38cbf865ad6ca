// A TCP forwarder: every connection accepted on `listen` is piped to a new
// connection to `target`. Either end is a TCP address or a Unix socket path.
// Used for the kubernetes Service IP (pods -> apiserver, no kube-proxy here),
// for node pods reaching OpenBao, and by the demo to show the sandbox on the
// host's loopback through Unix sockets (a socket file is reachable from any
// network namespace, so the host needs no interface or route of ours).
import { connect, createServer, type Server, type Socket } from 'node:net';

export type Endpoint = { host: string; port: number } | { path: string };

export interface Forwarder {
  /** The bound address (the real port when listen.port was 0). */
  listening: Endpoint;
  close(): Promise<void>;
}

const describe = (e: Endpoint) => ('path' in e ? e.path : `${e.host}:${e.port}`);

export async function forward(listen: Endpoint, target: Endpoint): Promise<Forwarder> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = 'path' in target ? connect(target.path) : connect(target.port, target.host);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.once('close', () => sockets.delete(s));
      s.on('error', () => { client.destroy(); upstream.destroy(); });
    }
    client.pipe(upstream).pipe(client);
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
    close: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
}
