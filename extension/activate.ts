// Entry point of the VS Code extension (bundled to dist/extension.js).
// Wiring only; the views render the shared core's types through pure models.
import * as vscode from 'vscode';
import { registerCommands } from './commands.ts';
import { ExtensionHost } from './host.ts';
import { Authoring } from './views/authoring.ts';
import { RawMetricsProvider, RAW_METRICS_URI } from './views/raw-metrics.ts';
import { MetricsPanel } from './views/metrics-panel.ts';

let host: ExtensionHost | undefined;

/** What activate() returns: used by the extension-host tests, handy for other extensions. */
export interface VaultSyncApi {
  host: ExtensionHost;
  authoring: Authoring;
  ready: Promise<void>;
  metricsPanel(): MetricsPanel | undefined;
  resourcesView: vscode.TreeView<import('./model/tree.ts').TreeNode>;
}

export function activate(context: vscode.ExtensionContext): VaultSyncApi {
  const h = (host = new ExtensionHost());
  const resourcesView = vscode.window.createTreeView('vaultSync.resources', { treeDataProvider: h.resources, showCollapseAll: true });
  const rawMetrics = new RawMetricsProvider(h);
  const authoring = new Authoring(h);
  const reveal = async (key: string) => {
    const node = h.resources.index.state(key) ? h.resources.index.resourceNode(key) : undefined;
    if (node) await resourcesView.reveal(node, { select: true, focus: true, expand: false });
  };
  context.subscriptions.push(
    resourcesView,
    vscode.window.createTreeView('vaultSync.controller', { treeDataProvider: h.controllerView }),
    vscode.window.createTreeView('vaultSync.warnings', { treeDataProvider: h.warnings }),
    vscode.workspace.registerTextDocumentContentProvider(RAW_METRICS_URI.scheme, rawMetrics),
    ...authoring.register(),
    ...registerCommands(h, { extensionUri: context.extensionUri, rawMetrics, reveal }),
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration('vaultSync')) void h.reconnect();
    }),
  );
  for (const doc of vscode.workspace.textDocuments) authoring.check(doc);
  const watcher = vscode.workspace.createFileSystemWatcher('**/*.{yaml,yml}');
  watcher.onDidChange((uri) => void h.diagnostics.refreshFile(uri));
  watcher.onDidCreate((uri) => void h.diagnostics.refreshFile(uri));
  context.subscriptions.push(watcher);
  const ready = h.connect().catch((err) => {
    h.output.appendLine(`connect failed: ${err instanceof Error ? err.message : String(err)}`);
  });
  return { host: h, authoring, ready, metricsPanel: () => MetricsPanel.current, resourcesView };
}

export async function deactivate(): Promise<void> {
  MetricsPanel.current?.dispose();
  await host?.dispose();
  host = undefined;
}
