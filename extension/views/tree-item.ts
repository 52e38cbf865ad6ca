// Maps a pure ItemView onto a vscode.TreeItem.
import * as vscode from 'vscode';
import type { IconId, ItemView } from '../model/tree.ts';

const ICONS: Record<IconId, [string, string?]> = {
  synced: ['pass-filled', 'testing.iconPassed'],
  pending: ['sync', 'charts.yellow'],
  failed: ['error', 'testing.iconFailed'],
  large: ['warning', 'list.warningForeground'],
  warned: ['warning', 'list.warningForeground'],
  stale: ['circle-slash', 'disabledForeground'],
  namespace: ['symbol-namespace'],
  context: ['server-environment'],
  path: ['lock'],
  key: ['key'],
  info: ['info'],
  warning: ['warning', 'list.warningForeground'],
  error: ['error', 'errorForeground'],
};

export function toTreeItem(id: string, view: ItemView): vscode.TreeItem {
  const state = { none: vscode.TreeItemCollapsibleState.None, collapsed: vscode.TreeItemCollapsibleState.Collapsed, expanded: vscode.TreeItemCollapsibleState.Expanded }[view.collapsible];
  const item = new vscode.TreeItem(view.label, state);
  item.id = id;
  item.description = view.description;
  if (view.tooltip) item.tooltip = new vscode.MarkdownString(view.tooltip);
  const [icon, color] = ICONS[view.icon];
  item.iconPath = new vscode.ThemeIcon(icon, color ? new vscode.ThemeColor(color) : undefined);
  item.contextValue = view.contextValue;
  item.accessibilityInformation = { label: view.accessibilityLabel };
  if (view.command) item.command = { command: view.command.id, title: view.command.title, arguments: view.command.args };
  return item;
}
