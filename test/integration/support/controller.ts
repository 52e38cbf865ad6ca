// Runs the real controller bundle (dist/controller.mjs) as a child process
// against the test environment, on random loopback ports, with its log kept
// for assertions, and stops it afterwards.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type vault from 'node-vault';
import { repoRoot } from '../../../tools/testenv/binaries.ts';
import { freePorts } from '../../../tools/testenv/ports.ts';
import { testEnv } from './env.ts';
import { serviceAccountToken, uniqueName, type KubeClients } from './kube.ts';
import { enableKubernetesAuth } from './vault.ts';

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

/**
 * Sets up Vault kubernetes auth for a controller the way production does:
 * a service account, a TokenRequest token in a file (as kubelet projects it),
 * a role bound to it, and a policy limited to the test's own path prefix.
 */
export async function controllerVaultAccess(admin: vault.client, kube: KubeClients, namespace: string, prefix = `secret/data/${namespace}`): Promise<string[]> {
  const { mount } = await enableKubernetesAuth(admin, kube, namespace);
  const sa = 'vault-sync-operator';
  await kube.core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: sa } } }).catch(() => {});
  const logical = prefix.replace(/^secret\/data\//, '');
  const policy = uniqueName('vso');
  await admin.addPolicy({
    name: policy,
    rules: [
      `path "secret/data/${logical}/*" { capabilities = ["create", "read", "update", "delete"] }`,
      `path "secret/metadata/${logical}/*" { capabilities = ["create", "read", "update", "patch", "delete"] }`,
    ].join('\n'),
  });
  await admin.write(`auth/${mount}/role/${sa}`, {
    bound_service_account_names: [sa], bound_service_account_namespaces: [namespace], token_policies: [policy], token_ttl: '1h',
  });
  const dir = mkdtempSync(join(tmpdir(), 'vso-ctrl-'));
  const tokenFile = join(dir, 'token');
  writeFileSync(tokenFile, await serviceAccountToken(kube.core, namespace, sa));
  return [`--vault-addr=${testEnv().vaultAddr}`, '--vault-auth-method=kubernetes', `--vault-auth-path=${mount}`, `--vault-role=${sa}`, `--service-account-token-file=${tokenFile}`];
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
