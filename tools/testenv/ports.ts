// Free loopback ports for servers the harness starts.
//
// Contract: every port returned was bindable on 127.0.0.1 a moment ago, lies
// below the kernel's ephemeral range, and is never returned twice by one
// process.
//
// Why not listen(0): the kernel then picks from the ephemeral range, the same
// range outgoing connections take their local ports from. Three controllers
// started at once, each opening connections to the apiserver and OpenBao,
// could take the port a fourth was just handed before it bound it (CI saw
// "listen EADDRINUSE 127.0.0.1:38665"), and two concurrent probes could be
// handed the same port. Ports below the ephemeral range are only ever taken
// by an explicit bind, and the in-process ledger rules out the second race.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

const LOWEST = 15_000;
const handedOut = new Set<number>();

/** The first port of the kernel's ephemeral range (32768 unless tuned). */
function ephemeralStart(): number {
  try {
    const first = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    if (Number.isInteger(first) && first > LOWEST + 1000) return first;
  } catch {
    // not Linux, or /proc hidden: assume the default range
  }
  return 32_768;
}

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

export async function freePort(): Promise<number> {
  const end = ephemeralStart();
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = LOWEST + Math.floor(Math.random() * (end - LOWEST));
    if (handedOut.has(port)) continue;
    handedOut.add(port);
    if (await bindable(port)) return port;
  }
  throw new Error(`no free loopback port found in ${LOWEST}-${end - 1} after 200 tries`);
}

export async function freePorts(count: number): Promise<number[]> {
  const ports: number[] = [];
  while (ports.length < count) ports.push(await freePort());
  return ports;
}
