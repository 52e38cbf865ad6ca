// Bundles the two hosts with esbuild:
//   dist/controller.mjs  the headless controller, one ESM file for Node 24 and Deno 2
//   dist/extension.js    the VS Code extension (CommonJS, `vscode` provided by the host)
//   dist/webview/        the metrics panel's page script and CSS (browser, uPlot bundled: webviews have no internet)
//   dist/test/vscode-*.cjs the extension-host tests (run inside VS Code)
// Usage: node tools/build.ts [--watch | --vsix]   (--vsix also packs dist/vault-sync-<version>.vsix)
import { execFileSync } from 'node:child_process';
import { build, context, type BuildOptions } from 'esbuild';
import { copyFileSync, cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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
    entryPoints: { controller: join(repoRoot, 'controller', 'main.ts') },
    outdir: join(repoRoot, 'dist'),
    outExtension: { '.js': '.mjs' },
    // client-node is imported only when our own credential loader cannot read
    // a kubeconfig (exec/OIDC plugins): in its own chunk, it costs nothing
    // until then (measured: ~85 MiB RSS when loaded at start).
    splitting: true,
    chunkNames: 'controller-[name]-[hash]',
    // prom-client's exemplar support, which the controller does not use (see the stub).
    alias: { '@opentelemetry/api': join(repoRoot, 'tools', 'stubs', 'otel-api.ts') },
    format: 'esm',
    // CommonJS dependencies (prom-client) call
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
  {
    // Runs inside the metrics webview: a browser bundle, minified, no Node built-ins.
    entryPoints: { metrics: join(repoRoot, 'extension', 'webview', 'metrics-page.ts') },
    outdir: join(repoRoot, 'dist', 'webview'),
    bundle: true,
    platform: 'browser',
    format: 'iife',
    target: 'chrome120',
    minify: true,
    sourcemap: false,
    legalComments: 'none',
    logLevel: 'warning',
  },
  {
    // The extension-host tests: the mocha suite, and the run() entry VS Code
    // loads from extensionTestsPath. mocha stays external (node_modules).
    ...common,
    entryPoints: { 'vscode-suite': join(repoRoot, 'test', 'vscode', 'suite.ts'), 'vscode-index': join(repoRoot, 'test', 'vscode', 'index.ts') },
    outdir: join(repoRoot, 'dist', 'test'),
    outExtension: { '.js': '.cjs' },
    format: 'cjs',
    external: ['vscode', 'mocha'],
  },
];

/**
 * The extension as VS Code loads it: dist/vscode-extension/ holds the
 * manifest (extension/vscode-manifest.json as package.json), the bundle and
 * the media. Tests load it from there; the .vsix is packed from it.
 */
export const extensionDir = join(repoRoot, 'dist', 'vscode-extension');

function stageExtension(): void {
  rmSync(extensionDir, { recursive: true, force: true });
  mkdirSync(join(extensionDir, 'dist'), { recursive: true });
  const manifest = JSON.parse(readFileSync(join(repoRoot, 'extension', 'vscode-manifest.json'), 'utf8'));
  manifest.version = pkg.version;
  writeFileSync(join(extensionDir, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  copyFileSync(join(repoRoot, 'dist', 'extension.js'), join(extensionDir, 'dist', 'extension.js'));
  cpSync(join(repoRoot, 'dist', 'webview'), join(extensionDir, 'dist', 'webview'), { recursive: true });
  cpSync(join(repoRoot, 'extension', 'media'), join(extensionDir, 'media'), { recursive: true });
  copyFileSync(join(repoRoot, 'extension', 'README.md'), join(extensionDir, 'README.md'));
  copyFileSync(join(repoRoot, 'LICENSE'), join(extensionDir, 'LICENSE'));
}

export async function buildAll(): Promise<void> {
  await Promise.all(targets.map((options) => build(options)));
  stageExtension();
}

export const vsixPath = join(repoRoot, 'dist', `vault-sync-${pkg.version}.vsix`);

/** Packs the staged extension into a .vsix with @vscode/vsce (offline; the bundle has no runtime dependencies). */
export function packageVsix(): string {
  execFileSync(process.execPath, [join(repoRoot, 'node_modules', '@vscode', 'vsce', 'vsce'), 'package', '--no-dependencies', '--out', vsixPath], {
    cwd: extensionDir, stdio: ['ignore', 'ignore', 'inherit'],
  });
  return vsixPath;
}

if (import.meta.main) {
  if (process.argv.includes('--watch')) {
    stageExtension();
    for (const options of targets) await (await context(options)).watch();
  } else {
    await buildAll();
    if (process.argv.includes('--vsix')) process.stdout.write(`${packageVsix()}\n`);
  }
}
