// Command-palette and context-menu commands. Resync works by patching the
// vault-sync.io/resync-requested-at annotation with the user's credentials,
// so Kubernetes RBAC decides who may ask for one.
import * as vscode from 'vscode';
import { describeError } from './cluster.ts';
import type { ExtensionHost } from './host.ts';
import type { TreeNode } from './model/tree.ts';

type Target = { kind: 'Deployment' | 'Secret'; namespace: string; name: string };

function targetOf(host: ExtensionHost, node: TreeNode | undefined): Target | undefined {
  if (node?.kind !== 'resource') return undefined;
  const s = host.resources.index.state(node.key);
  return s && { kind: s.kind, namespace: s.namespace, name: s.name };
}

async function pickResource(host: ExtensionHost, node: TreeNode | undefined): Promise<Target | undefined> {
  const direct = targetOf(host, node);
  if (direct) return direct;
  const items = [...host.resources.index.all()].map((s) => ({ label: `${s.namespace}/${s.name}`, description: `${s.kind} · ${s.status}`, target: { kind: s.kind, namespace: s.namespace, name: s.name } as Target }));
  if (items.length === 0) {
    void vscode.window.showInformationMessage('Vault Sync: no annotated resources in this context.');
    return undefined;
  }
  return (await vscode.window.showQuickPick(items, { placeHolder: 'Resource to resync' }))?.target;
}

export function registerCommands(host: ExtensionHost): vscode.Disposable[] {
  const run = (id: string, fn: (...args: any[]) => Promise<unknown> | unknown) =>
    vscode.commands.registerCommand(id, async (...args: any[]) => {
      try {
        return await fn(...args);
      } catch (err) {
        void vscode.window.showErrorMessage(`Vault Sync: ${describeError(err)}`);
        return undefined;
      }
    });

  return [
    run('vaultSync.resync', async (node?: TreeNode) => {
      const t = await pickResource(host, node);
      if (!t) return undefined;
      const value = await host.connection().requestResync(t.kind, t.namespace, t.name);
      void vscode.window.setStatusBarMessage(`Vault Sync: resync requested for ${t.kind} ${t.namespace}/${t.name}`, 5000);
      return value;
    }),
    run('vaultSync.resyncNamespace', async (node?: TreeNode) => {
      let namespace = node?.kind === 'namespace' ? node.namespace : undefined;
      namespace ??= await vscode.window.showQuickPick(host.resources.index.namespaces(), { placeHolder: 'Namespace to resync' });
      if (!namespace) return 0;
      const states = host.resources.index.inNamespace(namespace);
      await Promise.all(states.map((s) => host.connection().requestResync(s.kind, s.namespace, s.name)));
      void vscode.window.setStatusBarMessage(`Vault Sync: resync requested for ${states.length} resource(s) in ${namespace}`, 5000);
      return states.length;
    }),
    run('vaultSync.refresh', () => host.reconnect()),
    run('vaultSync.switchContext', async (context?: string) => {
      const chosen = context ?? (await vscode.window.showQuickPick(host.connection().contexts(), { placeHolder: `Current: ${host.connection().context}` }));
      if (!chosen) return undefined;
      await vscode.workspace.getConfiguration('vaultSync').update('context', chosen, vscode.ConfigurationTarget.Global);
      await host.reconnect();
      return chosen;
    }),
    run('vaultSync.copyVaultPath', async (node?: TreeNode) => {
      const path = node?.kind === 'path' ? node.path : node?.kind === 'resource' ? host.resources.index.state(node.key)?.vaultPath : undefined;
      if (!path) return undefined;
      await vscode.env.clipboard.writeText(path);
      void vscode.window.setStatusBarMessage(`Copied ${path}`, 3000);
      return path;
    }),
    run('vaultSync.showEvents', async (node?: TreeNode) => {
      const t = await pickResource(host, node);
      if (!t) return [];
      const events = await host.connection().events(t.kind, t.namespace, t.name);
      host.output.clear();
      host.output.appendLine(`Events for ${t.kind} ${t.namespace}/${t.name} (newest first):`);
      for (const e of events) host.output.appendLine(`${e.time}  ${e.type.padEnd(7)}  ${e.reason.padEnd(18)}  ${e.note}`);
      if (events.length === 0) host.output.appendLine('(none)');
      host.output.show(true);
      return events;
    }),
    run('vaultSync.openMetrics', async () => {
      const text = await host.connection().controller('/metrics');
      const doc = await vscode.workspace.openTextDocument({ content: text, language: 'plaintext' });
      await vscode.window.showTextDocument(doc, { preview: true });
      return text.length;
    }),
  ];
}
