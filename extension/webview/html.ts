// The HTML of the extension's webviews, as pure functions of what they show
// (no vscode import: the panels in extension/views/ pass in the webview's
// CSP source and resource URIs).
//
// Every page has a strict Content-Security-Policy: nothing but the
// extension's own bundled script (by nonce) and stylesheet, no inline
// script, no network (connect-src none: data arrives by postMessage), no
// remote images. Report pages (timeline, preview) run no script at all.
// Colours come from VS Code's CSS variables, so every theme works.

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

export interface PageAssets {
  cspSource: string;
  nonce: string;
}

function csp(a: PageAssets, script: boolean): string {
  return [
    "default-src 'none'",
    `style-src ${a.cspSource} 'nonce-${a.nonce}'`,
    `img-src ${a.cspSource} data:`,
    `font-src ${a.cspSource}`,
    script ? `script-src 'nonce-${a.nonce}'` : '',
  ].filter(Boolean).join('; ');
}

const BASE_STYLE = `
  body { font-family: var(--vscode-font-family); font-size: var(--vscode-font-size); color: var(--vscode-foreground); background: var(--vscode-editor-background); padding: 0 16px 16px; }
  h1 { font-size: 1.3em; font-weight: 600; margin: 12px 0 4px; }
  h2 { font-size: 1em; font-weight: 600; margin: 14px 0 4px; }
  .muted, .status { color: var(--vscode-descriptionForeground); }
  .error { color: var(--vscode-errorForeground); }
  .warning { color: var(--vscode-editorWarning-foreground); }
  .ok { color: var(--vscode-testing-iconPassed); }
  table { border-collapse: collapse; width: 100%; }
  th, td { text-align: left; padding: 3px 8px 3px 0; vertical-align: top; border-bottom: 1px solid var(--vscode-editorWidget-border, transparent); }
  th { color: var(--vscode-descriptionForeground); font-weight: normal; }
  code { font-family: var(--vscode-editor-font-family); }
  .tag { display: inline-block; padding: 0 6px; border-radius: 8px; background: var(--vscode-badge-background); color: var(--vscode-badge-foreground); font-size: 0.9em; }
`;

export function metricsHtml(a: PageAssets & { scriptUri: string; styleUri: string }): string {
  return `<!DOCTYPE html>
<html lang="en"><head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${csp(a, true)}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="${escapeHtml(a.styleUri)}">
<style nonce="${a.nonce}">${BASE_STYLE}
  header { display: flex; align-items: baseline; gap: 12px; flex-wrap: wrap; }
  button { background: var(--vscode-button-secondaryBackground); color: var(--vscode-button-secondaryForeground); border: none; padding: 3px 10px; cursor: pointer; }
  button[aria-pressed="true"] { background: var(--vscode-button-background); color: var(--vscode-button-foreground); }
  #charts { display: grid; grid-template-columns: 1fr; gap: 4px 16px; }
  @media (min-width: 860px) { #charts { grid-template-columns: 1fr 1fr; } }
  section.chart h2 { margin-top: 10px; }
  .u-legend { color: var(--vscode-foreground); font-size: 11px; }
  .u-legend .u-marker { border-radius: 2px; }
</style>
<title>Vault Sync: Controller Metrics</title>
</head><body>
<header><h1>Controller metrics</h1>
<span role="group" aria-label="Window"><button data-window="300000" aria-pressed="true">5 min</button> <button data-window="3600000" aria-pressed="false">1 h</button></span>
<span id="status" class="status">waiting for the first scrape…</span></header>
<div id="charts"></div>
<script nonce="${a.nonce}" src="${escapeHtml(a.scriptUri)}"></script>
</body></html>`;
}

/** One section of a report page: a heading and a table (cells are plain text, escaped here). */
export interface ReportSection {
  heading: string;
  note?: string;
  columns: string[];
  rows: { cells: string[]; tone?: 'error' | 'warning' | 'ok' | 'muted'; id?: string }[];
  empty?: string;
}

export function reportHtml(a: PageAssets & { title: string; subtitle?: string; sections: ReportSection[] }): string {
  const section = (s: ReportSection) => `<section data-section="${escapeHtml(s.heading)}">
<h2>${escapeHtml(s.heading)}</h2>${s.note ? `<p class="muted">${escapeHtml(s.note)}</p>` : ''}
${s.rows.length === 0 ? `<p class="muted">${escapeHtml(s.empty ?? 'none')}</p>` : `<table><thead><tr>${s.columns.map((c) => `<th>${escapeHtml(c)}</th>`).join('')}</tr></thead><tbody>
${s.rows.map((r) => `<tr${r.tone ? ` class="${r.tone}"` : ''}${r.id ? ` data-row="${escapeHtml(r.id)}"` : ''}>${r.cells.map((c) => `<td>${escapeHtml(c)}</td>`).join('')}</tr>`).join('\n')}
</tbody></table>`}
</section>`;
  return `<!DOCTYPE html>
<html lang="en"><head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${csp(a, false)}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<style nonce="${a.nonce}">${BASE_STYLE}</style>
<title>${escapeHtml(a.title)}</title>
</head><body>
<h1>${escapeHtml(a.title)}</h1>${a.subtitle ? `<p class="muted">${escapeHtml(a.subtitle)}</p>` : ''}
${a.sections.map(section).join('\n')}
</body></html>`;
}
