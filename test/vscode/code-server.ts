// Real VS Code for tests: the npm package code-server (installed by
// tools/bootstrap into .tools/code-server), driven by playwright-core with
// Debian's Chromium. Two uses:
//   runExtensionTests  loads the extension through the workbench test payload
//                      (extensionDevelopmentPath / extensionTestsPath) and
//                      resolves with the extension host's exit code;
//   uiCheck            installs the .vsix like a user would, clicks its
//                      activity-bar entry, reads the tree rows and saves a
//                      screenshot of the sidebar; then opens the metrics
//                      panel, a resource's sync history and a manifest's
//                      preview from the command palette and the CodeLens,
//                      reads them back from the webviews' DOM and saves a
//                      screenshot of each.
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

async function startSession(opts: { testDriver: boolean; log: (line: string) => void; vsix?: string; userSettings?: Record<string, unknown> }): Promise<Session> {
  const tmp = mkdtempSync(join(tmpdir(), 'vso-vscode-'));
  const userDataDir = join(tmp, 'user-data');
  const extensionsDir = join(tmp, 'extensions');
  mkdirSync(join(userDataDir, 'User'), { recursive: true });
  writeFileSync(join(userDataDir, 'User', 'settings.json'), JSON.stringify({ ...QUIET_SETTINGS, ...opts.userSettings }, null, 2));
  // Machine-scoped settings of an extension on the server side are read from the server's Machine settings in a remote window.
  mkdirSync(join(userDataDir, 'Machine'), { recursive: true });
  writeFileSync(join(userDataDir, 'Machine', 'settings.json'), JSON.stringify(opts.userSettings ?? {}, null, 2));
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
      // KEEP_VSCODE_TMP=1 keeps the folder: code-server's logs and the extension's output channels, for reading a failed run.
      if (process.env.KEEP_VSCODE_TMP) opts.log(`kept ${tmp}`); else rmSync(tmp, { recursive: true, force: true });
    },
  };
}

/** Runs the extension-host tests; resolves with their exit code (0 = passed). */
export async function runExtensionTests(opts: { extensionPath: string; testsPath: string; folder: string; timeoutMs: number; log: (line: string) => void; logsDir?: string; userSettings?: Record<string, unknown> }): Promise<number> {
  const session = await startSession({ testDriver: true, log: opts.log, userSettings: opts.userSettings });
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

export interface ChartSeen {
  id: string;
  points: number;
  /** Series labels as the chart's legend shows them. */
  series: string[];
  /** A canvas of non-zero size was drawn. */
  drawn: boolean;
}

export interface UiSeen {
  title: string;
  rows: string[];
  charts: ChartSeen[];
  /** "source:what" of each timeline row. */
  timeline: string[];
  /** "path: keys" of each row the preview would write. */
  preview: string[];
  /** Console messages about Content-Security-Policy violations (must be none). */
  cspViolations: string[];
}

/** Runs a command from the palette (F1), like a user. */
async function runCommand(page: Page, title: string): Promise<void> {
  await page.keyboard.press('F1');
  const input = page.locator('.quick-input-widget input');
  await input.waitFor({ state: 'visible', timeout: 10_000 });
  await input.fill(`>${title}`);
  await page.locator('.quick-input-widget .monaco-list-row', { hasText: title }).first().waitFor({ timeout: 10_000 });
  await page.keyboard.press('Enter');
}

/** The webview frame that holds `selector` (webviews are nested iframes). */
async function webviewFrame(page: Page, selector: string, timeoutMs = 30_000): Promise<any> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    for (const frame of page.frames()) {
      if (await frame.$(selector).catch(() => null)) return frame;
    }
    await page.waitForTimeout(250);
  }
  throw new Error(`no webview shows ${selector}`);
}

async function editorShot(page: Page, path: string): Promise<void> {
  await page.waitForTimeout(400);
  const box = await page.locator('.part.editor').boundingBox();
  await page.screenshot({ path, ...(box ? { clip: box } : {}) });
}

