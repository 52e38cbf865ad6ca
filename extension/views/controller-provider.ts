// The Controller view: leader and version, health, watch health, queue depth,
// Vault write rate, rate-limit wait p50/p95, errors by type, large secrets.
import * as vscode from 'vscode';
import { formatSeconds, type ControllerSummary } from '../model/controller.ts';
import { toTreeItem } from './tree-item.ts';

interface Row {
  id: string;
  label: string;
  value: string;
  icon: 'info' | 'warning' | 'error' | 'synced';
}

export function controllerRows(summary: ControllerSummary | undefined, message?: string): Row[] {
  if (message) return [{ id: 'message', label: message, value: '', icon: 'warning' }];
  if (!summary) return [{ id: 'loading', label: 'Reading the controller…', value: '', icon: 'info' }];
  const errors = Object.entries(summary.errorsByType);
  return [
    { id: 'leader', label: 'Leader', value: summary.leader, icon: 'info' },
    { id: 'version', label: 'Version', value: summary.version, icon: 'info' },
    { id: 'health', label: 'Health', value: summary.health, icon: summary.health === 'ready' ? 'synced' : 'error' },
    { id: 'watches', label: 'Watches', value: summary.watchHealth, icon: summary.watchHealth === 'healthy' ? 'synced' : 'error' },
    { id: 'queue', label: 'Queue depth', value: String(summary.queueDepth ?? 'no data'), icon: 'info' },
    { id: 'writes', label: 'Vault writes', value: summary.vaultWriteRate === undefined ? 'measuring…' : `${summary.vaultWriteRate.toFixed(2)}/s`, icon: 'info' },
    { id: 'wait', label: 'Rate-limit wait p50 / p95', value: `${formatSeconds(summary.rateLimitWaitP50)} / ${formatSeconds(summary.rateLimitWaitP95)}`, icon: 'info' },
    { id: 'errors', label: 'Errors', value: errors.length ? errors.map(([k, v]) => `${k}=${v}`).join(', ') : 'none', icon: errors.length ? 'warning' : 'synced' },
    { id: 'large', label: 'Large secrets', value: String(summary.largeSecrets ?? 'no data'), icon: summary.largeSecrets ? 'warning' : 'synced' },
  ];
}

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
