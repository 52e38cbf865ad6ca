// Runs the real controller bundle (dist/controller.mjs) as a child process
// against the test environment, on random loopback ports, with its log kept
// for assertions, and stops it afterwards.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type vault from 'node-vault';
import { repoRoot } from '../../../tools/testenv/binaries.ts';
import { freePorts } from '../../../tools/testenv/ports.ts';
import { testEnv } from './env.ts';
import type { KubeClients } from './kube.ts';
import { KubeHttp } from '../../../shared/kube/http.ts';
import { configureKubernetesAuth } from '../../../tools/testenv/vault-kube-auth.ts';

export interface ControllerProcess {
  metricsUrl: string;
  probeUrl: string;
  child: ChildProcess;
  logs(): string;
  exited: Promise<number | null>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export const controllerBundle = join(repoRoot, 'dist', 'controller.mjs');

export async function startController(opts: {
  args: string[];
  runtime?: 'node' | 'deno';
  env?: Record<string, string>;
  waitReady?: boolean;
}): Promise<ControllerProcess> {
  const [metricsPort, probePort] = await freePorts(2);
  const args = [
    `--kubeconfig=${testEnv().kubeconfig}`,
    `--metrics-bind-address=127.0.0.1:${metricsPort}`,
    `--health-probe-bind-address=127.0.0.1:${probePort}`,
    '--log-level=debug',
    ...opts.args,
  ];
  const [command, prefix] = opts.runtime === 'deno'
    ? [join(repoRoot, 'node_modules', '.bin', 'deno'), ['run', '--allow-all', '--quiet', controllerBundle]]
    : [process.execPath, [controllerBundle]];
  const clean: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^(VAULT_|BAO_|KUBECONFIG|VSO_)/.test(k)) clean[k] = v;
  const child = spawn(command, [...prefix, ...args], { env: { ...clean, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const proc: ControllerProcess = {
    metricsUrl: `http://127.0.0.1:${metricsPort}`,
    probeUrl: `http://127.0.0.1:${probePort}`,
    child,
    logs: () => output,
    exited,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
  running.add(proc);
  void exited.then(() => running.delete(proc));
  if (opts.waitReady !== false) {
    await waitFor(async () => (await fetch(`${proc.probeUrl}/readyz`)).status === 200, { timeoutMs: 30_000, what: 'controller ready', proc });
  }
  return proc;
}

const running = new Set<ControllerProcess>();
process.on('exit', () => {
  for (const p of running) p.child.kill('SIGKILL');
});

/** Stops every controller a test left running (call from afterEach/after). */
export async function stopAllControllers(): Promise<void> {
  await Promise.all([...running].map((p) => p.stop()));
}

export async function waitFor(check: () => Promise<boolean> | boolean, opts: { timeoutMs?: number; what: string; proc?: ControllerProcess; intervalMs?: number }): Promise<void> {
  const deadline = Date.now() + (opts.timeoutMs ?? 20_000);
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      if (await check()) return;
    } catch (err) {
      lastError = err;
    }
    await sleep(opts.intervalMs ?? 100);
  }
  const tail = opts.proc ? `\ncontroller log tail:\n${opts.proc.logs().split('\n').slice(-25).join('\n')}` : '';
  throw new Error(`timed out waiting for ${opts.what}${lastError ? ` (last error: ${lastError instanceof Error ? lastError.message : String(lastError)})` : ''}${tail}`);
}

/** Waits until Deployment `namespace/name` is gone from the apiserver (its finalizer released). */
export function deploymentGone(kube: Pick<KubeClients, 'apps'>, namespace: string, name: string, proc?: ControllerProcess): Promise<void> {
  return waitFor(async () => {
    try {
      await kube.apps.readNamespacedDeployment({ name, namespace });
      return false;
    } catch {
      return true;
    }
  }, { what: `${namespace}/${name} deleted`, proc });
}

/**
 * Sets up Vault kubernetes auth for a controller the way production does
 * (see tools/testenv/vault-kube-auth.ts), with a policy limited to the
 * test's own path prefix. Resolves with the controller's Vault flags.
 */
export async function controllerVaultAccess(_admin: vault.client, kube: KubeClients, namespace: string, prefix = `secret/data/${namespace}`): Promise<string[]> {
  const env = testEnv();
  const logical = prefix.replace(/^secret\/data\//, '');
  const setup = await configureKubernetesAuth({
    http: new KubeHttp(kube.kc), kubeServer: env.kubeServer, kubeCaPem: env.kubeCaPem, vaultAddr: env.vaultAddr, vaultToken: env.vaultToken,
    namespace, serviceAccount: 'vault-sync-operator', tokenFile: join(mkdtempSync(join(tmpdir(), 'vso-ctrl-')), 'token'),
    policyRules: [
      `path "secret/data/${logical}/*" { capabilities = ["create", "read", "update", "delete"] }`,
      `path "secret/metadata/${logical}/*" { capabilities = ["create", "read", "update", "patch", "delete"] }`,
    ].join('\n'),
  });
  return setup.controllerArgs;
}

/** Fetches one metric sample value from the controller's /metrics (auth off). */
export async function metricValue(proc: ControllerProcess, pattern: RegExp): Promise<number> {
  const text = await (await fetch(`${proc.metricsUrl}/metrics`)).text();
  let total = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const m = pattern.exec(line);
    if (m) total += Number(line.split(' ').at(-1));
  }
  return total;
}
