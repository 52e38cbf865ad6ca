// Bundles the two hosts with esbuild:
//   dist/controller.mjs  the headless controller, one ESM file for Node 24 and Deno 2
//   dist/extension.js    the VS Code extension (CommonJS, `vscode` provided by the host)
// Usage: node tools/build.ts [--watch]
import { build, context, type BuildOptions } from 'esbuild';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './testenv/binaries.ts';

const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string };

const common: BuildOptions = {
  bundle: true,
  platform: 'node',
  target: 'node22',
  sourcemap: 'linked',
  legalComments: 'none',
  logLevel: 'warning',
  define: { VSO_VERSION: JSON.stringify(pkg.version) },
};

const targets: BuildOptions[] = [
  {
    ...common,
    entryPoints: [join(repoRoot, 'controller', 'main.ts')],
    outfile: join(repoRoot, 'dist', 'controller.mjs'),
    format: 'esm',
    // CommonJS dependencies (node-vault, bottleneck, prom-client) call
    // require() for Node built-ins; an ESM bundle needs a real require for that.
    banner: { js: "import { createRequire as __vsoCreateRequire } from 'node:module'; const require = __vsoCreateRequire(import.meta.url);" },
  },
  {
    ...common,
    entryPoints: [join(repoRoot, 'extension', 'activate.ts')],
    outfile: join(repoRoot, 'dist', 'extension.js'),
    format: 'cjs',
    external: ['vscode'],
  },
];

export async function buildAll(): Promise<void> {
  await Promise.all(targets.map((options) => build(options)));
}

if (import.meta.main) {
  if (process.argv.includes('--watch')) {
    for (const options of targets) await (await context(options)).watch();
  } else {
    await buildAll();
  }
}
