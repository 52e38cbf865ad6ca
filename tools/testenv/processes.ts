// Child-process bookkeeping for the test environment.
//
// Contract: every server the environment starts is registered here, its
// stdout/stderr go to a log file (never to the test output), and all of them
// are killed when the owning process exits, is interrupted, or crashes. Pids
// are also written to a file so that a later run can reap servers left behind
// by a run that was SIGKILLed (the one case no exit hook can catch).
import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, closeSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

export interface ManagedProcess {
  readonly name: string;
  readonly child: ChildProcess;
  readonly logFile: string;
  /** Resolves with the exit code (or signal name) once the process has ended. */
  readonly exited: Promise<number | string>;
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<void>;
}

const live = new Set<ManagedProcess>();
let hooksInstalled = false;
let pidFile: string | undefined;

/** Records pids of live children in `file`, for reaping after a hard kill. */
export function trackPidsIn(file: string): void {
  pidFile = file;
  writePidFile();
}

function writePidFile(): void {
  if (!pidFile) return;
  const pids = [...live].map((p) => p.child.pid).filter((p): p is number => p !== undefined);
  writeFileSync(pidFile, JSON.stringify({ owner: process.pid, pids }));
}

/** Kills servers listed in a pid file whose owning process no longer runs. */
export function reapOrphans(file: string): number {
  if (!existsSync(file)) return 0;
  let reaped = 0;
  try {
    const { owner, pids } = JSON.parse(readFileSync(file, 'utf8')) as { owner: number; pids: number[] };
    if (isAlive(owner)) return 0;
    for (const pid of pids) {
      if (isAlive(pid)) {
        try {
          process.kill(-pid, 'SIGKILL');
        } catch {
          try { process.kill(pid, 'SIGKILL'); } catch { /* already gone */ }
        }
        reaped++;
      }
    }
  } catch {
    /* unreadable pid file: nothing to reap */
  }
  return reaped;
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function installExitHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  // 'exit' handlers must be synchronous: SIGKILL the process groups outright.
  process.on('exit', () => {
    for (const p of live) killGroup(p.child, 'SIGKILL');
  });
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      void stopAll().finally(() => process.exit(130));
    });
  }
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    // Children are started as group leaders (detached), so this reaches
    // anything they forked too.
    process.kill(-child.pid, signal);
  } catch {
    try { child.kill(signal); } catch { /* already gone */ }
  }
}

export interface StartOptions {
  name: string;
  command: string;
  args: string[];
  logFile: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

export function startProcess(opts: StartOptions): ManagedProcess {
  installExitHooks();
  const fd = openSync(opts.logFile, 'a');
  const child = spawn(opts.command, opts.args, {
    cwd: opts.cwd,
    env: opts.env ?? process.env,
    stdio: ['ignore', fd, fd],
    detached: true,
  });
  closeSync(fd);
  const exited = new Promise<number | string>((resolve) => {
    child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown'));
    child.once('error', (err) => resolve(`spawn error: ${err.message}`));
  });
  const managed: ManagedProcess = {
    name: opts.name,
    child,
    logFile: opts.logFile,
    exited,
    async stop(signal: NodeJS.Signals = 'SIGTERM', graceMs = 10_000) {
      killGroup(child, signal);
      const timedOut = await Promise.race([exited.then(() => false), sleep(graceMs).then(() => true)]);
      if (timedOut) {
        killGroup(child, 'SIGKILL');
        await exited;
      }
      live.delete(managed);
      writePidFile();
    },
  };
  live.add(managed);
  void exited.then(() => {
    live.delete(managed);
    writePidFile();
  });
  writePidFile();
  return managed;
}

const cleanups = new Set<() => Promise<void>>();

/**
 * Registers work that must run before the children are killed when the
 * process is interrupted (e.g. the node profile's containers, which are not
 * our children). Returns a function that unregisters it.
 */
export function onInterrupt(cleanup: () => Promise<void>): () => void {
  installExitHooks();
  cleanups.add(cleanup);
  return () => cleanups.delete(cleanup);
}

/** Runs the registered cleanups, then stops every live child, newest first (the apiserver hangs if etcd goes first). */
export async function stopAll(): Promise<void> {
  for (const cleanup of [...cleanups].reverse()) await cleanup().catch(() => {});
  cleanups.clear();
  for (const p of [...live].reverse()) await p.stop();
}

/** Last lines of a server log, for error messages when a server fails to start. */
export function tailLog(file: string, lines = 30): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/**
 * Polls `probe` until it returns true, failing early if the process exits and
 * with the log tail when the deadline passes.
 */
export async function waitUntil(
  what: string,
  probe: () => Promise<boolean>,
  opts: { timeoutMs: number; process?: ManagedProcess; intervalMs?: number },
): Promise<void> {
  const deadline = Date.now() + opts.timeoutMs;
  let exitedWith: number | string | undefined;
  void opts.process?.exited.then((code) => (exitedWith = code));
  while (Date.now() < deadline) {
    if (exitedWith !== undefined) {
      throw new Error(`${what}: process exited (${exitedWith}) before it was ready.\n${tailLog(opts.process!.logFile)}`);
    }
    try {
      if (await probe()) return;
    } catch {
      /* not ready yet */
    }
    await sleep(opts.intervalMs ?? 100);
  }
  const log = opts.process ? `\n${tailLog(opts.process.logFile)}` : '';
  throw new Error(`${what}: not ready after ${opts.timeoutMs} ms.${log}`);
}
