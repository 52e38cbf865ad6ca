// deploy/image: there is no container engine here, so the Dockerfile itself
// is not built. What it relies on is tested instead:
//   - entrypoint.sh (POSIX sh) sizes the heap from a cgroup memory limit,
//     run against fake cgroup files and a fake node that prints its argv;
//   - the build context that Dockerfile.dockerignore lets through is enough
//     to bundle the controller (tools/build.ts, as the build stage runs it);
//   - the bundle runs alone, with no node_modules beside it (the runtime
//     stage copies only that file), through the entrypoint, on the real node.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmodSync, copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { promisify } from 'node:util';
import { repoRoot } from '../../../tools/testenv/binaries.ts';
import { controllerBundle } from '../support/controller.ts';

const run = promisify(execFile);
const imageDir = join(repoRoot, 'deploy', 'image');
const entrypoint = join(imageDir, 'entrypoint.sh');

describe('deploy/image: entrypoint and build context', function () {
  this.timeout(60_000);
  const dir = mkdtempSync(join(tmpdir(), 'vso-image-'));
  const fakeNode = join(dir, 'fake-node');
  writeFileSync(fakeNode, '#!/bin/sh\nfor a in "$@"; do printf \'%s\\n\' "$a"; done\n');
  chmodSync(fakeNode, 0o755);

  /** Runs the entrypoint with a cgroup root holding `files`; resolves with the argv the (fake) node got. */
  async function entry(files: Record<string, string>, opts: { env?: Record<string, string>; args?: string[] } = {}): Promise<string[]> {
    const root = mkdtempSync(join(dir, 'cgroup-'));
    for (const [name, content] of Object.entries(files)) {
      mkdirSync(dirname(join(root, name)), { recursive: true });
      writeFileSync(join(root, name), content);
    }
    const { stdout } = await run('sh', [entrypoint, ...(opts.args ?? [])], {
      env: { PATH: process.env.PATH, VSO_CGROUP_ROOT: root, VSO_NODE: fakeNode, VSO_CONTROLLER: '/app/controller.mjs', ...opts.env },
    });
    return stdout.split('\n').filter(Boolean);
  }
  const heapFlag = (argv: string[]) => argv.find((a) => a.startsWith('--max-old-space-size='));

  it('cgroup v2 limit of 256Mi: --max-old-space-size=128, with the image\'s other V8 flags, before the bundle', async () => {
    const argv = await entry({ 'memory.max': '268435456\n' }, { args: ['--leader-elect=true', '--path-policy=secret/{namespace}/*, shared/x'] });
    assert.deepEqual(argv, [
      '--max-semi-space-size=4', '--optimize-for-size', '--max-old-space-size=128', '/app/controller.mjs',
      '--leader-elect=true', '--path-policy=secret/{namespace}/*, shared/x',
    ]);
  });

  it('half of other limits, cgroup v1 too, with a floor of 32 MiB', async () => {
    assert.equal(heapFlag(await entry({ 'memory.max': '536870912' })), '--max-old-space-size=256');
    assert.equal(heapFlag(await entry({ 'memory.max': String(2 * 1024 ** 3) })), '--max-old-space-size=1024');
    assert.equal(heapFlag(await entry({ 'memory/memory.limit_in_bytes': '805306368' })), '--max-old-space-size=384');
    assert.equal(heapFlag(await entry({ 'memory.max': String(40 * 1024 ** 2) })), '--max-old-space-size=32');
  });

  it('no limit ("max", cgroup v1\'s huge number, no cgroup files, garbage): V8\'s default', async () => {
    const cases: Record<string, string>[] = [{ 'memory.max': 'max\n' }, { 'memory/memory.limit_in_bytes': '9223372036854771712' }, {}, { 'memory.max': 'twelve' }];
    for (const files of cases) {
      const argv = await entry(files);
      assert.equal(heapFlag(argv), undefined, JSON.stringify(files));
      assert.deepEqual(argv.slice(0, 3), ['--max-semi-space-size=4', '--optimize-for-size', '/app/controller.mjs']);
    }
  });

  it('VSO_MAX_OLD_SPACE_SIZE wins over the cgroup; NODE_OPTIONS with a heap size wins over both', async () => {
    assert.equal(heapFlag(await entry({ 'memory.max': '268435456' }, { env: { VSO_MAX_OLD_SPACE_SIZE: '200' } })), '--max-old-space-size=200');
    assert.equal(heapFlag(await entry({ 'memory.max': '268435456' }, { env: { NODE_OPTIONS: '--max-old-space-size=99' } })), undefined);
    await assert.rejects(entry({}, { env: { VSO_MAX_OLD_SPACE_SIZE: '1g' } }), /must be a number of MiB/);
  });

  it("limits glibc's malloc arenas to 2 unless MALLOC_ARENA_MAX is set", async () => {
    const envNode = join(dir, 'env-node');
    writeFileSync(envNode, '#!/bin/sh\nprintf \'%s\\n\' "MALLOC_ARENA_MAX=${MALLOC_ARENA_MAX-unset}"\n');
    chmodSync(envNode, 0o755);
    assert.deepEqual(await entry({}, { env: { VSO_NODE: envNode } }), ['MALLOC_ARENA_MAX=2']);
    assert.deepEqual(await entry({}, { env: { VSO_NODE: envNode, MALLOC_ARENA_MAX: '4' } }), ['MALLOC_ARENA_MAX=4']);
  });

  it('the controller bundle runs alone through the entrypoint on the real node (no node_modules beside it)', async () => {
    const app = mkdtempSync(join(dir, 'app-'));
    // The bundle and its chunks, nothing else (what the image's /app holds).
    for (const f of readdirSync(dirname(controllerBundle)).filter((f) => /^controller.*\.mjs$/.test(f))) copyFileSync(join(dirname(controllerBundle), f), join(app, f));
    const root = mkdtempSync(join(dir, 'cgroup-'));
    writeFileSync(join(root, 'memory.max'), '268435456');
    const env = { PATH: process.env.PATH, VSO_CGROUP_ROOT: root, VSO_NODE: process.execPath, VSO_CONTROLLER: join(app, 'controller.mjs') };
    const version = await run('sh', [entrypoint, '--version'], { env, cwd: app });
    assert.match(version.stdout, /^vault-sync-operator version \d+\.\d+\.\d+/);
    const help = await run('sh', [entrypoint, '--help'], { env, cwd: app });
    assert.match(help.stdout, /--status-bind-address/);
  });

  it('the build context Dockerfile.dockerignore lets through holds what the Dockerfile copies and is enough to bundle', async function () {
    this.timeout(120_000);
    const patterns = readFileSync(join(imageDir, 'Dockerfile.dockerignore'), 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
    // Docker's rules for these patterns: the last match decides; "**" matches everything; "dir/**" a whole tree.
    const included = (file: string) => {
      let keep = true;
      for (const raw of patterns) {
        const negate = raw.startsWith('!');
        const p = negate ? raw.slice(1) : raw;
        const matches = p === '**' || file === p || (p.endsWith('/**') && file.startsWith(p.slice(0, -2)));
        if (matches) keep = negate;
      }
      return keep;
    };
    const skip = new Set(['node_modules', '.git', '.tools', '.testenv', 'dist']);
    const walk = (d: string): string[] => readdirSync(d).flatMap((name) => {
      if (skip.has(name)) return [];
      const full = join(d, name);
      return statSync(full).isDirectory() ? walk(full) : [relative(repoRoot, full)];
    });
    const context = walk(repoRoot).filter(included);
    // Every COPY from the context names something in it.
    const dockerfile = readFileSync(join(imageDir, 'Dockerfile'), 'utf8');
    for (const m of dockerfile.matchAll(/^COPY (?!--from)(?:--\S+ )*(.+) (\S+)$/gm)) {
      for (const source of m[1]!.split(/\s+/)) {
        if (source === '.') continue;
        assert.ok(context.includes(source), `COPY ${source}: not in the build context`);
      }
    }
    assert.ok(!context.some((f) => /^(test\/(integration|unit)\/|\.testenv|scratch\/)|\.(pem|key|jwt)$/.test(f)), 'test suites, test state and credentials stay out');
    // The build stage: `npm ci` (here: the repository's node_modules), then `node tools/build.ts`.
    const ctx = mkdtempSync(join(dir, 'context-'));
    for (const file of context) {
      mkdirSync(dirname(join(ctx, file)), { recursive: true });
      cpSync(join(repoRoot, file), join(ctx, file));
    }
    symlinkSync(join(repoRoot, 'node_modules'), join(ctx, 'node_modules'), 'dir');
    await run(process.execPath, ['tools/build.ts'], { cwd: ctx });
    assert.ok(existsSync(join(ctx, 'dist', 'controller.mjs')));
    const { stdout } = await run(process.execPath, [join(ctx, 'dist', 'controller.mjs'), '--version']);
    assert.match(stdout, /vault-sync-operator version/);
  });
});
