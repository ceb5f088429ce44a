// Health: `/health` (overall status and services) and `/health/detailed` (probes with
// their metrics, database, providers, system, plugins that failed to load).

import { h, replace, table, badge, duration, when, ms } from './dom.js';
import { get } from './api.js';

export const title = 'Health';

function metricText(metric) {
  const value = Number(metric.value);
  if (metric.unit === 'bytes') return `${(value / (1 << 20)).toFixed(1)} MiB`;
  if (metric.unit === 'percent') return `${value.toFixed(1)} %`;
  if (metric.unit === 'seconds') return duration(value);
  return `${Number.isInteger(value) ? value : value.toFixed(2)}${metric.unit && metric.unit !== 'count' ? ` ${metric.unit}` : ''}`;
}

function services(health) {
  const rows = Object.entries(health.services || {}).map(([name, value]) => [
    name,
    typeof value === 'object' && value !== null ? badge(value.status ?? JSON.stringify(value)) : badge(value),
  ]);
  return table('Services', ['Service', 'Status'], rows);
}

function probes(detailed) {
  const rows = (detailed.probes || []).map((probe) => [
    probe.name || probe.id,
    badge(probe.status),
    probe.detail || '—',
    ms(probe.duration_ms),
    h('ul', { class: 'plain' }, (probe.metrics || []).map((m) => h('li', {}, `${m.name}: ${metricText(m)}`))),
  ]);
  return table('Health probes', ['Probe', 'Status', 'Detail', 'Took', 'Metrics'], rows);
}

/** A check's fields in words: `latency_ms: 1.3`, `loaded: 13`, `system: healthy`. */
function checkDetail(check) {
  const words = [];
  for (const [key, value] of Object.entries(check)) {
    if (key === 'status' || value === null || value === undefined) continue;
    if (typeof value === 'number') words.push(`${key}: ${Number.isInteger(value) ? value : value.toFixed(1)}`);
    else if (typeof value === 'string') words.push(`${key}: ${value}`);
    else if (Array.isArray(value)) words.push(`${key}: ${value.length ? value.join(', ') : 'none'}`);
    else if (typeof value.status === 'string') words.push(`${key}: ${value.status}${value.detail ? ` (${value.detail})` : ''}`);
    else if (typeof value === 'object') {
      const inner = Object.entries(value).map(([k, v]) => (v && typeof v === 'object' && v.status ? `${k} ${v.status}` : k));
      words.push(inner.length ? `${key}: ${inner.join(', ')}` : `${key}: none`);
    }
  }
  return check.message || check.detail || words.join('; ') || '—';
}

function checks(health) {
  const value = health.checks;
  if (!value || typeof value !== 'object') return null;
  const rows = Object.entries(value).map(([name, check]) => [
    name,
    typeof check === 'object' && check !== null ? badge(check.status ?? 'ok') : badge(check),
    typeof check === 'object' && check !== null ? checkDetail(check) : '—',
  ]);
  return table('Checks', ['Check', 'Status', 'Detail'], rows);
}

const MiB = 1 << 20;
const GiB = 1 << 30;

function system(sys) {
  const cpu = sys.cpu || {};
  const memory = sys.memory || {};
  const facts = [];
  if (cpu.cores !== undefined) facts.push(['CPU', `${cpu.cores} cores, ${Number(cpu.usage_percent || 0).toFixed(1)} % busy, load ${(cpu.load_average || []).join(' / ')}`]);
  if (memory.total_bytes) {
    facts.push(['Memory', `${(memory.used_bytes / GiB).toFixed(1)} of ${(memory.total_bytes / GiB).toFixed(1)} GiB used`]);
    facts.push(['This process', `${(memory.host_process_bytes / MiB).toFixed(0)} MiB`]);
  }
  for (const disk of sys.disks || []) {
    facts.push([`Disk ${disk.mount_point}`, `${(disk.available_bytes / GiB).toFixed(1)} of ${(disk.total_bytes / GiB).toFixed(1)} GiB free`]);
  }
  return h('dl', { class: 'facts', id: 'health-system' }, facts.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
}

export async function show(root) {
  const refresh = h('button', { type: 'button', onclick: () => show(root) }, 'Refresh');
  const [health, detailed] = await Promise.all([
    get('/health'),
    get('/health/detailed').catch((e) => ({ error: e.message })),
  ]);
  const summary = h('dl', { class: 'facts' },
    h('dt', {}, 'Status'), h('dd', { id: 'health-status' }, badge(health.status)),
    h('dt', {}, 'Version'), h('dd', {}, health.version || '—'),
    h('dt', {}, 'Up for'), h('dd', {}, duration(health.uptime)),
    h('dt', {}, 'Checked'), h('dd', {}, when(health.timestamp)));
  const parts = [h('div', { class: 'toolbar' }, refresh), summary, services(health), checks(health)];
  if (detailed.error) {
    parts.push(h('p', { class: 'error', role: 'alert' }, `Detailed health: ${detailed.error}`));
  } else {
    parts.push(probes(detailed));
    const database = detailed.database || {};
    parts.push(h('h2', {}, 'Database'), h('dl', { class: 'facts' },
      Object.entries(database).filter(([, v]) => typeof v !== 'object').flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, String(v))])));
    const failed = detailed.failed_plugins || {};
    const failedRows = Array.isArray(failed)
      ? failed.map((f) => [f.id || '?', f.error || JSON.stringify(f)])
      : Object.entries(failed).map(([id, why]) => [id, typeof why === 'string' ? why : JSON.stringify(why)]);
    parts.push(table('Plugins that failed to load', ['Plugin', 'Why'], failedRows));
    parts.push(h('h2', {}, 'System'), system(detailed.system || {}));
  }
  replace(root, ...parts);
}
