// A status bar item with the totals: synced / failed / large.
import * as vscode from 'vscode';
import { totalsText, type Totals } from './model/tree.ts';

export class SyncStatusBar {
  readonly #item = vscode.window.createStatusBarItem('vaultSync.totals', vscode.StatusBarAlignment.Left, 50);

  constructor() {
    this.#item.name = 'Vault Sync';
    this.#item.command = 'vaultSync.resources.focus';
    this.#item.show();
  }

  update(t: Totals): void {
    this.#item.text = `$(lock) ${totalsText(t)}`;
    this.#item.tooltip = `Vault Sync: ${t.synced} synced, ${t.failed} failed, ${t.pending} pending, ${t.large} large secret(s)`;
    this.#item.backgroundColor = t.failed ? new vscode.ThemeColor('statusBarItem.errorBackground') : t.large ? new vscode.ThemeColor('statusBarItem.warningBackground') : undefined;
  }

  dispose(): void {
    this.#item.dispose();
  }
}
