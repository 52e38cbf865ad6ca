// docs/ and deploy/ text against the code: every --flag they mention exists
// (the controller's, setup.sh's, or a known kubectl/helm one), every Helm
// value they name exists in values.yaml, every Event reason and metric they
// name is one the controller emits, and relative links resolve.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Registry, collectDefaultMetrics } from 'prom-client';
import { FLAGS } from '../../../controller/config.ts';
import { createControllerMetrics } from '../../../controller/metrics.ts';
import { createMetrics } from '../../../shared/metrics.ts';
import { repoRoot } from '../../../tools/testenv/binaries.ts';
import { chartDir, deployTools, helm, yamlToObjects } from './render.ts';

const docsDir = join(repoRoot, 'docs');
const docs = readdirSync(docsDir).filter((f) => f.endsWith('.md')).map((f) => ({ file: `docs/${f}`, path: join(docsDir, f), text: readFileSync(join(docsDir, f), 'utf8') }));
const setupSh = readFileSync(join(repoRoot, 'deploy', 'vault', 'setup.sh'), 'utf8');

/** Flags of other tools that the docs use in example commands. */
const TOOL_FLAGS = new Set([
  '--set', '--reuse-values', '--namespace', '--create-namespace', '--values', '--for', '--raw', '--minify', '--duration', '--clusterrole',
  '--serviceaccount', '--from-literal', '--type', '--field-selector', '--replicas', '--help', '--version',
  // Node's V8 flags, set by the image's entrypoint.
  '--max-old-space-size', '--max-semi-space-size', '--optimize-for-size',
  // npm's, as tools/bootstrap installs (security.md: install scripts only from the allowlist).
  '--strict-allow-scripts',
  // mocha's, as tools/prefix-check passes them on (security.md: pre-fix runs).
  '--grep', '--invert',
  // "--flag=value", the placeholder in values.yaml.
  '--flag',
]);

describe('docs/ agree with the code', () => {
  before(function () {
    this.timeout(900_000); // a cold build of helm and kustomize, once per machine (tools/bootstrap does it ahead)
    deployTools();
  });

  it('there are the four pages the issue asks for', () => {
    for (const page of ['quickstart.md', 'troubleshooting.md', 'migration.md', 'security.md']) assert.ok(existsSync(join(docsDir, page)), page);
  });

  it('every --flag mentioned is a controller flag, a setup.sh option, or a known tool flag', () => {
    const controller = new Set(FLAGS.flatMap((f) => [f.name, ...(f.aliases ?? [])]).map((n) => `--${n}`));
    const setup = new Set([...setupSh.matchAll(/^\s+(--[a-z-]+)\) /gm)].map((m) => m[1]!));
    assert.ok(setup.has('--kubernetes-host') && setup.has('--audience'), 'setup.sh options parsed');
    const sources = [...docs, { file: 'deploy/helm/.../values.yaml', text: readFileSync(join(chartDir, 'values.yaml'), 'utf8') },
      { file: 'deploy/helm/.../NOTES.txt', text: readFileSync(join(chartDir, 'templates', 'NOTES.txt'), 'utf8') }];
    const unknown: string[] = [];
    for (const { file, text } of sources) {
      for (const m of text.matchAll(/(?<![\w-])(--[a-z][a-z0-9-]*)/g)) {
        const flag = m[1]!;
        // `--zap-*` stands for the Go operator's logging flags, accepted and ignored.
        if (controller.has(flag) || setup.has(flag) || TOOL_FLAGS.has(flag) || flag === '--zap-') continue;
        unknown.push(`${file}: ${flag}`);
      }
    }
    assert.deepEqual(unknown, []);
  });

  it('every Helm value named in the docs exists in values.yaml', () => {
    const values = yamlToObjects(helm(['show', 'values', chartDir]))[0] as unknown as Record<string, unknown>;
    const has = (path: string) => path.split('.').reduce<unknown>((node, key) => (node && typeof node === 'object' && key in node ? (node as any)[key] : undefined), values) !== undefined;
    const roots = ['config', 'tuning', 'vault', 'rbac', 'networkPolicy', 'serviceMonitor', 'prometheusRule', 'status', 'serviceAccount', 'podDisruptionBudget', 'image', 'resources'];
    const missing: string[] = [];
    for (const { file, text } of docs) {
      for (const m of text.matchAll(new RegExp(`\`(?:--set )?((?:${roots.join('|')})\\.[A-Za-z][A-Za-z.]*)(?:=[^\`]*)?\``, 'g'))) {
        if (!has(m[1]!.replace(/\.$/, ''))) missing.push(`${file}: ${m[1]}`);
      }
    }
    assert.deepEqual(missing, []);
  });

  it('Event reasons and metrics named in the docs are the ones the controller emits', () => {
    const registry = new Registry();
    createMetrics(registry);
    createControllerMetrics(registry);
    collectDefaultMetrics({ register: registry });
    const metrics = new Set((registry.getMetricsAsArray() as unknown as { name: string }[]).map((m) => m.name));
    const reasons = ['Synced', 'Cleaned', 'LargeSecret', 'SyncFailed', 'SecretNotFound', 'KeyMissing', 'InvalidConfig', 'PathDenied', 'OwnershipConflict', 'TuningApplied', 'InvalidTuning'];
    const reconciler = ['controller/reconciler.ts', 'controller/tuning.ts', 'shared/errors.ts'].map((f) => readFileSync(join(repoRoot, f), 'utf8')).join('\n');
    for (const r of reasons) assert.ok(reconciler.includes(`'${r}'`), `the code emits ${r}`);
    const troubleshooting = docs.find((d) => d.file === 'docs/troubleshooting.md')!.text;
    for (const r of reasons) assert.match(troubleshooting, new RegExp(`\`${r}\``), `troubleshooting covers ${r}`);
    const unknown: string[] = [];
    for (const { file, text } of docs) {
      for (const m of text.matchAll(/\b(vault_[a-z_]+|nodejs_[a-z_]+|process_[a-z_]+)/g)) {
        const name = m[1]!;
        if (metrics.has(name) || metrics.has(name.replace(/_(bucket|sum|count)$/, ''))) continue;
        // Go-operator-only metrics appear in the migration table on purpose.
        if (file === 'docs/migration.md' && name === 'vault_sync_operator_runtime_info') continue;
        unknown.push(`${file}: ${name}`);
      }
    }
    assert.deepEqual(unknown, []);
  });

  it('relative links resolve', () => {
    const broken: string[] = [];
    const deployReadme = join(repoRoot, 'deploy', 'README.md');
    for (const { file, path, text } of [...docs, { file: 'deploy/README.md', path: deployReadme, text: readFileSync(deployReadme, 'utf8') }]) {
      for (const m of text.matchAll(/\]\(([^)#\s]+)(#[^)]*)?\)/g)) {
        const target = m[1]!;
        if (/^[a-z]+:/.test(target)) continue;
        if (!existsSync(join(dirname(path), target))) broken.push(`${file}: ${target}`);
      }
    }
    assert.deepEqual(broken, []);
  });
});
