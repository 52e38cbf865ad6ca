// Command line for the test environment, for people and scripts.
//
//   node tools/testenv/cli.ts prepare   build/check the server binaries (once per machine)
//   node tools/testenv/cli.ts start     start in the background; print and write the settings
//   node tools/testenv/cli.ts env       print the settings of the running environment
//   node tools/testenv/cli.ts stop      stop the background environment
//   node tools/testenv/cli.ts serve     run in the foreground until Ctrl-C
//
// Settings are written to .testenv/env.sh (source it) and .testenv/env.json
// (the test suites reuse a running environment when VSO_TESTENV points there).
// The environment lives in its own network namespace (npm run env:start goes
// through tools/testenv/netns): run commands that talk to it through
// `tools/testenv/netns CMD`, which joins that namespace when VSO_TESTENV is set.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ensureKubeBinaries, repoRoot, requireBinaries } from './binaries.ts';
import { environmentInfo, startEnvironment, type EnvironmentInfo } from './environment.ts';
import { isAlive } from './processes.ts';

const stateDir = process.env.VSO_TESTENV_DIR ?? join(repoRoot, '.testenv');
const infoFile = join(stateDir, 'env.json');
const shellFile = join(stateDir, 'env.sh');
const serveLog = join(stateDir, 'serve.log');

function shellExports(info: EnvironmentInfo): string {
  return [
    `export KUBECONFIG='${info.kubeconfig}'`,
    `export VAULT_ADDR='${info.vaultAddr}'`,
    `export VAULT_TOKEN='${info.vaultToken}'`,
    `export BAO_ADDR='${info.vaultAddr}'`,
    `export BAO_TOKEN='${info.vaultToken}'`,
    `export VSO_TESTENV='${infoFile}'`,
    '',
  ].join('\n');
}

function readRunningInfo(): EnvironmentInfo | undefined {
  if (!existsSync(infoFile)) return undefined;
  const info = JSON.parse(readFileSync(infoFile, 'utf8')) as EnvironmentInfo;
  return isAlive(info.ownerPid) ? info : undefined;
}

async function serve(): Promise<void> {
  mkdirSync(stateDir, { recursive: true });
  const env = await startEnvironment({ dir: join(stateDir, 'run') });
  const info = environmentInfo(env);
  writeFileSync(shellFile, shellExports(info), { mode: 0o600 });
  writeFileSync(infoFile, JSON.stringify(info, null, 2), { mode: 0o600 });
  process.stdout.write(shellExports(info));
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
  });
  await env.stop();
  rmSync(infoFile, { force: true });
  rmSync(shellFile, { force: true });
}

async function start(): Promise<void> {
  const running = readRunningInfo();
  if (running) {
    process.stdout.write(shellExports(running));
    return;
  }
  requireBinaries();
  mkdirSync(stateDir, { recursive: true });
  rmSync(infoFile, { force: true });
  const out = openSync(serveLog, 'w');
  const child = spawn(process.execPath, [import.meta.filename, 'serve'], { detached: true, stdio: ['ignore', out, out] });
  child.unref();
  const deadline = Date.now() + 180_000;
  while (Date.now() < deadline) {
    const info = readRunningInfo();
    if (info) {
      process.stdout.write(shellExports(info));
      process.stderr.write(`test environment running (pid ${info.ownerPid}) in its own network namespace; settings in ${shellFile}\n`
        + `reach it with: source ${shellFile} && tools/testenv/netns <command>   (e.g. tools/testenv/netns bash)\n`);
      return;
    }
    if (child.pid === undefined || !isAlive(child.pid)) break;
    await sleep(200);
  }
  throw new Error(`test environment did not start; see ${serveLog}:\n${readFileSync(serveLog, 'utf8').slice(-3000)}`);
}

async function stop(): Promise<void> {
  const info = readRunningInfo();
  if (!info) {
    process.stderr.write('no test environment is running\n');
    return;
  }
  process.kill(info.ownerPid, 'SIGTERM');
  const deadline = Date.now() + 60_000;
  while (isAlive(info.ownerPid) && Date.now() < deadline) await sleep(100);
  if (isAlive(info.ownerPid)) process.kill(info.ownerPid, 'SIGKILL');
  process.stderr.write('test environment stopped\n');
}

const commands: Record<string, () => Promise<void> | void> = {
  prepare: () => {
    ensureKubeBinaries((line) => process.stderr.write(`${line}\n`));
    requireBinaries();
  },
  start,
  stop,
  serve,
  env: () => {
    const info = readRunningInfo();
    if (!info) throw new Error('no test environment is running; start one with: npm run env:start');
    process.stdout.write(shellExports(info));
  },
};

const name = process.argv[2] ?? '';
const command = commands[name];
if (!command) {
  process.stderr.write(`usage: node tools/testenv/cli.ts <${Object.keys(commands).join('|')}>\n`);
  process.exit(2);
}
try {
  await command();
} catch (err) {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
}
