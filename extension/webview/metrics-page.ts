// Runs inside the "Vault Sync: Controller Metrics" webview (bundled for the
// browser by esbuild into dist/webview/metrics.js, no CDN). Draws the
// charts the extension host sends (extension/model/series.ts) with uPlot.
//
// Contract with the host (extension/views/metrics-panel.ts):
//   host -> page  { type: 'data', windowMs, charts: ChartData[], scrapes, error? }
//   page -> host  { type: 'ready' } once loaded, { type: 'window', ms } on a window change
// Colours come from VS Code's theme variables (--vscode-charts-*), re-read
// when the theme changes. The page holds no data of its own and carries no
// value, path or name: only what /metrics exposes.
//
// For tests and the bench, each chart's section carries data-points and
// data-series, and <body> data-last-draw-ms (the synchronous part of the
// last update) and data-painted-at (when a canvas was last drawn).
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import type { ChartData } from '../model/series.ts';

declare function acquireVsCodeApi(): { postMessage(message: unknown): void };

interface DataMessage { type: 'data'; windowMs: number; charts: ChartData[]; scrapes: number; error?: string }

const vscode = acquireVsCodeApi();
const root = document.getElementById('charts')!;
const status = document.getElementById('status')!;
const charts = new Map<string, { plot: uPlot; section: HTMLElement; series: string; el: HTMLElement }>();

const PALETTE = ['--vscode-charts-blue', '--vscode-charts-orange', '--vscode-charts-green', '--vscode-charts-red', '--vscode-charts-purple', '--vscode-charts-yellow'];

function themeColour(name: string, fallback: string): string {
  return getComputedStyle(document.body).getPropertyValue(name).trim() || fallback;
}

function colours() {
  return {
    series: PALETTE.map((v) => themeColour(v, '#888')),
    axis: themeColour('--vscode-foreground', '#ccc'),
    grid: themeColour('--vscode-editorWidget-border', themeColour('--vscode-panel-border', '#444')),
    font: `11px ${themeColour('--vscode-font-family', 'sans-serif')}`,
  };
}

/** Legend values. */
function format(value: number | null | undefined, unit: string): string {
  if (value === null || value === undefined || Number.isNaN(value)) return '–';
  if (unit === 's') return value === 0 ? '0' : value < 0.001 ? '<1 ms' : value < 1 ? `${(value * 1000).toFixed(0)} ms` : `${value.toFixed(2)} s`;
  return Math.abs(value) >= 100 || Number.isInteger(value) ? value.toFixed(0) : Math.abs(value) >= 1 ? value.toFixed(2) : value.toFixed(3);
}

/** Axis ticks: as few digits as the step needs. */
function tick(value: number, unit: string, step: number): string {
  if (unit === 's') return value < 1 ? `${+(value * 1000).toFixed(step * 1000 < 1 ? 1 : 0)} ms` : `${+value.toFixed(1)} s`;
  return String(+value.toFixed(step >= 1 ? 0 : Math.min(3, Math.ceil(-Math.log10(step)))));
}

/** A flat line of zeros still gets a readable axis (0 to 1 req/s, 0 to 10 ms). */
const MIN_TOP: Record<string, number> = { s: 0.01 };

function options(chart: ChartData, width: number, windowMs: number): uPlot.Options {
  const c = colours();
  const axis = { stroke: c.axis, font: c.font, grid: { stroke: c.grid, width: 1 }, ticks: { stroke: c.grid, width: 1 } };
  return {
    width, height: 170,
    scales: {
      // The whole selected window, ending at the newest scrape.
      x: { time: true, range: (_u, _min, max) => [max - windowMs / 1000, max] },
      y: { range: (_u, min, max) => [Math.min(0, min ?? 0), Math.max((max ?? 0) * 1.15, MIN_TOP[chart.unit] ?? 1)] },
    },
    axes: [axis, { ...axis, size: 55, values: (_u, ticks) => ticks.map((t) => tick(t, chart.unit, Math.abs((ticks[1] ?? t) - (ticks[0] ?? 0)) || 1)) }],
    legend: { live: true },
    cursor: { drag: { x: false, y: false } },
    // When the canvas was last drawn (uPlot draws in a microtask after setData): the bench reads it.
    hooks: { draw: [() => (document.body.dataset.paintedAt = performance.now().toFixed(2))] },
    series: [
      {},
      ...chart.series.map((label, i) => ({
        label, stroke: c.series[i % c.series.length], width: label === 'all' ? 2 : 1.5,
        points: { show: false }, spanGaps: false,
        value: (_u: uPlot, v: number | null) => format(v, chart.unit),
      })),
    ],
  };
}

