// One plugin: what it asks for and what was granted, pending permissions with the change a
// grant makes, per-call limits, call figures, tools, the audit of what the host denied it,
// and enable / disable / uninstall.

import { h, replace, table, badge, ms, when, list, announce } from './dom.js';
import { api, get, post } from './api.js';

const KINDS = ['network', 'files', 'env', 'secrets', 'project_dir', 'memory_mb', 'timeout_ms'];
const LABELS = {
  network: 'Network hosts', files: 'Directories', env: 'Environment variables', secrets: 'Secrets',
  project_dir: 'Project directory', memory_mb: 'Memory per call (MiB)', timeout_ms: 'Time per call (ms)',
};

/** Permissions of an upload the console sent, by plugin id (to grant exactly what it asks). */
export const asked = new Map();

function fileText(file) {
  return `${file.path}${file.write ? ' (read-write)' : ' (read)'}`;
}

/** The permissions a grant needs: what is granted plus what the server says is missing. */
export function requested(granted, needs) {
  const out = JSON.parse(JSON.stringify(granted || {}));
  for (const k of ['network', 'env', 'secrets', 'files']) out[k] = out[k] || [];
  for (const need of needs || []) {
    let m;
    if ((m = /^network host `(.+)`$/.exec(need))) out.network.push(m[1]);
    else if ((m = /^environment variable `(.+)`$/.exec(need))) out.env.push(m[1]);
    else if ((m = /^secret `(.+)`$/.exec(need))) out.secrets.push(m[1]);
    else if ((m = /^(read|read-write) access to `(.+)`$/.exec(need))) {
      out.files = out.files.filter((f) => f.path !== m[2]);
      out.files.push({ path: m[2], write: m[1] === 'read-write' });
    } else if (need === 'the project directory') out.project_dir = true;
    else if ((m = /^(\d+) MiB of memory$/.exec(need))) out.memory_mb = Number(m[1]);
    else if ((m = /^(\d+) ms per call$/.exec(need))) out.timeout_ms = Number(m[1]);
  }
  return out;
}

function items(perms, kind) {
  const value = perms ? perms[kind] : undefined;
  if (Array.isArray(value)) return value.map((v) => (typeof v === 'object' ? fileText(v) : String(v)));
  if (value === undefined || value === null) return [];
  return [String(value)];
}

/** A table of each permission: granted now and after the grant, additions marked. */
export function diff(before, after) {
  const rows = KINDS.map((kind) => {
    const was = items(before, kind);
    const will = items(after, kind);
    const cell = (values, other, mark) => (values.length
      ? h('ul', { class: 'plain' }, values.map((v) => h('li', {}, other.includes(v) ? v
        : h(mark, {}, v, mark === 'ins' ? ' (added)' : ' (removed)'))))
      : '—');
    return h('tr', { class: JSON.stringify(was) === JSON.stringify(will) ? 'same' : 'changed' },
      h('th', { scope: 'row' }, LABELS[kind]), h('td', {}, cell(was, will, 'del')), h('td', {}, cell(will, was, 'ins')));
  });
  return h('div', { class: 'table-wrap' }, h('table', { class: 'diff', id: 'permission-diff' },
    h('caption', {}, 'Permissions: granted now and after this grant'),
    h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Permission'), h('th', { scope: 'col' }, 'Granted now'), h('th', { scope: 'col' }, 'After the grant'))),
    h('tbody', {}, rows)));
}

