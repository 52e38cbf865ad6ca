// Real VS Code for tests: the npm package code-server (installed by
// tools/bootstrap into .tools/code-server), driven by playwright-core with
// Debian's Chromium. Two uses:
//   runExtensionTests  loads the extension through the workbench test payload
//                      (extensionDevelopmentPath / extensionTestsPath) and
//                      resolves with the extension host's exit code;
//   uiCheck            installs the .vsix like a user would, clicks its
//                      activity-bar entry, reads the tree rows and saves a
//                      screenshot of the sidebar.
// Everything runs in a throwaway folder and is killed afterwards.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { format } from 'node:util';
import { repoRoot } from '../../tools/testenv/binaries.ts';

const csDir = join(repoRoot, '.tools', 'code-server');
const entry = join(csDir, 'node_modules', 'code-server', 'out', 'node', 'entry.js');
// playwright-core lives in .tools/code-server, outside the project's node_modules: loosely typed here.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Browser = any;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Page = any;
const loadPlaywright = () => createRequire(join(csDir, 'package.json'))('playwright-core') as { chromium: { launch(opts: object): Promise<Browser> } };

const QUIET_SETTINGS = {
  'workbench.startupEditor': 'none',
  'workbench.welcomePage.experimentalOnboarding': false,
  'workbench.auxiliaryBar.visible': false,
  'workbench.tips.enabled': false,
  'telemetry.telemetryLevel': 'off',
  'extensions.autoCheckUpdates': false,
  'extensions.autoUpdate': false,
  'update.mode': 'none',
  'chat.disableAIFeatures': true,
};
// Workbench log lines that are not about the tests.
const NOISE = /^(Updating additional builtin|Resolving connection token|Resolved connection token|Creating a socket|Ignoring fetching|\[(reconnection-grace-time|Service Worker|AgentHost[^\]]*|AccountPolicyGate|ChatModelSelection)\])/;

interface Session {
  base: string;
  server: ChildProcess;
  browser: Browser;
  page: Page;
  extensionsDir: string;
  close(): Promise<void>;
}

async function startSession(opts: { testDriver: boolean; log: (line: string) => void; vsix?: string }): Promise<Session> {
  const tmp = mkdtempSync(join(tmpdir(), 'vso-vscode-'));
  const userDataDir = join(tmp, 'user-data');
  const extensionsDir = join(tmp, 'extensions');
  mkdirSync(join(userDataDir, 'User'), { recursive: true });
  writeFileSync(join(userDataDir, 'User', 'settings.json'), JSON.stringify(QUIET_SETTINGS, null, 2));
  for (const d of ['tmp', 'data']) mkdirSync(join(tmp, d));
  mkdirSync(extensionsDir);
  writeFileSync(join(tmp, 'config.yaml'), 'auth: none\n'); // otherwise code-server writes ~/.config/code-server
  const env = { EXTENSIONS_GALLERY: '{}', ...process.env, TMPDIR: join(tmp, 'tmp'), XDG_DATA_HOME: join(tmp, 'data') };
  const dirs = ['--config', join(tmp, 'config.yaml'), '--user-data-dir', userDataDir, '--extensions-dir', extensionsDir];
  // Installed the way a user installs it: from the packaged .vsix, offline.
  if (opts.vsix) execFileSync(process.execPath, [entry, ...dirs, '--install-extension', opts.vsix], { env, stdio: ['ignore', 'ignore', 'inherit'] });
  const server = spawn(process.execPath, [entry, ...dirs, '--bind-addr', '127.0.0.1:0', '--auth', 'none',
    '--disable-telemetry', '--disable-update-check', '--disable-workspace-trust',
    '--disable-getting-started-override', '--ignore-last-opened', '--idle-timeout-seconds', '300',
    // Without this, VS Code merges the login shell's environment (and its PATH) over ours.
    '--vscode-option', 'force-disable-user-env',
    // Without this, a built product ignores the test payload and the run just times out.
    ...(opts.testDriver ? ['--vscode-option', 'enable-smoke-test-driver'] : [])],
  {
    detached: true, stdio: ['ignore', 'pipe', 'pipe'],
    // No marketplace on a closed network; sockets and logs go into the throwaway folder.
    env,
  });
  const base = await new Promise<string>((ok, fail) => {
    let buf = '';
    const onData = (d: Buffer) => {
      buf += d.toString();
      for (const line of d.toString().split('\n')) if (/not compatible| error |Error:/.test(line)) opts.log(`[code-server] ${line.slice(0, 400)}`);
      const m = /HTTP server listening on (http:\/\/\S+?)\/?\s/.exec(buf);
      if (m) ok(m[1]!);
    };
    server.stdout!.on('data', onData);
    server.stderr!.on('data', onData);
    server.once('exit', (c) => fail(new Error(`code-server exited early (${c}):\n${buf.slice(-2000)}`)));
  });
  const browser = await loadPlaywright().chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    // Otherwise playwright exits the process on a signal and orphans code-server.
    handleSIGINT: false, handleSIGTERM: false, handleSIGHUP: false,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic', '--disable-dev-shm-usage'],
  });
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  page.on('pageerror', (e: Error) => opts.log(`[page error] ${e.message}`));
  return {
    base, server, browser, page, extensionsDir,
    async close() {
      await browser.close().catch(() => {});
      if (server.exitCode === null && server.signalCode === null) {
        const exited = new Promise((r) => server.once('exit', r));
        try { process.kill(-server.pid!, 'SIGTERM'); } catch { /* gone */ }
        const t = setTimeout(() => { try { process.kill(-server.pid!, 'SIGKILL'); } catch { /* gone */ } }, 3000);
        await exited;
        clearTimeout(t);
      }
      rmSync(tmp, { recursive: true, force: true });
    },
  };
}

