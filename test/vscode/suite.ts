// Extension-host tests (mocha BDD): run inside real VS Code (code-server, or
// desktop VS Code through .vscode-test.mjs), against the real test cluster,
// OpenBao and a live controller set up by test/vscode/run.ts. Bundled to
// dist/test/vscode-suite.cjs. The workspace folder holds .vscode/settings.json
// (namespaces, refresh interval), manifests, and fixture.json (names to
// expect, the user settings to apply, and the harness's control URL, through
// which a test stops and restarts the controller for real).
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as vscode from 'vscode';
import type { VaultSyncApi } from '../../extension/activate.ts';
import type { TreeNode } from '../../extension/model/tree.ts';
import type { Preview } from '../../extension/model/preview.ts';
import type { TimelineEntry } from '../../extension/model/timeline.ts';
import type { MetricsPanel } from '../../extension/views/metrics-panel.ts';
import { METRIC } from '../../shared/contract/metrics.ts';

interface Fixture {
  namespace: string;
  deployment: string;
  largeSecret: string;
  manifest: string;
  webManifest: string;
  controlUrl: string;
  kubeconfig: string;
  controllerNamespace: string;
  userSettings: Record<string, unknown>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, probe: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value) return value;
    } catch (err) {
      last = err;
    }
    await sleep(200);
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${last instanceof Error ? last.message : String(last)}` : ''}`);
}

function labelOf(item: vscode.TreeItem): string {
  return typeof item.label === 'string' ? item.label : item.label?.label ?? '';
}

