// Where the controller's Kubernetes credentials come from, without loading
// @kubernetes/client-node for the common cases.
//
//   in-cluster  the pod's service-account token (re-read at every load: the
//               kubelet rotates it) and CA, KUBERNETES_SERVICE_HOST/PORT
//   kubeconfig  a file's current context: server, CA (data or file), client
//               certificate and key (data or file), bearer token or token
//               file, basic auth, insecure-skip-tls-verify, tls-server-name
//
// Anything else a kubeconfig can hold (exec and auth-provider plugins, a
// proxy-url, several merged files) is answered `unsupported`, and the caller
// falls back to client-node's loader, which knows them all.
//
// Why not client-node for everything: importing it costs ~85 MiB RSS at
// start (measured, README "Libraries"); the controller's budget at 200
// synced resources is 80 MiB in all.
import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { TlsMaterial } from '../http-pool.ts';
import type { KubeCredentials } from './http.ts';

export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

export type FileReader = (path: string) => Promise<Buffer>;
const readBytes: FileReader = (path) => readFile(path);

export function inClusterCredentials(env: Readonly<Record<string, string | undefined>>, read: FileReader = readBytes, dir = SERVICE_ACCOUNT_DIR): KubeCredentials {
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT ?? '443';
  if (!host) throw new Error('not in a cluster: KUBERNETES_SERVICE_HOST is not set; pass --kubeconfig');
  return {
    server: `https://${host.includes(':') ? `[${host}]` : host}:${port}`,
    async load() {
      const [ca, token] = await Promise.all([read(join(dir, 'ca.crt')), read(join(dir, 'token'))]);
      return { tls: { ca }, headers: { Authorization: `Bearer ${token.toString('utf8').trim()}` } };
    },
  };
}

/** `list[name == name][field]` of a kubeconfig's named lists (clusters, users, contexts). */
function pick<T>(list: unknown, name: string | undefined, field: string): T | undefined {
  if (!Array.isArray(list)) return undefined;
  const entry = (list as Record<string, unknown>[]).find((e) => e?.name === name);
  return entry?.[field] as T | undefined;
}

const USER_FIELDS = new Set(['client-certificate', 'client-certificate-data', 'client-key', 'client-key-data', 'token', 'tokenFile', 'username', 'password']);
const CLUSTER_FIELDS = new Set(['server', 'certificate-authority', 'certificate-authority-data', 'insecure-skip-tls-verify', 'tls-server-name', 'extensions']);

/** The current context of a kubeconfig file as credentials, or 'unsupported' when it needs client-node. */
export async function kubeconfigCredentials(path: string, read: FileReader = readBytes): Promise<KubeCredentials | 'unsupported'> {
  const doc = parseYaml((await read(path)).toString('utf8')) as Record<string, any> | undefined;
  if (!doc || typeof doc !== 'object') throw new Error(`kubeconfig ${path}: not a kubeconfig document`);
  const contextName = doc['current-context'];
  const context = pick<Record<string, string>>(doc.contexts, contextName, 'context');
  if (!context) throw new Error(`kubeconfig ${path}: no current context; set current-context`);
  const cluster = pick<Record<string, unknown>>(doc.clusters, context.cluster, 'cluster');
  const user = pick<Record<string, unknown>>(doc.users, context.user, 'user') ?? {};
  if (!cluster || typeof cluster.server !== 'string') throw new Error(`kubeconfig ${path}: context "${contextName}" names no cluster with a server`);
  if (Object.keys(cluster).some((k) => !CLUSTER_FIELDS.has(k)) || Object.keys(user).some((k) => !USER_FIELDS.has(k))) return 'unsupported';
  const base = dirname(path);
  const file = (p: unknown) => read(isAbsolute(String(p)) ? String(p) : join(base, String(p)));
  const material = async (data: unknown, ref: unknown): Promise<Buffer | undefined> =>
    typeof data === 'string' ? Buffer.from(data, 'base64') : ref !== undefined ? file(ref) : undefined;
  const server = cluster.server;
  return {
    server,
    async load() {
      const tls: TlsMaterial = {};
      const ca = await material(cluster['certificate-authority-data'], cluster['certificate-authority']);
      if (ca) tls.ca = ca;
      const cert = await material(user['client-certificate-data'], user['client-certificate']);
      if (cert) tls.cert = cert;
      const key = await material(user['client-key-data'], user['client-key']);
      if (key) tls.key = key;
      if (cluster['insecure-skip-tls-verify'] === true) tls.rejectUnauthorized = false;
      if (typeof cluster['tls-server-name'] === 'string') tls.servername = cluster['tls-server-name'];
      const headers: Record<string, string> = {};
      const token = typeof user.token === 'string' ? user.token : user.tokenFile !== undefined ? (await file(user.tokenFile)).toString('utf8').trim() : undefined;
      if (token) headers.Authorization = `Bearer ${token}`;
      else if (typeof user.username === 'string') headers.Authorization = `Basic ${Buffer.from(`${user.username}:${user.password ?? ''}`).toString('base64')}`;
      return { tls, headers };
    },
  };
}
