// The test sandbox's address plan. tools/testenv/netns creates the sandbox (a
// network namespace with loopback and the bridge vso0 at 198.18.0.1/24) and
// runs the tests inside; this module says what lives where in it:
//
//   198.18.0.1          the sandbox itself (apiserver, OpenBao and forwarders
//                       for the node profile; status listeners that the
//                       apiserver's service proxy reaches: it refuses loopback)
//   198.18.0.11, .12    node N's own network namespace, a veth on vso0
//   198.18.16+N.0/24    node N's pods (CNI bridge in the node's namespace)
//   198.18.128.0/20     Service ClusterIPs; .1 is the kubernetes Service,
//                       forwarded to the apiserver (there is no kube-proxy)
//
// All of 198.18.0.0/15 (RFC 2544's benchmarking range) is ours; none of it is
// routed anywhere outside the namespaces the harness creates, and the
// machine's own interface address is never used.
import { execFileSync } from 'node:child_process';
import { networkInterfaces } from 'node:os';
import { forward, type Forwarder } from './forward.ts';

export const SERVICE_CIDR = '198.18.128.0/20';
export const KUBERNETES_SERVICE_IP = '198.18.128.1';

export class NoSandboxError extends Error {
  constructor(detail: string) {
    super(`${detail}: run this inside the test sandbox, e.g. tools/testenv/netns npm run test:integration (the npm scripts and tools/test do)`);
    this.name = 'NoSandboxError';
  }
}

export interface Sandbox {
  interface: string;
  address: string;
  prefix: number;
}

/** The sandbox this process runs in, checked against its real interfaces; undefined outside one. */
export function currentSandbox(): Sandbox | undefined {
  const { VSO_SANDBOX_ADDRESS: address, VSO_SANDBOX_INTERFACE: iface, VSO_SANDBOX_PREFIX: prefix } = process.env;
  if (!address || !iface) return undefined;
  const here = networkInterfaces()[iface] ?? [];
  if (!here.some((a) => a.family === 'IPv4' && a.address === address)) return undefined;
  return { interface: iface, address, prefix: Number(prefix ?? 24) };
}

/**
 * The non-loopback address of the sandbox, for listeners the apiserver's
 * service proxy must reach. Throws outside the sandbox (never falls back to
 * the machine's own address).
 */
export function sandboxAddress(): string {
  const box = currentSandbox();
  if (!box) throw new NoSandboxError('no sandbox network namespace (vso0 with VSO_SANDBOX_ADDRESS)');
  return box.address;
}

/** Address of node `index` (0-based) on the sandbox bridge. */
export function nodeAddress(index: number): string {
  return sandboxAddress().replace(/\.\d+$/, `.${11 + index}`);
}

/** Pod CIDR of node `index`. */
export function podCidr(index: number): string {
  return `198.18.${16 + index}.0/24`;
}

/** Adds an address to the sandbox's bridge (idempotent), e.g. the kubernetes Service IP. */
export function addSandboxAddress(ip: string): void {
  const box = currentSandbox();
  if (!box) throw new NoSandboxError(`cannot add ${ip}`);
  const has = execFileSync('ip', ['-o', '-4', 'addr', 'show', 'dev', box.interface], { encoding: 'utf8' }).includes(` ${ip}/`);
  if (!has) execFileSync('ip', ['addr', 'add', `${ip}/32`, 'dev', box.interface]);
}

/**
 * The kubernetes Service (KUBERNETES_SERVICE_HOST:443, what pods get in
 * their environment) forwarded to the apiserver: there is no kube-proxy.
 * The apiserver's serving certificate names this IP.
 */
export async function serveKubernetesService(apiserverPort: number): Promise<Forwarder> {
  addSandboxAddress(KUBERNETES_SERVICE_IP);
  return forward({ host: KUBERNETES_SERVICE_IP, port: 443 }, { host: '127.0.0.1', port: apiserverPort });
}
