// Routes and providers (`/api/providers`): each route's chain with every provider's
// circuit breaker, who is serving and why, the last outcome; bind a route to a chain
// (`PUT /api/providers/routes/{name}`) or remove an API binding.

import { h, replace, field, table, badge, ms, when, list, announce } from './dom.js';
import { api, get } from './api.js';

export const title = 'Routes';

function chainCell(route, breakers) {
  return h('ol', { class: 'chain' }, route.chain.map((link) => {
    const breaker = breakers.get(link.provider);
    return h('li', {},
      h('code', {}, link.provider), link.model ? ` (${link.model})` : '', ' ',
      badge(link.status), link.enabled ? '' : [' ', badge('disabled')],
      breaker ? [' breaker ', badge(breaker.state)] : null,
      link.detail ? h('span', { class: 'hint' }, ` ${link.detail}`) : null);
  }));
}

function lastCell(last) {
  if (!last) return '—';
  if (typeof last !== 'object') return String(last);
  const parts = Object.entries(last).filter(([, v]) => v !== null && typeof v !== 'object')
    .map(([k, v]) => `${k}: ${k.endsWith('_at') ? when(v) : v}`);
  return parts.join(', ') || '—';
}

/** `local, gemini:gemini-2.5-flash` → a chain. */
export function parseChain(text) {
  return text.split(',').map((part) => part.trim()).filter(Boolean).map((part) => {
    const [provider, ...model] = part.split(':');
    const link = { provider: provider.trim() };
    if (model.length) link.model = model.join(':').trim();
    return link;
  });
}

function bindForm(providers, reload) {
  const [nameField, name] = field('Route name', { name: 'route', required: true, placeholder: 'e.g. coder', pattern: '[a-z0-9._\\-]+', hint: 'Lower-case letters, digits, - _ .' });
  const [chainField, chain] = field('Provider chain', {
    name: 'chain', required: true, placeholder: 'local', hint: `Providers in order, comma-separated, optionally provider:model. Loaded: ${providers.map((p) => p.id).join(', ')}`,
  });
  const status = h('div', { role: 'status', id: 'bind-status' });
  return h('form', {
    'aria-labelledby': 'bind-title',
    onsubmit: async (event) => {
      event.preventDefault();
      try {
        const answer = await api('PUT', `/api/providers/routes/${encodeURIComponent(name.value.trim())}`, { chain: parseChain(chain.value) });
        replace(status, h('p', { class: 'ok' }, answer.message),
          (answer.warnings || []).map((w) => h('p', { class: 'warning' }, `Warning: ${w}`)));
        announce(answer.message);
        await reload(status);
      } catch (e) {
        replace(status, h('p', { class: 'error' }, `Bind refused (${e.status}): ${e.message}`));
      }
    },
  }, h('h2', { id: 'bind-title' }, 'Bind a route'), nameField, chainField, h('button', { type: 'submit' }, 'Bind'), status);
}

export async function show(root, _rest, keep) {
  const answer = await get('/api/providers');
  const breakers = new Map(answer.providers.map((p) => [p.id, p.breaker]));
  const reload = (status) => show(root, [], status);
  const routeRows = answer.routes.map((route) => h('tr', { 'data-route': route.name },
    h('th', { scope: 'row' }, h('code', {}, route.name)),
    h('td', {}, route.source),
    h('td', {}, chainCell(route, breakers)),
    h('td', { class: 'serving' }, route.serving ? h('code', {}, route.serving) : badge('none'), route.model ? ` (${route.model})` : ''),
    h('td', {}, route.reason || '—'),
    h('td', {}, lastCell(route.last)),
    h('td', {}, route.source === 'api' ? h('button', {
      type: 'button',
      'aria-label': `Remove the API binding of ${route.name}`,
      onclick: async () => {
        try {
          const gone = await api('DELETE', `/api/providers/routes/${encodeURIComponent(route.name)}`);
          announce(gone.message);
          await reload();
        } catch (e) {
          announce(`Unbind refused: ${e.message}`, 'error');
        }
      },
    }, 'Unbind') : '—')));
  const providerRows = answer.providers.map((p) => [
    p.name ? [h('code', {}, p.id), ` ${p.name}`] : p.id,
    p.loaded ? badge('loaded') : badge('not loaded'),
    list(p.models),
    [badge(p.breaker.state), p.breaker.retry_in_ms ? ` retry in ${ms(p.breaker.retry_in_ms)}` : ''],
    `${p.breaker.consecutive_failures} in a row, ${p.breaker.failures} in all, opened ${p.breaker.times_opened}×`,
    p.breaker.last_error ? `${p.breaker.last_error}${p.breaker.last_failure_at ? ` (${when(p.breaker.last_failure_at)})` : ''}` : '—',
    p.calls ? `${p.calls.calls} calls, ${p.calls.errors} errors, mean ${ms(p.calls.mean_ms)}` : '—',
    list(p.routes),
  ]);
  const form = bindForm(answer.providers, reload);
  if (keep) form.querySelector('#bind-status').replaceWith(keep);
  replace(root,
    h('div', { class: 'toolbar' }, h('button', { type: 'button', onclick: () => reload() }, 'Refresh')),
    table('Routes and who serves them', ['Route', 'Source', 'Chain (breaker)', 'Serving', 'Why', 'Last call', 'Action'], routeRows, { id: 'routes-table' }),
    table('Providers', ['Provider', 'Loaded', 'Models', 'Breaker', 'Failures', 'Last error', 'Calls', 'Routes'], providerRows),
    h('p', { class: 'hint' }, `Breaker: opens after ${answer.breaker.failures} failures in a row, for ${ms(answer.breaker.open_ms)}.`),
    form);
}