function chartWidth(): number {
  // Two columns when there is room for two charts of 420 px.
  const columns = root.clientWidth >= 860 ? 2 : 1;
  return Math.max(300, Math.floor((root.clientWidth - (columns - 1) * 16) / columns) - 4);
}

let drawnWindow = 0;

function draw(msg: DataMessage): void {
  const started = performance.now();
  const width = chartWidth();
  if (drawnWindow !== msg.windowMs) {
    // The x range depends on the window: rebuild.
    for (const { plot, section } of charts.values()) {
      plot.destroy();
      section.remove();
    }
    charts.clear();
    drawnWindow = msg.windowMs;
  }
  for (const chart of msg.charts) {
    const data = [chart.xs, ...chart.ys] as uPlot.AlignedData;
    const series = chart.series.join('|');
    let entry = charts.get(chart.id);
    if (entry && entry.series !== series) {
      entry.plot.destroy();
      entry.section.remove();
      charts.delete(chart.id);
      entry = undefined;
    }
    if (!entry) {
      const section = document.createElement('section');
      section.className = 'chart';
      section.dataset.chart = chart.id;
      const h = document.createElement('h2');
      h.textContent = `${chart.title} (${chart.unit})`;
      const el = document.createElement('div');
      section.append(h, el);
      // Keep the order the host gives.
      const next = [...root.children].find((s) => CHART_ORDER.indexOf((s as HTMLElement).dataset.chart ?? '') > CHART_ORDER.indexOf(chart.id));
      root.insertBefore(section, next ?? null);
      entry = { plot: new uPlot(options(chart, width, msg.windowMs), data, el), section, series, el };
      charts.set(chart.id, entry);
    } else {
      entry.plot.setData(data);
    }
    entry.section.dataset.points = String(chart.xs.length);
    entry.section.dataset.series = series;
  }
  document.body.dataset.lastDrawMs = (performance.now() - started).toFixed(2);
  status.textContent = msg.error ?? `${msg.scrapes} scrape(s) this session · showing the last ${msg.windowMs >= 3_600_000 ? '1 h' : `${Math.round(msg.windowMs / 60_000)} min`}`;
  status.className = msg.error ? 'error' : '';
  document.body.dataset.scrapes = String(msg.scrapes);
}

let CHART_ORDER: string[] = [];
let last: DataMessage | undefined;

window.addEventListener('message', (event: MessageEvent) => {
  const msg = event.data as DataMessage;
  if (msg?.type !== 'data') return;
  CHART_ORDER = msg.charts.map((c) => c.id);
  last = msg;
  draw(msg);
});

for (const button of document.querySelectorAll<HTMLButtonElement>('button[data-window]')) {
  button.addEventListener('click', () => {
    for (const b of document.querySelectorAll('button[data-window]')) b.setAttribute('aria-pressed', String(b === button));
    vscode.postMessage({ type: 'window', ms: Number(button.dataset.window) });
  });
}

// Theme change (VS Code swaps body classes) or resize: rebuild with fresh colours and width.
const rebuild = () => {
  for (const { plot, section } of charts.values()) {
    plot.destroy();
    section.remove();
  }
  charts.clear();
  if (last) draw(last);
};
new MutationObserver(rebuild).observe(document.body, { attributes: true, attributeFilter: ['class'] });
let resizeTimer: ReturnType<typeof setTimeout> | undefined;
window.addEventListener('resize', () => {
  clearTimeout(resizeTimer);
  resizeTimer = setTimeout(() => {
    const width = chartWidth();
    for (const { plot } of charts.values()) plot.setSize({ width, height: 170 });
  }, 100);
});

vscode.postMessage({ type: 'ready' });
