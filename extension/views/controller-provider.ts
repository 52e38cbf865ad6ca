// The Controller view: leader and version, health, watch health, queue depth,
// Vault write rate, rate-limit wait p50/p95, failing resources (a click lists
// them), Vault errors by type, large secrets. When the controller cannot be
// read, the problem and, where one exists, the action that fixes it.
import * as vscode from 'vscode';
import type { Problem } from '../model/connection.ts';
import { controllerRows, type ControllerRow as Row, type ControllerSummary } from '../model/controller.ts';
import { toTreeItem } from './tree-item.ts';

export class ControllerProvider implements vscode.TreeDataProvider<Row> {
  readonly #changed = new vscode.EventEmitter<undefined>();
  readonly onDidChangeTreeData = this.#changed.event;
  #rows: Row[] = controllerRows(undefined);

  update(summary: ControllerSummary | undefined, problem?: Problem, failingResources = 0): void {
    this.#rows = controllerRows(summary, problem, failingResources);
    this.#changed.fire(undefined);
  }

  getChildren(): Row[] {
    return this.#rows;
  }

  getTreeItem(row: Row): vscode.TreeItem {
    const label = row.value ? `${row.label}: ${row.value}` : row.label;
    const item = toTreeItem(`controller:${row.id}`, {
      label, icon: row.icon, contextValue: 'vaultSync.controller', collapsible: 'none', accessibilityLabel: label,
      ...(row.command ? { command: row.command } : {}),
    });
    if (row.tooltip) item.tooltip = row.tooltip;
    return item;
  }
}