/** Runs the extension-host tests; resolves with their exit code (0 = passed). */
export async function runExtensionTests(opts: { extensionPath: string; testsPath: string; folder: string; timeoutMs: number; log: (line: string) => void; logsDir?: string }): Promise<number> {
  const session = await startSession({ testDriver: true, log: opts.log });
  try {
    let gotExit!: (code: number) => void;
    const exitCode = new Promise<number>((ok) => (gotExit = ok));
    // The workbench calls these in test mode; they must exist before navigating.
    await session.page.exposeFunction('codeAutomationExit', (code: number, logs?: { relativePath: string; contents: string }[]) => {
      for (const l of (opts.logsDir && logs) || []) {
        mkdirSync(dirname(join(opts.logsDir!, l.relativePath)), { recursive: true });
        writeFileSync(join(opts.logsDir!, l.relativePath), l.contents);
      }
      gotExit(code);
    });
    await session.page.exposeFunction('codeAutomationLog', (level: string, args: unknown) => {
      const text = format(...(Array.isArray(args) ? args : [args]));
      if (level === 'error' || level === 'warn' || !NOISE.test(text)) opts.log(level === 'info' ? text : `[${level}] ${text}`);
    });
    const host = new URL(session.base).host;
    const payload = [
      ['extensionDevelopmentPath', `vscode-remote://${host}${resolve(opts.extensionPath)}`],
      ['extensionTestsPath', `vscode-remote://${host}${resolve(opts.testsPath)}`],
    ];
    await session.page.goto(`${session.base}/?folder=${encodeURIComponent(opts.folder)}&payload=${encodeURIComponent(JSON.stringify(payload))}`);
    const timeout = new Promise<number>((ok) => setTimeout(() => ok(124), opts.timeoutMs).unref());
    const code = await Promise.race([exitCode, timeout]);
    if (code === 124) opts.log(`[runner] extension-host tests timed out after ${opts.timeoutMs} ms`);
    return Number.isInteger(code) ? code : 2;
  } finally {
    await session.close();
  }
}

/** Installs the .vsix, opens its view container, returns the tree rows' labels and saves a sidebar screenshot. */
export async function uiCheck(opts: { vsix: string; extensionPath: string; folder: string; screenshot: string; expectRow: RegExp; log: (line: string) => void }): Promise<{ title: string; rows: string[] }> {
  const session = await startSession({ testDriver: false, log: opts.log, vsix: opts.vsix });
  try {
    const { page } = session;
    await page.goto(`${session.base}/?folder=${encodeURIComponent(opts.folder)}`);
    const pkg = JSON.parse(readFileSync(join(opts.extensionPath, 'package.json'), 'utf8'));
    const container = pkg.contributes.viewsContainers.activitybar[0] as { title: string };
    const entryLink = page.locator(`.part.activitybar li.action-item[role="tab"] > a.action-label[aria-label^="${container.title}"]`);
    await entryLink.waitFor({ state: 'visible', timeout: 60_000 });
    await entryLink.click();
    const sidebar = page.locator('.part.sidebar');
    await page.mouse.move(700, 400); // keep the activity bar's hover tooltip out of the picture
    await sidebar.locator('.composite.title h2', { hasText: container.title }).waitFor({ timeout: 30_000 });
    const rows = sidebar.locator('.monaco-list-row[role="treeitem"]');
    mkdirSync(dirname(opts.screenshot), { recursive: true });
    // Rows appear once the extension has connected and its watches listed.
    // Runs in the browser: written as a string so this Node-side file needs no DOM types.
    const readRows = async () => ((await rows.evaluateAll((els: { getAttribute(name: string): string | null }[]) => els.map((e) => e.getAttribute('aria-label') ?? ''))) as string[]).filter(Boolean);
    await page.waitForFunction(`[...document.querySelectorAll('.part.sidebar .monaco-list-row[role="treeitem"]')].some((e) => new RegExp(${JSON.stringify(opts.expectRow.source)}).test(e.getAttribute('aria-label') ?? ''))`, undefined, { timeout: 60_000 }).catch(async (err: Error) => {
      await sidebar.screenshot({ path: opts.screenshot }).catch(() => {});
      throw new Error(`${err.message}; rows seen: ${JSON.stringify(await readRows())}; screenshot ${opts.screenshot}`);
    });
    await page.waitForTimeout(500); // icons and descriptions render in the next frame
    const labels = await readRows();
    const title = ((await sidebar.locator('.composite.title h2').first().textContent()) ?? '').trim();
    mkdirSync(dirname(opts.screenshot), { recursive: true });
    await sidebar.screenshot({ path: opts.screenshot });
    return { title, rows: labels };
  } finally {
    await session.close();
  }
}
