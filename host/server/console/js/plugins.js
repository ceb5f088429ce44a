// Plugins: every plugin the registry offers or the host has installed, with kind, version,
// source, state and call figures; `#plugins/<id>` opens one (see plugin_detail.js).

import { h, replace, table, badge, ms } from './dom.js';
import { get } from './api.js';
import { showPlugin } from './plugin_detail.js';

export const title = 'Plugins';

function version(plugin) {
  if (!plugin.installed) return `${plugin.version} (available)`;
  if (plugin.update_available) return `${plugin.installed_version} (update: ${plugin.version})`;
  return plugin.installed_version || plugin.version;
}

function calls(plugin) {
  const s = plugin.stats;
  if (!s) return '—';
  return `${s.calls} calls, ${s.errors} errors, ${s.timeouts} timeouts, ${s.crashes} crashes, mean ${ms(s.mean_ms)}`;
}

export async function show(root, rest) {
  if (rest && rest[0]) {
    await showPlugin(root, decodeURIComponent(rest[0]));
    return;
  }
  const kinds = ['all', 'mcp-server', 'ai-provider', 'scout-check', 'health-probe'];
  const select = h('select', { id: 'plugin-kind' }, kinds.map((k) => h('option', { value: k }, k)));
  const showInstalled = h('input', { type: 'checkbox', id: 'plugin-installed', checked: true });
  const holder = h('div');
  const answer = await get('/api/plugins');
  const render = () => {
    const rows = answer.plugins
      .filter((p) => select.value === 'all' || p.kind === select.value)
      .filter((p) => !showInstalled.checked || p.installed)
      .map((p) => h('tr', { 'data-plugin': p.id },
        h('th', { scope: 'row' }, h('a', { href: `#plugins/${encodeURIComponent(p.id)}` }, p.name), h('br'), h('code', {}, p.id)),
        h('td', {}, p.kind),
        h('td', {}, version(p)),
        h('td', {}, p.source || '—'),
        h('td', { class: 'plugin-state' }, badge(p.state),
          p.pending_permissions.length || p.pending_update ? [' ', badge('needs grant')] : null,
          p.error ? h('p', { class: 'error-text' }, p.error) : null),
        h('td', {}, calls(p))));
    replace(holder, table(`${rows.length} plugins`, ['Plugin', 'Kind', 'Version', 'Source', 'State', 'Calls'], rows));
  };
  select.addEventListener('change', render);
  showInstalled.addEventListener('change', render);
  render();
  replace(root,
    h('div', { class: 'toolbar' },
      h('label', { for: 'plugin-kind' }, 'Kind '), select,
      h('span', { class: 'check' }, showInstalled, h('label', { for: 'plugin-installed' }, ' Installed only')),
      h('a', { href: '#install', class: 'button-link' }, 'Install a plugin')),
    holder);
}
