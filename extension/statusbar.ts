// A status bar item with the totals (synced · failed · pending · large), or
// the connection problem when the cluster or the controller is unreachable.
import * as vscode from 'vscode';
import { statusBarProblem, type ConnectionState } from './model/connection.ts';
import { totalsText, type Totals } from './model/tree.ts';

export class SyncStatusBar {
  readonly #item = vscode.window.createStatusBarItem('vaultSync.totals', vscode.StatusBarAlignment.Left, 50);
  #totals: Totals = { synced: 0, failed: 0, pending: 0, large: 0 };
  #connection: ConnectionState | undefined;

  constructor() {
    this.#item.name = 'Vault Sync';
    this.#item.command = 'vaultSync.resources.focus';
    this.#item.show();
  }

  get text(): string {
    return this.#item.text;
  }

  update(t: Totals): void {
    this.#totals = t;
    this.#render();
  }

  setConnection(c: ConnectionState): void {
    this.#connection = c;
    this.#render();
  }

  #render(): void {
    const t = this.#totals;
    const problem = this.#connection ? statusBarProblem(this.#connection) : undefined;
    if (problem && this.#connection?.cluster.state === 'down') {
      this.#item.text = `$(debug-disconnect) Vault Sync: ${problem}`;
      this.#item.tooltip = 'Vault Sync: not connected to the cluster; what the views showed before may be stale';
      this.#item.backgroundColor = new vscode.ThemeColor('statusBarItem.warningBackground');
      return;
    }
    this.#item.text = problem ? `$(warning) ${problem} · ${totalsText(t)}` : `$(lock) ${totalsText(t)}`;
    this.#item.tooltip = `Vault Sync: ${t.synced} synced, ${t.failed} failed, ${t.pending} pending, ${t.large} large secret(s)${problem ? `; ${problem}: states may be stale` : ''}`;
    this.#item.backgroundColor = t.failed ? new vscode.ThemeColor('statusBarItem.errorBackground') : t.large || problem ? new vscode.ThemeColor('statusBarItem.warningBackground') : undefined;
  }

  dispose(): void {
    this.#item.dispose();
  }
}
