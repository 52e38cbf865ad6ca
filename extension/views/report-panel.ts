// Static report webviews (no script): the per-resource timeline and the
// manifest preview. One panel per subject, reused and refreshed when asked
// again. The HTML comes from extension/webview/html.ts (escaped, strict CSP).
import { randomBytes } from 'node:crypto';
import * as vscode from 'vscode';
import { reportHtml, type ReportSection } from '../webview/html.ts';

const open = new Map<string, vscode.WebviewPanel>();

export function showReport(id: string, title: string, subtitle: string | undefined, sections: ReportSection[]): vscode.WebviewPanel {
  let panel = open.get(id);
  if (!panel) {
    panel = vscode.window.createWebviewPanel('vaultSync.report', title, vscode.ViewColumn.Active, { enableScripts: false, localResourceRoots: [] });
    open.set(id, panel);
    panel.onDidDispose(() => open.delete(id));
  } else {
    panel.reveal();
  }
  panel.title = title;
  const w = panel.webview;
  w.html = reportHtml({ cspSource: w.cspSource, nonce: randomBytes(16).toString('base64'), title, ...(subtitle ? { subtitle } : {}), sections });
  return panel;
}
