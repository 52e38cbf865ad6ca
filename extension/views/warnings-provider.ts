// The Warnings view: large secrets, failed syncs, denied paths, ownership conflicts.
import * as vscode from 'vscode';
import type { Warning } from '../model/warnings.ts';
import { toTreeItem } from './tree-item.ts';

export class WarningsProvider implements vscode.TreeDataProvider<Warning> {
  readonly #changed = new vscode.EventEmitter<undefined>();
  readonly onDidChangeTreeData = this.#changed.event;
  #warnings: Warning[] = [];

  update(warnings: Warning[]): void {
    this.#warnings = warnings;
    this.#changed.fire(undefined);
  }

  getChildren(): Warning[] {
    return this.#warnings;
  }

  getTreeItem(w: Warning): vscode.TreeItem {
    const label = `${w.label}: ${w.detail}`;
    const item = toTreeItem(`warning:${w.kind}:${w.resourceKey}:${w.detail}`, {
      label: w.label, description: w.detail, icon: w.kind === 'large' ? 'large' : 'error',
      contextValue: `vaultSync.warning.${w.kind}`, collapsible: 'none', accessibilityLabel: label,
    });
    item.tooltip = label;
    return item;
  }
}
