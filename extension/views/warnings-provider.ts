// The Warnings view: failed syncs, denied paths, ownership conflicts,
// configuration warnings and large secrets. A click reveals the resource in
// the Resources view; the context menu offers Resync, Show Events and Open
// Manifest. When the cluster is unreachable the list is cleared (it would be
// the previous cluster's); when only the controller is down it stays, under
// a banner.
import * as vscode from 'vscode';
import { clusterStale, type ConnectionState } from '../model/connection.ts';
import { messageView } from '../model/items/message.ts';
import type { MessageNode } from '../model/tree.ts';
import type { Warning } from '../model/warnings.ts';
import { bannerNodes } from './resources-provider.ts';
import { toTreeItem } from './tree-item.ts';

export type WarningRow = Warning | MessageNode;

export class WarningsProvider implements vscode.TreeDataProvider<WarningRow> {
  readonly #changed = new vscode.EventEmitter<undefined>();
  readonly onDidChangeTreeData = this.#changed.event;
  #warnings: Warning[] = [];
  #connection: ConnectionState | undefined;

  update(warnings: Warning[]): void {
    this.#warnings = warnings;
    this.#changed.fire(undefined);
  }

  setConnection(c: ConnectionState): void {
    this.#connection = c;
    this.#changed.fire(undefined);
  }

  getChildren(): WarningRow[] {
    const c = this.#connection;
    const banners = c ? bannerNodes(c) : [];
    if (c && clusterStale(c)) return banners;
    return [...banners, ...this.#warnings];
  }

  getTreeItem(w: WarningRow): vscode.TreeItem {
    if ('text' in w) return toTreeItem(`warnings:${w.id}`, messageView(w));
    const item = toTreeItem(`warning:${w.kind}:${w.resourceKey}:${w.detail}`, {
      label: w.label, description: w.detail, icon: w.kind === 'large' || w.kind === 'config' ? 'large' : 'error',
      contextValue: `vaultSync.warning.${w.kind}`, collapsible: 'none', accessibilityLabel: `${w.resourceKey}: ${w.detail}`,
      command: { id: 'vaultSync.reveal', title: 'Reveal in Resources', args: [w.resourceKey] },
    });
    item.tooltip = w.tooltip;
    return item;
  }
}
