// Analytics (`/api/analytics`): calls and failures over time, latency by provider and by
// plugin, and the latency percentiles sampled while this page is open; each chart with
// its figures in a table.

import { h, replace, table, ms } from './dom.js';
import { get } from './api.js';
import { lineChart, barChart } from './charts.js';

export const title = 'Analytics';

const PERIODS = {
  day: { label: 'Last 24 hours, by hour', hours: 24, granularity: 'hour' },
  week: { label: 'Last 7 days, by day', hours: 24 * 7, granularity: 'day' },
};

/** Latency percentiles of every load while the page is open: the API gives them per period. */
const samples = [];
let timer = null;

function bucketLabel(text, granularity) {
  const date = new Date(text);
  if (Number.isNaN(date.getTime())) return text;
  return granularity === 'hour'
    ? date.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })
    : date.toLocaleDateString([], { month: 'short', day: 'numeric' });
}

function figures(caption, columns, rows) {
  return h('details', {}, h('summary', {}, `${caption}: the figures`), table(caption, columns, rows));
}

function latencyBars(titleText, byName) {
  const names = Object.keys(byName || {});
  if (!names.length) return h('p', {}, `${titleText}: no calls in this period.`);
  const pick = (p) => names.map((n) => Number(((byName[n].latency_ms || {})[p] || 0).toFixed(2)));
  const series = [{ name: 'p50', values: pick('p50') }, { name: 'p95', values: pick('p95') }, { name: 'p99', values: pick('p99') }];
  return h('figure', {},
    barChart({ title: titleText, description: `Latency percentiles in milliseconds for ${names.join(', ')}`, groups: names, series, unit: ' ms' }),
    h('figcaption', {}, titleText),
    figures(titleText, ['Name', 'Calls', 'p50', 'p95', 'p99'], names.map((n, i) => [n, String(byName[n].calls ?? '—'),
      ms(series[0].values[i]), ms(series[1].values[i]), ms(series[2].values[i])])));
}

function samplesChart() {
  if (samples.length < 2) {
    return h('p', { class: 'hint' }, 'Latency percentiles over the period are sampled each time this page refreshes (every 30 s while it is open); a chart appears from the second sample.');
  }
  const labels = samples.map((s) => s.at.toLocaleTimeString());
  return h('figure', {},
    lineChart({
      title: 'Request latency percentiles, sampled while this page is open',
      description: `${samples.length} samples of p50 and p95 request latency`,
      labels,
      series: [{ name: 'p50', values: samples.map((s) => s.p50) }, { name: 'p95', values: samples.map((s) => s.p95) }],
      unit: ' ms',
    }),
    h('figcaption', {}, 'Latency (p50, p95) of the period, at each refresh'));
}

export function hide() {
  if (timer) clearInterval(timer);
  timer = null;
}

export async function show(root) {
  const select = h('select', { id: 'analytics-period' }, Object.entries(PERIODS).map(([k, p]) => h('option', { value: k }, p.label)));
  const body = h('div', { id: 'analytics-body' });
  const load = async () => {
    const period = PERIODS[select.value];
    const start = new Date(Date.now() - period.hours * 3600 * 1000).toISOString();
    const answer = await get(`/api/analytics?granularity=${period.granularity}&start_date=${encodeURIComponent(start)}`);
    const data = answer.data;
    const lat = data.totals.latency_ms || {};
    samples.push({ at: new Date(), p50: Number((lat.p50 || 0).toFixed(2)), p95: Number((lat.p95 || 0).toFixed(2)) });
    if (samples.length > 120) samples.shift();
    const timeline = data.timeline || [];
    const labels = timeline.map((b) => bucketLabel(b.bucket, period.granularity));
    const series = [
      { name: 'chat calls', values: timeline.map((b) => b.chat_calls) },
      { name: 'plugin calls', values: timeline.map((b) => b.plugin_calls) },
      { name: 'failures', values: timeline.map((b) => b.failures) },
    ];
    replace(body,
      h('dl', { class: 'facts', id: 'analytics-totals' },
        h('dt', {}, 'Requests'), h('dd', {}, String(data.totals.requests)),
        h('dt', {}, 'Failures'), h('dd', {}, `${data.totals.failures} (${(100 * data.totals.failure_rate).toFixed(1)} %)`),
        h('dt', {}, 'Tokens'), h('dd', {}, String(data.totals.tokens)),
        h('dt', {}, 'Latency p50 / p95 / p99'), h('dd', {}, `${ms(lat.p50)} / ${ms(lat.p95)} / ${ms(lat.p99)}`),
        h('dt', {}, 'Jobs created'), h('dd', {}, String((data.jobs || {}).created ?? '—'))),
      h('figure', {},
        lineChart({ title: 'Calls over time', description: `Chat calls, plugin calls and failures per ${period.granularity}`, labels, series }),
        h('figcaption', {}, `Calls per ${period.granularity}`),
        figures('Calls over time', ['Bucket', 'Chat calls', 'Plugin calls', 'Failures', 'Jobs created'],
          timeline.map((b, i) => [labels[i], String(b.chat_calls), String(b.plugin_calls), String(b.failures), String(b.jobs_created)]))),
      samplesChart(),
      latencyBars('Chat latency by provider', data.chat.by_provider),
      latencyBars('Plugin call latency by plugin', data.plugins.by_plugin));
  };
  select.addEventListener('change', () => load());
  replace(root,
    h('div', { class: 'toolbar' }, h('label', { for: 'analytics-period' }, 'Period '), select,
      h('button', { type: 'button', onclick: () => load() }, 'Refresh')),
    body);
  await load();
  hide();
  timer = setInterval(() => load().catch(() => {}), 30000);
}