function pendingPart(plugin, reload) {
  const update = plugin.pending_update;
  const needs = update ? update.needs : plugin.pending_permissions;
  if (!needs || !needs.length) return h('p', {}, 'No permissions are waiting for a grant.');
  const stash = asked.get(plugin.id);
  const target = stash && update && stash.version === update.version
    ? stash.permissions : requested(plugin.granted, needs);
  const status = h('p', { role: 'status' });
  return h('div', { class: 'pending', id: 'pending-grant' },
    h('p', {}, update ? `Version ${update.version} is waiting for these permissions: ` : 'Asks for these permissions, not granted yet: ',
      h('strong', {}, needs.join('; '))),
    diff(plugin.granted, target),
    h('button', {
      type: 'button',
      class: 'primary',
      onclick: async (event) => {
        event.target.disabled = true;
        try {
          const answer = await post(`/api/plugins/${encodeURIComponent(plugin.id)}/permissions`, { permissions: target });
          asked.delete(plugin.id);
          announce(answer.message);
          await reload();
        } catch (e) {
          status.textContent = `Grant refused: ${e.message}`;
          status.className = 'error';
          event.target.disabled = false;
        }
      },
    }, 'Grant these permissions'),
    status);
}

function actions(plugin, reload) {
  const id = encodeURIComponent(plugin.id);
  const status = h('p', { role: 'status', class: 'action-status' });
  const act = (label, method, path, after) => h('button', {
    type: 'button',
    onclick: async (event) => {
      event.target.disabled = true;
      status.className = 'action-status';
      try {
        const answer = await api(method, path);
        announce(answer.message || `${label}: done`);
        await after();
      } catch (e) {
        status.textContent = `${label} failed: ${e.message}`;
        status.className = 'action-status error';
        event.target.disabled = false;
      }
    },
  }, label);
  const buttons = [];
  if (!plugin.installed || plugin.update_available) {
    buttons.push(act(plugin.installed ? `Update to ${plugin.version}` : 'Install', 'POST', `/api/plugins/${id}/install`, reload));
  }
  if (plugin.installed) {
    if (plugin.enabled === false) buttons.push(act('Enable', 'POST', `/api/plugins/${id}/enable`, reload));
    else buttons.push(act('Disable', 'POST', `/api/plugins/${id}/disable`, reload));
    const confirm = act('Yes, uninstall', 'DELETE', `/api/plugins/${id}`, async () => {
      location.hash = '#plugins';
    });
    confirm.hidden = true;
    confirm.classList.add('danger');
    buttons.push(h('button', {
      type: 'button',
      class: 'danger',
      'aria-expanded': 'false',
      onclick: (event) => {
        confirm.hidden = false;
        event.target.setAttribute('aria-expanded', 'true');
        confirm.focus();
      },
    }, 'Uninstall…'), confirm);
  }
  return h('div', {}, h('div', { class: 'toolbar' }, buttons), status);
}

async function audit(plugin) {
  const box = h('div', { id: 'plugin-audit' });
  try {
    const page = await get(`/api/plugins/${encodeURIComponent(plugin.id)}/audit?limit=50`);
    replace(box, table(`Denied access (${page.total} in all, newest first)`, ['When', 'Kind', 'What was denied'],
      (page.entries || []).map((e) => [when(e.at), e.kind, e.detail])));
  } catch (e) {
    replace(box, h('p', { class: 'hint' }, `The audit needs the admin scope: ${e.message}`));
  }
  return box;
}

const BUDGETS = {
  max_concurrent: ['Calls at once', (v) => String(v)],
  queue: ['Calls waiting at most', (v) => String(v)],
  calls_per_minute: ['Calls a minute', (v) => (v ? String(v) : 'unlimited')],
  log_lines_per_minute: ['Log lines a minute', (v) => String(v)],
  kv_bytes: ['Key-value store', (v) => `${(v / (1 << 20)).toFixed(1)} MiB`],
  kv_keys: ['Key-value keys', (v) => String(v)],
};

/** The budget the host enforces (`budgets` of the plugin view), in words. */
function budgetFacts(budgets) {
  if (!budgets) return [h('dt', {}, 'Budget'), h('dd', {}, 'not installed')];
  return Object.entries(budgets).flatMap(([key, value]) => {
    const [label, text] = BUDGETS[key] || [key, String];
    return [h('dt', {}, label), h('dd', { 'data-budget': key }, text(value))];
  });
}

