// Jobs: create one (`POST /api/jobs`), list them (`GET /api/jobs`), and follow them live on
// the `/ws/jobs` WebSocket (every job's events); when the socket cannot open, the list is
// polled instead and the page says so. Retry and cancel.

import { h, replace, field, badge, when, ms, announce, labelCells } from './dom.js';
import { api, get, post } from './api.js';

export const title = 'Jobs';

const jobs = new Map();
let socket = null;
let poller = null;
let rows = null;
let liveLine = null;

function row(job) {
  const id = encodeURIComponent(job.job_id);
  const act = (label, verb) => h('button', {
    type: 'button',
    'aria-label': `${label} job ${job.job_id}`,
    onclick: async () => {
      try {
        const answer = await post(`/api/jobs/${id}/${verb}`);
        upsert(answer.data);
      } catch (e) {
        announce(`${label} refused: ${e.message}`, 'error');
      }
    },
  }, label);
  const actions = [];
  if (job.status === 'pending' || job.status === 'in_progress') actions.push(act('Cancel', 'cancel'));
  if (job.status === 'failed' || job.status === 'cancelled') actions.push(act('Retry', 'retry'));
  const result = job.error || (job.results ? summary(job.results) : '—');
  return h('tr', { 'data-job': job.job_id },
    h('th', { scope: 'row' }, h('code', {}, job.job_id.replace(/^job-/, '').slice(0, 8)), h('span', { class: 'visually-hidden' }, ` ${job.job_id}`)),
    h('td', { class: 'job-status' }, badge(job.status)),
    h('td', {}, job.prompt.length > 60 ? `${job.prompt.slice(0, 60)}…` : job.prompt),
    h('td', {}, job.route, job.provider ? [' → ', h('code', {}, job.provider)] : ''),
    h('td', {}, when(job.updated_at)),
    h('td', {}, job.processing_time !== null && job.processing_time !== undefined ? ms(job.processing_time * 1000) : '—'),
    h('td', { class: 'job-result' }, result),
    h('td', {}, actions));
}

/** The written content (per channel when there are several), shortened. */
function summary(results) {
  let text;
  if (typeof results === 'string') text = results;
  else if (typeof results.content === 'string') text = results.content;
  else if (Array.isArray(results)) text = results.map((r) => (r && r.content) || JSON.stringify(r)).join(' | ');
  else {
    text = Object.entries(results).map(([channel, r]) => `${channel}: ${(r && r.content) || JSON.stringify(r)}`).join(' | ');
  }
  return text.length > 80 ? `${text.slice(0, 80)}…` : text;
}

function render() {
  if (!rows) return;
  const sorted = [...jobs.values()].sort((a, b) => String(b.created_at).localeCompare(String(a.created_at)));
  replace(rows, sorted.length ? sorted.map(row) : h('tr', {}, h('td', { colspan: 8 }, 'No jobs yet')));
  if (rows.parentElement) labelCells(rows.parentElement);
}

/** Whether `job` is older news than `known`: a WebSocket event can overtake the answer
 * to the request that created the job, which must not turn `completed` back to `pending`. */
function stale(job, known) {
  if (!known) return false;
  const a = Date.parse(job.updated_at);
  const b = Date.parse(known.updated_at);
  if (a !== b) return a < b;
  return (job.attempts ?? 0) <= (known.attempts ?? 0) && job.status === 'pending' && known.status !== 'pending';
}

function upsert(job) {
  const before = jobs.get(job.job_id);
  if (stale(job, before)) return;
  jobs.set(job.job_id, job);
  render();
  if (before && before.status !== job.status) announce(`Job ${job.job_id} ${job.status.replace('_', ' ')}`);
}

async function load() {
  const answer = await get('/api/jobs?limit=50');
  for (const job of answer.data.jobs) {
    if (!stale(job, jobs.get(job.job_id))) jobs.set(job.job_id, job);
  }
  render();
}

function setLive(text, kind) {
  if (!liveLine) return;
  liveLine.textContent = text;
  liveLine.dataset.kind = kind;
}

function poll() {
  if (poller) return;
  setLive('Live updates unavailable: checking every 3 s', 'polling');
  poller = setInterval(() => {
    load().catch(() => {});
    // Try the WebSocket again; when it opens, polling stops.
    if (!socket && rows) connect();
  }, 3000);
}

function connect() {
  if (socket) return;
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  socket = new WebSocket(`${scheme}//${location.host}/ws/jobs`);
  socket.addEventListener('open', () => {
    setLive('Live: connected', 'live');
    if (poller) {
      clearInterval(poller);
      poller = null;
    }
    // Anything that changed before the socket opened.
    load().catch(() => {});
  });
  socket.addEventListener('message', (event) => {
    let message;
    try {
      message = JSON.parse(event.data);
    } catch {
      return;
    }
    if (message.job) upsert(message.job);
  });
  socket.addEventListener('close', () => {
    socket = null;
    if (rows) poll();
  });
}

export function hide() {
  rows = null;
  if (socket) {
    const old = socket;
    socket = null;
    old.close();
  }
  if (poller) {
    clearInterval(poller);
    poller = null;
  }
}

export async function show(root) {
  const routes = await get('/api/providers').then((a) => a.routes.map((r) => r.name)).catch(() => ['mama-bear']);
  const [promptField, prompt] = field('Prompt', { tag: 'textarea', name: 'prompt', required: true, rows: '3' });
  const routeSelect = h('select', { id: 'job-route', name: 'route' }, routes.map((r) => h('option', { value: r }, r)));
  const status = h('div', { role: 'status', id: 'job-create-status' });
  const form = h('form', {
    'aria-labelledby': 'job-new-title',
    onsubmit: async (event) => {
      event.preventDefault();
      try {
        const answer = await api('POST', '/api/jobs', { prompt: prompt.value, route: routeSelect.value });
        upsert(answer.data);
        replace(status, h('p', { class: 'ok' }, `Created job ${answer.data.job_id}`));
        prompt.value = '';
      } catch (e) {
        replace(status, h('p', { class: 'error' }, `Job refused (${e.status}): ${e.message}`));
      }
    },
  }, h('h2', { id: 'job-new-title' }, 'New job'), promptField,
  h('div', { class: 'field' }, h('label', { for: 'job-route' }, 'Route'), routeSelect),
  h('button', { type: 'submit' }, 'Create job'), status);
  liveLine = h('p', { id: 'jobs-live', class: 'live-state' }, 'Connecting…');
  rows = h('tbody', { id: 'jobs-rows' });
  const tableEl = h('div', { class: 'table-wrap', role: 'region', 'aria-label': 'Jobs', tabindex: '0' },
    h('table', {}, h('caption', {}, 'Jobs, newest first'),
      h('thead', {}, h('tr', {}, ['Job', 'Status', 'Prompt', 'Route → provider', 'Updated', 'Took', 'Result or error', 'Action'].map((c) => h('th', { scope: 'col' }, c)))),
      rows));
  replace(root, form, liveLine, tableEl);
  jobs.clear();
  await load();
  if ('WebSocket' in window) connect();
  else poll();
}