describe('Vault Sync extension inside VS Code', function () {
  this.timeout(90_000);
  let fixture: Fixture;
  let folder: string;
  let api: VaultSyncApi;
  let host: VaultSyncApi['host'];
  const key = () => `Deployment/${fixture.namespace}/${fixture.deployment}`;
  const settings = () => vscode.workspace.getConfiguration('vaultSync');
  const control = async (action: 'controller/stop' | 'controller/start') => {
    const res = await fetch(`${fixture.controlUrl}/${action}`, { method: 'POST' });
    assert.equal(res.status, 204, await res.text());
  };
  /** The row texts of every view, and the status bar, as a person would read them. */
  const views = () => ({
    resources: host.resources.getChildren().map((n) => labelOf(host.resources.getTreeItem(n))),
    warnings: host.warnings.getChildren().map((w) => labelOf(host.warnings.getTreeItem(w))),
    controller: host.controllerView.getChildren().map((r) => labelOf(host.controllerView.getTreeItem(r))),
    statusBar: host.statusBar.text,
  });

  before(async () => {
    folder = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath ?? '';
    assert.ok(folder, 'a workspace folder is open');
    fixture = JSON.parse(readFileSync(join(folder, 'fixture.json'), 'utf8')) as Fixture;
    // Machine-scoped settings live in user settings; code-server runs start with them, desktop runs get them here.
    for (const [k, v] of Object.entries(fixture.userSettings)) {
      if (settings().get(k.replace(/^vaultSync\./, '')) !== v) await settings().update(k.replace(/^vaultSync\./, ''), v, vscode.ConfigurationTarget.Global);
    }
    const extension = vscode.extensions.getExtension<VaultSyncApi>('vault-sync-io.vault-sync');
    assert.ok(extension, 'extension is installed');
    api = await extension.activate();
    await api.ready;
    host = api.host;
  });

  it('the Resources tree shows context -> namespace -> resources with status, age and keys; the path once', async () => {
    await until('the Deployment synced in the tree', () => host.resources.index.state(key())?.status === 'Synced');
    const ctx = host.resources.getChildren().find((n) => n.kind === 'context');
    assert.ok(ctx, 'context node');
    const ns = host.resources.getChildren(ctx).find((n) => n.kind === 'namespace' && n.namespace === fixture.namespace);
    assert.ok(ns, 'namespace node');
    const res = host.resources.getChildren(ns).find((n) => n.kind === 'resource' && n.key === key()) as TreeNode;
    const item = host.resources.getTreeItem(res);
    assert.equal(labelOf(item), fixture.deployment);
    assert.match(String(item.description), /^\d+[smhd] ago$/, 'the row leads with the age; the path is the child row');
    assert.equal((item.iconPath as vscode.ThemeIcon).id, 'pass-filled');
    assert.equal(item.contextValue, 'vaultSync.resource.Deployment');
    assert.match((item.tooltip as vscode.MarkdownString).value, /password/);
    const [path] = host.resources.getChildren(res);
    assert.equal(labelOf(host.resources.getTreeItem(path!)), `secret/data/${fixture.namespace}/web`);
    const keys = host.resources.getChildren(path).map((k) => labelOf(host.resources.getTreeItem(k)));
    assert.deepEqual(keys.sort(), ['password', 'username']);
  });

  it('the Controller view reads /state and /metrics through the service proxy', async () => {
    const summary = await until('controller summary', async () => {
      await host.pollController();
      return host.controllerSummary?.health === 'ready' ? host.controllerSummary : undefined;
    });
    assert.equal(summary.watchHealth, 'healthy');
    assert.ok(summary.leader.length > 0);
    assert.ok(summary.queueDepth !== undefined);
    const rows = views().controller;
    assert.ok(rows.some((r) => r.startsWith('Leader: ')), rows.join(' | '));
    assert.ok(rows.some((r) => r.startsWith('Throttle wait p50/p95: ')));
    assert.ok(rows.some((r) => /^Vault rate: \d+(\.\d)?\/s$/.test(r)), 'the effective rate, at the configured one while Vault does not push back');
    assert.ok(rows.some((r) => r.startsWith('Failing resources: ')));
  });

  it('resync round trip, then the timeline lists it: Event, ledger and a new KV version', async () => {
    const node = host.resources.index.resourceNode(key());
    const requested = await vscode.commands.executeCommand<string>('vaultSync.resync', node);
    assert.ok(requested, 'the command returns the requested value');
    await until('the controller handled the resync and the tree shows it', () => {
      const s = host.resources.index.state(key());
      return s?.status === 'Synced' && s.lastSync !== undefined && Date.parse(s.lastSync) >= Date.parse(requested) - 1000;
    });
    const events = await vscode.commands.executeCommand<{ reason: string; note: string }[]>('vaultSync.showEvents', node);
    assert.ok(events?.some((e) => e.reason === 'Synced' && e.note.includes('resync-requested')), JSON.stringify(events));
    const timeline = await until('the timeline shows the resync', async () => {
      const t = await vscode.commands.executeCommand<{ entries: TimelineEntry[]; notes: string[] }>('vaultSync.showHistory', node);
      return t?.entries.some((e) => e.what === 'resync requested' && e.detail === `${requested}: handled`) && t;
    });
    const kinds = timeline.entries.map((e) => `${e.source}:${e.what}`);
    assert.ok(kinds.includes('event:Synced'), kinds.join(', '));
    assert.ok(kinds.includes('ledger:last sync: Synced'), kinds.join(', '));
    const versions = timeline.entries.filter((e) => e.source === 'vault');
    assert.ok(versions.length >= 1 && versions.every((v) => v.detail.startsWith(`secret/data/${fixture.namespace}/web: `)), JSON.stringify(timeline));
    const newest = versions[0]!;
    assert.ok(Date.parse(newest.time) >= Date.parse(requested) - 1000, `the resync wrote a new version: ${newest.time} vs ${requested}`);
    assert.ok(!JSON.stringify(timeline).includes('"pw"'), 'no values');
  });

  it('a large secret shows in Warnings, the status bar totals and the Problems panel; a Warnings row reveals its resource', async () => {
    const largeKey = `Secret/${fixture.namespace}/${fixture.largeSecret}`;
    await until('large secret in the tree', () => host.resources.index.state(largeKey)?.large);
    const warnings = await until('warning listed', () => host.warnings.getChildren().filter((w) => 'kind' in w && w.kind === 'large' && w.resourceKey === largeKey).length > 0 && host.warnings.getChildren());
    const row = warnings.find((w) => 'resourceKey' in w && w.resourceKey === largeKey)!;
    assert.match(labelOf(host.warnings.getTreeItem(row)), new RegExp(`^${fixture.largeSecret}$`));
    assert.match(String(host.warnings.getTreeItem(row).description), /^large: 100\.\d KiB$/);
    assert.ok(host.resources.index.totals().large >= 1);
    assert.match(host.statusBar.text, /1 large/);
    const uri = vscode.Uri.file(join(folder, fixture.manifest));
    const diagnostics = await until('Problems entry on the manifest', async () => {
      await host.diagnostics.refreshFile(uri);
      const d = vscode.languages.getDiagnostics(uri).filter((x) => x.code === undefined);
      return d.length > 0 && d;
    });
    assert.equal(diagnostics[0]!.severity, vscode.DiagnosticSeverity.Warning);
    assert.match(diagnostics[0]!.message, /large secret: .* is 100\.\d KiB/, 'same unit as the tree');
    const command = host.warnings.getTreeItem(row).command!;
    await vscode.commands.executeCommand(command.command, ...(command.arguments ?? []));
    await until('the resource is selected in Resources', () => api.resourcesView.selection.some((n) => n.kind === 'resource' && n.key === largeKey));
  });

  it('raw metrics open as a read-only document', async () => {
    const length = await vscode.commands.executeCommand<number>('vaultSync.openRawMetrics');
    assert.ok((length ?? 0) > 1000);
    const doc = vscode.window.activeTextEditor?.document;
    assert.equal(doc?.uri.scheme, 'vault-sync-metrics');
    assert.ok(doc?.getText().includes(METRIC.queueDepth));
    await vscode.commands.executeCommand('workbench.action.closeActiveEditor');
  });

  it('the metrics panel opens, receives at least two scrapes, and stops scraping when closed', async () => {
    const panel = (await vscode.commands.executeCommand<MetricsPanel>('vaultSync.openMetrics'))!;
    assert.ok(panel.scraping);
    await until('two scrapes by the panel', () => panel.scrapes >= 2, 20_000);
    const charts = host.metrics.window(300_000, Date.now());
    assert.equal(charts.length, 8);
    for (const c of charts) assert.ok(c.xs.length >= 2 && c.series.length >= 1, `${c.id}: ${c.xs.length} points`);
    panel.dispose();
    assert.equal(panel.scraping, false);
    const after = panel.scrapes;
    await sleep(6000);
    assert.equal(panel.scrapes, after, 'no scrape after closing');
    assert.equal(api.metricsPanel(), undefined);
  });

  it('typing a bad annotation in an open manifest produces the diagnostic', async () => {
    const uri = vscode.Uri.file(join(folder, 'typing.yaml'));
    writeFileSync(uri.fsPath, ['apiVersion: apps/v1', 'kind: Deployment', 'metadata:', '  name: typed', `  namespace: ${fixture.namespace}`, '  annotations:', '    vault-sync.io/path: secret/data/typed', ''].join('\n'));
    const editor = await vscode.window.showTextDocument(uri);
    await sleep(500);
    assert.deepEqual(vscode.languages.getDiagnostics(uri).filter((d) => d.source === 'vault-sync'), [], 'a good manifest has none');
    await editor.edit((e) => e.insert(new vscode.Position(7, 0), '    vault-sync.io/secrets: \'[{"name":"web-db","kyes":["a"]}]\'\n'));
    const d = await until('the diagnostic while typing', () => vscode.languages.getDiagnostics(uri).filter((x) => x.source === 'vault-sync' && /kyes/.test(x.message)).at(0), 10_000);
    assert.equal(d.severity, vscode.DiagnosticSeverity.Error);
    assert.equal(d.range.start.line, 7);
    assert.match(d.message, /unknown field\(s\) "kyes"; fix: use only "name", "keys" and "prefix"/);
    await editor.edit((e) => e.insert(new vscode.Position(8, 0), '    vault-sync.io/reconcile: every 5 minutes\n'));
    await until('the reconcile warning', () => vscode.languages.getDiagnostics(uri).some((x) => x.severity === vscode.DiagnosticSeverity.Warning && /every 5 minutes/.test(x.message)), 10_000);
    await vscode.commands.executeCommand('workbench.action.revertAndCloseActiveEditor');
  });

  it('the preview lists the paths and keys the manifest would write, compared with Vault today', async () => {
    const uri = vscode.Uri.file(join(folder, fixture.webManifest));
    await vscode.window.showTextDocument(uri);
    const lenses = await until('a Preview Vault Sync CodeLens', async () => {
      const l = await vscode.commands.executeCommand<vscode.CodeLens[]>('vscode.executeCodeLensProvider', uri);
      return l?.some((x) => x.command?.title === 'Preview Vault Sync') && l;
    });
    const lens = lenses.find((x) => x.command?.title === 'Preview Vault Sync')!;
    const preview = (await vscode.commands.executeCommand<Preview>(lens.command!.command, ...(lens.command!.arguments ?? [])))!;
    assert.deepEqual(preview.errors, []);
    assert.equal(preview.mode, 'custom');
    assert.deepEqual(preview.documents.map((d) => [d.path, d.keys, d.sources, d.change]), [[`secret/data/${fixture.namespace}/web`, ['password', 'username'], ['web-db'], 'same keys']]);
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  });

  it('toggling adopt asks first and patches the annotation with the user\'s credentials', async () => {
    const asked: string[] = [];
    const saved = host.ui;
    try {
      host.ui = { confirm: async (message) => (asked.push(message), false) };
      assert.equal(await vscode.commands.executeCommand('vaultSync.toggleAdopt', key()), undefined, 'declined: nothing patched');
      host.ui = { confirm: async (message) => (asked.push(message), true) };
      assert.equal(await vscode.commands.executeCommand('vaultSync.toggleAdopt', key()), true);
      const meta = await host.connection().http.request('GET', `/apis/apps/v1/namespaces/${fixture.namespace}/deployments/${fixture.deployment}`);
      assert.equal(meta.metadata.annotations['vault-sync.io/adopt'], 'true');
      assert.equal(await vscode.commands.executeCommand('vaultSync.toggleAdopt', key()), false);
      assert.equal(asked.length, 3);
      assert.match(asked[0]!, /Turn on adopt for Deployment/);
    } finally {
      host.ui = saved;
    }
  });

  it('a stopped controller puts every view into the disconnected state, and a resync then warns', async () => {
    await control('controller/stop');
    try {
      await until('the controller seen as down', async () => {
        await host.pollController();
        return host.connectionState.controller.state === 'down';
      });
      const v = views();
      assert.equal(v.resources[0], 'Controller unreachable: states may be stale', JSON.stringify(v));
      assert.equal(v.warnings[0], 'Controller unreachable: states may be stale');
      assert.equal(v.controller[0], 'Controller unreachable: states may be stale');
      assert.match(v.statusBar, /controller unreachable/);
      await host.diagnostics.refreshFile(vscode.Uri.file(join(folder, fixture.manifest)));
      assert.ok(vscode.languages.getDiagnostics(vscode.Uri.file(join(folder, fixture.manifest))).some((d) => /may be stale/.test(d.message)), 'Problems too');
      const asked: string[] = [];
      const saved = host.ui;
      host.ui = { confirm: async (message) => (asked.push(message), false) };
      try {
        assert.equal(await vscode.commands.executeCommand('vaultSync.resync', key()), undefined, 'not sent');
      } finally {
        host.ui = saved;
      }
      assert.match(asked[0] ?? '', /controller is unreachable: nobody will process a resync/);
      assert.equal(host.resources.index.state(key())?.status, 'Synced', 'no resync request was patched');
    } finally {
      await control('controller/start');
    }
    await until('the controller back', async () => {
      await host.pollController();
      return host.connectionState.controller.state === 'up';
    }, 60_000);
    assert.equal(views().resources[0]?.startsWith('Controller'), false, 'banner gone');
  });

  it('a broken kubeconfig puts every view into the disconnected state; fixing it restores them', async () => {
    const broken = join(folder, '.broken-kubeconfig');
    // Same credentials, an address where nothing listens: the cluster is unreachable.
    const kubeconfig = JSON.parse(readFileSync(fixture.kubeconfig, 'utf8')) as { clusters: { cluster: { server: string } }[] };
    for (const c of kubeconfig.clusters) c.cluster.server = 'https://127.0.0.1:9';
    writeFileSync(broken, JSON.stringify(kubeconfig));
    try {
      await settings().update('kubeconfig', broken, vscode.ConfigurationTarget.Global);
      await until('the cluster seen as down', () => host.connectionState.cluster.state === 'down', 30_000);
      const v = views();
      assert.equal(v.resources[0], 'Cluster unreachable: states may be stale', JSON.stringify(v));
      assert.deepEqual(v.warnings, ['Cluster unreachable: states may be stale'], 'the previous cluster\'s warnings are gone');
      assert.equal(v.controller[0], 'Cluster unreachable: states may be stale');
      assert.match(v.statusBar, /disconnected/);
      await host.diagnostics.refreshFile(vscode.Uri.file(join(folder, fixture.manifest)));
      assert.deepEqual(vscode.languages.getDiagnostics(vscode.Uri.file(join(folder, fixture.manifest))).filter((d) => d.code === undefined), [], 'no live Problems from a cluster we cannot see');
      await settings().update('kubeconfig', join(folder, 'no-such-kubeconfig'), vscode.ConfigurationTarget.Global);
      await until('no kubeconfig', () => host.connectionState.cluster.state === 'down' && host.connectionState.cluster.problem.kind === 'no-kubeconfig', 30_000);
      assert.deepEqual(host.resources.getChildren(), [], 'empty, so the welcome view shows');
      assert.match(views().statusBar, /no kubeconfig/);
    } finally {
      await settings().update('kubeconfig', fixture.userSettings['vaultSync.kubeconfig'], vscode.ConfigurationTarget.Global);
    }
    await until('reconnected', () => host.connectionState.cluster.state === 'up' && host.resources.index.state(key())?.status === 'Synced', 60_000);
    await until('every view live again', async () => {
      await host.pollController();
      const v = views();
      if (/disconnected|unreachable|kubeconfig/.test([...v.resources, ...v.warnings, ...v.controller, v.statusBar].join('|'))) throw new Error(JSON.stringify({ ...v, state: host.connectionState }));
      return true;
    }, 30_000);
  });
});
