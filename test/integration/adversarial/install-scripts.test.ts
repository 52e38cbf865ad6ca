// Supply chain: a dependency's install script runs only when the project's
// allowlist (package.json `allowScripts`) names it. Plain `npm ci` only warns
// about unlisted scripts and runs them; `--strict-allow-scripts` refuses to
// install at all. Checked here with the real npm on a throwaway project whose
// one dependency (a local package) has a postinstall that would leave a mark,
// and against the project's own lockfile and bootstrap.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { repoRoot } from '../../../tools/testenv/binaries.ts';

const run = promisify(execFile);
const npm = (cwd: string, args: string[]) => run('npm', [...args, '--no-audit', '--no-fund', '--offline'], { cwd, encoding: 'utf8' });

describe('adversarial: install scripts run only from the allowlist', function () {
  this.timeout(120_000);
  const dir = mkdtempSync(join(tmpdir(), 'vso-allow-scripts-'));
  const mark = join(dir, 'postinstall-ran');
  after(() => rmSync(dir, { recursive: true, force: true }));

  before(async () => {
    const dep = join(dir, 'evil');
    mkdirSync(dep);
    writeFileSync(join(dep, 'package.json'), JSON.stringify({
      name: 'evil', version: '1.0.0',
      scripts: { postinstall: `node -e "require('fs').writeFileSync(${JSON.stringify(mark)}, 'x')"` },
    }));
    const app = join(dir, 'app');
    mkdirSync(app);
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true, dependencies: { evil: 'file:../evil' }, allowScripts: {} }));
    // A lockfile without running anything.
    await npm(app, ['install', '--package-lock-only', '--ignore-scripts']);
  });

  it('npm ci --strict-allow-scripts refuses an unlisted install script and runs nothing', async () => {
    const app = join(dir, 'app');
    const refused = await npm(app, ['ci', '--strict-allow-scripts']).then(() => undefined, (err) => err as { code: number; stderr: string });
    assert.ok(refused, 'npm ci must fail');
    assert.match(refused.stderr, /ESTRICTALLOWSCRIPTS/);
    assert.match(refused.stderr, /evil@1\.0\.0/);
    assert.equal(existsSync(mark), false, 'the postinstall did not run');
    // Denied with npm's own command (for a local package it records the resolved spec): installs, and the script still does not run.
    await npm(app, ['install', '--ignore-scripts']);
    await npm(app, ['install-scripts', 'deny', 'evil']);
    assert.deepEqual(Object.values(JSON.parse(readFileSync(join(app, 'package.json'), 'utf8')).allowScripts), [false]);
    rmSync(join(app, 'node_modules'), { recursive: true, force: true });
    await npm(app, ['ci', '--strict-allow-scripts']);
    assert.ok(existsSync(join(app, 'node_modules', 'evil', 'package.json')), 'installed');
    assert.equal(existsSync(mark), false, 'a denied postinstall does not run');
  });

  it('the project: every locked package with an install script is allowed or denied by name, and bootstrap installs strictly', () => {
    const lock = JSON.parse(readFileSync(join(repoRoot, 'package-lock.json'), 'utf8'));
    const allow = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')).allowScripts ?? {};
    const withScripts = Object.entries<any>(lock.packages).filter(([, p]) => p.hasInstallScript).map(([path]) => path.replace(/^.*node_modules\//, ''));
    assert.ok(withScripts.length > 0);
    for (const name of withScripts) assert.equal(typeof allow[name], 'boolean', `${name} has an install script: list it in package.json allowScripts (true to run it, false to deny)`);
    const bootstrap = readFileSync(join(repoRoot, 'tools', 'bootstrap'), 'utf8');
    // The commands, not comments or log lines: `npm ci ...` at the start or after `&&`.
    const installs = bootstrap.split('\n').filter((l) => /(^\s*|&&\s*)npm ci\b/.test(l));
    assert.ok(installs.length >= 2);
    for (const line of installs) assert.match(line, /--strict-allow-scripts/, `tools/bootstrap: ${line.trim()}`);
  });
});
