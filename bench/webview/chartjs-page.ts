// Bench only: the same charts as extension/webview/metrics-page.ts, drawn
// with Chart.js instead of uPlot, so bench/extension.ts can measure the two
// libraries side by side (bundle size, first render, update per scrape).
// Same message protocol; no animation, pre-parsed data, as fast as Chart.js
// is told to be.
import { CategoryScale, Chart, Legend, LinearScale, LineController, LineElement, PointElement } from 'chart.js';
import type { ChartData } from '../../extension/model/series.ts';

Chart.register(LineController, LineElement, PointElement, LinearScale, CategoryScale, Legend);

const root = document.getElementById('charts')!;
const charts = new Map<string, Chart>();
const PALETTE = ['#3794ff', '#d18616', '#89d185', '#f14c4c', '#b180d7', '#cca700'];

window.addEventListener('message', (event: MessageEvent) => {
  const msg = event.data as { type: string; charts: ChartData[] };
  if (msg?.type !== 'data') return;
  const started = performance.now();
  for (const c of msg.charts) {
    const datasets = c.series.map((label, i) => ({
      label, data: c.xs.map((x, j) => ({ x, y: c.ys[i]![j] ?? null })), borderColor: PALETTE[i % PALETTE.length], pointRadius: 0, borderWidth: 1.5, spanGaps: false,
    }));
    let chart = charts.get(c.id);
    if (!chart) {
      const section = document.createElement('section');
      section.className = 'chart';
      const canvas = document.createElement('canvas');
      canvas.width = 600;
      canvas.height = 170;
      section.append(canvas);
      root.append(section);
      chart = new Chart(canvas, {
        type: 'line', data: { datasets },
        options: { animation: false, parsing: false, normalized: true, responsive: false, scales: { x: { type: 'linear' }, y: { beginAtZero: true } }, plugins: { legend: { display: true } } },
      });
      charts.set(c.id, chart);
    } else {
      chart.data.datasets = datasets;
      chart.update('none');
    }
  }
  document.body.dataset.lastDrawMs = (performance.now() - started).toFixed(2);
  // Chart.js draws synchronously (animation off): painted when the handler returns.
  document.body.dataset.paintedAt = performance.now().toFixed(2);
});
