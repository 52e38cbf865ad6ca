// Entry point of the VS Code extension (bundled to dist/extension.js).
// Wiring only; the views render the shared core's types through pure models.
import * as vscode from 'vscode';
import { registerCommands } from './commands.ts';
import { ExtensionHost } from './host.ts';

let host: ExtensionHost | undefined;

/** What activate() returns: used by the extension-host tests, handy for other extensions. */
export interface VaultSyncApi {
  host: ExtensionHost;
  ready: Promise<void>;
}

export function activate(context: vscode.ExtensionContext): VaultSyncApi {
  host = new ExtensionHost();
  context.subscriptions.push(
    vscode.window.createTreeView('vaultSync.resources', { treeDataProvider: host.resources, showCollapseAll: true }),
    vscode.window.createTreeView('vaultSync.controller', { treeDataProvider: host.controllerView }),
    vscode.window.createTreeView('vaultSync.warnings', { treeDataProvider: host.warnings }),
    ...registerCommands(host),
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration('vaultSync')) void host?.reconnect();
    }),
  );
  const watcher = vscode.workspace.createFileSystemWatcher('**/*.{yaml,yml}');
  watcher.onDidChange((uri) => void host?.diagnostics.refreshFile(uri));
  watcher.onDidCreate((uri) => void host?.diagnostics.refreshFile(uri));
  context.subscriptions.push(watcher);
  const ready = host.connect().catch((err) => {
    host?.output.appendLine(`connect failed: ${err instanceof Error ? err.message : String(err)}`);
  });
  return { host, ready };
}

export async function deactivate(): Promise<void> {
  await host?.dispose();
  host = undefined;
}
