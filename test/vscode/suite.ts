// Extension-host tests (mocha BDD): run inside real VS Code (code-server, or
// desktop VS Code through .vscode-test.mjs), against the real test cluster,
// OpenBao and a live controller set up by test/vscode/run.ts. Bundled to
// dist/test/vscode-suite.cjs. The workspace folder holds .vscode/settings.json
// (kubeconfig, controller Service) and fixture.json (names to expect).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as vscode from 'vscode';
import type { VaultSyncApi } from '../../extension/activate.ts';
import type { TreeNode } from '../../extension/model/tree.ts';

interface Fixture {
  namespace: string;
  deployment: string;
  largeSecret: string;
  manifest: string;
  controllerIdentity?: string;
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
  this.timeout(60_000);
  let fixture: Fixture;
  let folder: string;
  let host: VaultSyncApi['host'];

  before(async () => {
    folder = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath ?? '';
    assert.ok(folder, 'a workspace folder is open');
    fixture = JSON.parse(readFileSync(join(folder, 'fixture.json'), 'utf8')) as Fixture;
    const extension = vscode.extensions.getExtension<VaultSyncApi>('vault-sync-io.vault-sync');
    assert.ok(extension, 'extension is installed');
    const api = await extension.activate();
    await api.ready;
    host = api.host;
  });

  it('the Resources tree shows context -> namespace -> resources with status, path and keys', async () => {
    const key = `Deployment/${fixture.namespace}/${fixture.deployment}`;
    await until('the Deployment synced in the tree', () => host.resources.index.state(key)?.status === 'Synced');
    const [ctx] = host.resources.getChildren();
    assert.equal(ctx!.kind, 'context');
    const ns = host.resources.getChildren(ctx).find((n) => n.kind === 'namespace' && n.namespace === fixture.namespace);
    assert.ok(ns, 'namespace node');
    const res = host.resources.getChildren(ns).find((n) => n.kind === 'resource' && n.key === key) as TreeNode;
    const item = host.resources.getTreeItem(res);
    assert.equal(labelOf(item), fixture.deployment);
    assert.match(String(item.description), new RegExp(`secret/data/${fixture.namespace}/web`));
    assert.equal((item.iconPath as vscode.ThemeIcon).id, 'pass-filled');
    assert.equal(item.contextValue, 'vaultSync.resource.Deployment');
    assert.match((item.tooltip as vscode.MarkdownString).value, /password/);
    const [path] = host.resources.getChildren(res);
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
    const rows = host.controllerView.getChildren().map((r) => labelOf(host.controllerView.getTreeItem(r)));
    assert.ok(rows.some((r) => r.startsWith('Leader: ')), rows.join(' | '));
    assert.ok(rows.some((r) => r.startsWith('Rate-limit wait p50 / p95: ')));
  });

  it('resync round trip: command -> annotation -> controller sync -> tree update', async () => {
    const key = `Deployment/${fixture.namespace}/${fixture.deployment}`;
    const node = host.resources.index.resourceNode(key);
    const requested = await vscode.commands.executeCommand<string>('vaultSync.resync', node);
    assert.ok(requested, 'the command returns the requested value');
    await until('the controller handled the resync and the tree shows it', () => {
      const s = host.resources.index.state(key);
      return s?.status === 'Synced' && s.lastSync !== undefined && Date.parse(s.lastSync) >= Date.parse(requested) - 1000;
    });
    const events = await vscode.commands.executeCommand<{ reason: string; note: string }[]>('vaultSync.showEvents', node);
    assert.ok(events?.some((e) => e.reason === 'Synced' && e.note.includes('resync-requested')), JSON.stringify(events));
  });

  it('a large secret shows in Warnings, the status bar totals and the Problems panel', async () => {
    const key = `Secret/${fixture.namespace}/${fixture.largeSecret}`;
    await until('large secret in the tree', () => host.resources.index.state(key)?.large);
    const warnings = await until('warning listed', () => host.warnings.getChildren().filter((w) => w.kind === 'large' && w.resourceKey === key).length > 0 && host.warnings.getChildren());
    assert.ok(warnings.some((w) => /large secret/.test(w.detail)));
    assert.ok(host.resources.index.totals().large >= 1);
    const uri = vscode.Uri.file(join(folder, fixture.manifest));
    const diagnostics = await until('Problems entry on the manifest', async () => {
      await host.diagnostics.refreshFile(uri);
      const d = vscode.languages.getDiagnostics(uri);
      return d.length > 0 && d;
    });
    assert.equal(diagnostics[0]!.severity, vscode.DiagnosticSeverity.Warning);
    assert.match(diagnostics[0]!.message, /large secret/);
  });

  it('copy Vault path and open metrics work from the palette', async () => {
    const key = `Deployment/${fixture.namespace}/${fixture.deployment}`;
    const copied = await vscode.commands.executeCommand<string>('vaultSync.copyVaultPath', host.resources.index.resourceNode(key));
    assert.equal(await vscode.env.clipboard.readText(), copied);
    const length = await vscode.commands.executeCommand<number>('vaultSync.openMetrics');
    assert.ok((length ?? 0) > 1000);
    assert.match(vscode.window.activeTextEditor?.document.getText() ?? '', /vault_sync_operator_workqueue_depth/);
  });
});