/** Calls of the last 24 hours by operation, with latency, from `/api/analytics`. */
async function recent(plugin) {
  const start = new Date(Date.now() - 24 * 3600 * 1000).toISOString();
  try {
    const answer = await get(`/api/analytics?granularity=hour&start_date=${encodeURIComponent(start)}`);
    const mine = ((answer.data || {}).plugins || {}).by_plugin || {};
    const entry = mine[plugin.id];
    if (!entry) return h('p', {}, 'No calls in the last 24 hours.');
    const lat = entry.latency_ms || {};
    return h('div', {},
      h('p', {}, `Last 24 hours: ${entry.calls} calls, ${entry.errors} errors, ${entry.timeouts} timeouts, ${entry.crashes} crashes; `
        + `latency p50 ${ms(lat.p50)}, p95 ${ms(lat.p95)}, p99 ${ms(lat.p99)}.`),
      table('Calls by operation, last 24 hours', ['Operation', 'Calls'],
        Object.entries(entry.operations || {}).map(([op, n]) => [op, String(n)])));
  } catch (e) {
    return h('p', { class: 'hint' }, `Recent calls unavailable: ${e.message}`);
  }
}

export async function showPlugin(root, id) {
  const reload = () => showPlugin(root, id);
  const { plugin } = await get(`/api/plugins/${encodeURIComponent(id)}`);
  const stats = plugin.stats || {};
  const limits = plugin.granted || plugin.permissions || {};
  const heading = document.getElementById('view-title');
  if (heading) heading.textContent = `Plugin: ${plugin.name}`;
  replace(root,
    h('p', {}, h('a', { href: '#plugins' }, '← All plugins')),
    h('p', {}, plugin.description),
    h('dl', { class: 'facts', id: 'plugin-facts' },
      h('dt', {}, 'Id'), h('dd', {}, h('code', {}, plugin.id)),
      h('dt', {}, 'Kind'), h('dd', {}, plugin.kind),
      h('dt', {}, 'Version'), h('dd', { id: 'plugin-version' }, plugin.installed_version || `${plugin.version} (not installed)`),
      h('dt', {}, 'Source'), h('dd', {}, plugin.source || '—'),
      h('dt', {}, 'State'), h('dd', { id: 'plugin-state' }, badge(plugin.state)),
      plugin.error ? [h('dt', {}, 'Error'), h('dd', { class: 'error-text' }, plugin.error)] : null,
      h('dt', {}, 'WIT API'), h('dd', {}, plugin.api),
      h('dt', {}, 'Author'), h('dd', {}, plugin.author)),
    actions(plugin, reload),
    h('h2', {}, 'Pending permissions'),
    pendingPart(plugin, reload),
    h('h2', {}, 'Permissions'),
    table('Asked for and granted', ['Permission', 'Asks for', 'Granted'],
      KINDS.map((k) => [LABELS[k], list(items(plugin.permissions, k)), list(items(plugin.granted, k))])),
    h('h2', {}, 'Limits and budgets'),
    h('dl', { class: 'facts' },
      h('dt', {}, 'Memory per call'), h('dd', {}, `${limits.memory_mb ?? '—'} MiB`),
      h('dt', {}, 'Time per call'), h('dd', {}, ms(limits.timeout_ms)),
      budgetFacts(plugin.budgets)),
    h('h2', {}, 'Calls'),
    h('dl', { class: 'facts', id: 'plugin-calls' },
      h('dt', {}, 'Calls'), h('dd', {}, stats.calls ?? '—'),
      h('dt', {}, 'Errors'), h('dd', {}, stats.errors ?? '—'),
      h('dt', {}, 'Timeouts'), h('dd', {}, stats.timeouts ?? '—'),
      h('dt', {}, 'Crashes'), h('dd', {}, stats.crashes ?? '—'),
      h('dt', {}, 'Mean time'), h('dd', {}, ms(stats.mean_ms))),
    await recent(plugin),
    plugin.tools && plugin.tools.length
      ? table('Tools', ['Tool', 'Description'], plugin.tools.map((t) => [t.name, t.description || '—'])) : null,
    h('h2', {}, 'Audit of denied access'),
    await audit(plugin));
}