/** Installs the .vsix, opens its view container, returns the tree rows' labels and saves a sidebar screenshot; then the webviews. */
export async function uiCheck(opts: { vsix: string; extensionPath: string; folder: string; screenshot: string; expectRow: RegExp; log: (line: string) => void; userSettings?: Record<string, unknown>; outDir: string; manifest: string; resource: string; activity: () => Promise<void> }): Promise<UiSeen> {
  const session = await startSession({ testDriver: false, log: opts.log, vsix: opts.vsix, userSettings: opts.userSettings });
  try {
    const { page } = session;
    const cspViolations: string[] = [];
    page.on('console', (m: { text(): string }) => {
      if (/Content.Security.Policy/i.test(m.text())) cspViolations.push(m.text().slice(0, 300));
    });
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

    // The metrics panel: at least two scrapes, every chart drawn; read back from its DOM.
    // Room for it: the sidebar closes; the harness rotates a Secret meanwhile, so the charts have something to show.
    await runCommand(page, 'View: Toggle Primary Side Bar Visibility');
    await runCommand(page, 'Vault Sync: Open Controller Metrics');
    const metrics = await webviewFrame(page, '#charts');
    await opts.activity();
    // Webview pages forbid eval (strict CSP): everything run in them is a function, never a string.
    const seen = Number(await metrics.evaluate(() => (globalThis as any).document.body.dataset.scrapes ?? 0));
    await metrics.waitForFunction((n: number) => Number((globalThis as any).document.body.dataset.scrapes ?? 0) >= n, seen + 3, { timeout: 60_000 });
    await metrics.waitForFunction(() => {
      const d = (globalThis as any).document;
      const sections = [...d.querySelectorAll('section.chart')] as any[];
      return Number(d.body.dataset.scrapes ?? 0) >= 2 && sections.length === 8 && sections.every((s) => Number(s.dataset.points) >= 2);
    }, undefined, { timeout: 60_000 });
    const charts = (await metrics.evaluate(() => ([...(globalThis as any).document.querySelectorAll('section.chart')] as any[]).map((s) => ({
      id: s.dataset.chart, points: Number(s.dataset.points),
      series: ([...s.querySelectorAll('.u-legend .u-series')] as any[]).slice(1).map((l) => (l.querySelector('.u-label')?.textContent ?? '').trim()),
      drawn: ([...s.querySelectorAll('canvas')] as any[]).some((c) => c.width > 0 && c.height > 0),
    })))) as ChartSeen[];
    await editorShot(page, join(opts.outDir, 'vscode-metrics.png'));

    // A resource's sync history, picked from the palette's quick pick.
    await runCommand(page, 'Vault Sync: Show Sync History');
    const pick = page.locator('.quick-input-widget input');
    await page.locator('.quick-input-widget .monaco-list-row', { hasText: opts.resource }).first().waitFor({ timeout: 10_000 });
    await pick.fill(opts.resource);
    await page.keyboard.press('Enter');
    const history = await webviewFrame(page, 'section[data-section="Timeline"] tr[data-row]');
    const timeline = (await history.evaluate(() => ([...(globalThis as any).document.querySelectorAll('section[data-section="Timeline"] tbody tr')] as any[]).map((r) => r.dataset.row))) as string[];
    await editorShot(page, join(opts.outDir, 'vscode-timeline.png'));

    // The manifest, and its "Preview Vault Sync" CodeLens.
    await page.keyboard.press('Control+P');
    await page.locator('.quick-input-widget input').fill(opts.manifest);
    await page.locator('.quick-input-widget .monaco-list-row', { hasText: opts.manifest }).first().waitFor({ timeout: 10_000 });
    await page.keyboard.press('Enter');
    const lens = page.locator('.codelens-decoration a', { hasText: 'Preview Vault Sync' }).first();
    await lens.waitFor({ timeout: 30_000 });
    await lens.click();
    const previewFrame = await webviewFrame(page, 'section[data-section="Would write"] tr[data-row]');
    const preview = (await previewFrame.evaluate(() => ([...(globalThis as any).document.querySelectorAll('section[data-section="Would write"] tbody tr')] as any[]).map((r) => `${r.cells[0].textContent}: ${r.cells[1].textContent}`))) as string[];
    await editorShot(page, join(opts.outDir, 'vscode-preview.png'));
    return { title, rows: labels, charts, timeline, preview, cspViolations };
  } finally {
    await session.close();
  }
}
