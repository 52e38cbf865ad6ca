// The Controller view: leader and version, health, watch health, queue depth,
// Vault write rate, rate-limit wait p50/p95, errors by type, large secrets.
import * as vscode from 'vscode';
import { controllerRows, type ControllerRow as Row, type ControllerSummary } from '../model/controller.ts';
import { toTreeItem } from './tree-item.ts';

export class ControllerProvider implements vscode.TreeDataProvider<Row> {
  readonly #changed = new vscode.EventEmitter<undefined>();
  readonly onDidChangeTreeData = this.#changed.event;
  #rows: Row[] = controllerRows(undefined);

  update(summary: ControllerSummary | undefined, message?: string): void {
    this.#rows = controllerRows(summary, message);
    this.#changed.fire(undefined);
  }

  getChildren(): Row[] {
    return this.#rows;
  }

  getTreeItem(row: Row): vscode.TreeItem {
    const label = row.value ? `${row.label}: ${row.value}` : row.label;
    return toTreeItem(`controller:${row.id}`, { label, icon: row.icon, contextValue: 'vaultSync.controller', collapsible: 'none', accessibilityLabel: label });
  }
}
