// Install: search the registry (every entry `/api/plugins` lists, of every kind) and
// install one
// (`/api/plugins/{id}/install`), or upload a component with its manifest
// (`/api/plugins/upload`). An update that asks for more permissions waits for a grant,
// which the plugin's page shows with the change it makes.

import { h, replace, field, table, badge, announce } from './dom.js';
import { get, post, ApiError } from './api.js';
import { asked } from './plugin_detail.js';

export const title = 'Install';

/** What an install answer means for the operator, with a link to the plugin. */
function outcome(box, id, result) {
  const link = h('a', { href: `#plugins/${encodeURIComponent(id)}` }, `Open ${id}`);
  if (result instanceof ApiError) {
    const needs = result.body && result.body.details && result.body.details.needs;
    if (result.status === 409 && needs) {
      replace(box, h('p', { class: 'warning' }, `${id} ${result.body.details.pending_version || ''} waits for a grant: ${needs.join('; ')}. `, link, ' to review and grant.'));
      announce(`${id} waits for a permission grant`);
    } else {
      replace(box, h('p', { class: 'error' }, `Refused (${result.status}): ${result.message}`));
      announce(`Install refused: ${result.message}`, 'error');
    }
    return;
  }
  replace(box, h('p', { class: 'ok' }, result.message, '. ', link, '.'));
  announce(result.message);
}

function registry() {
  const [queryField, query] = field('Search the registry', { type: 'search', name: 'query', placeholder: 'name, tag or description' });
  const results = h('div', { id: 'registry-results' });
  const status = h('div', { role: 'status', id: 'install-status' });
  const search = async () => {
    // Every kind of plugin the registry offers (`/api/mcp/search` covers MCP servers only).
    const answer = await get('/api/plugins');
    const needle = query.value.trim().toLowerCase();
    const found = answer.plugins.filter((p) => !needle || [p.id, p.name, p.description, p.category, p.kind, ...(p.tags || [])]
      .some((text) => String(text || '').toLowerCase().includes(needle)));
    const rows = found.map((entry) => {
      const action = !entry.installed || entry.update_available
        ? h('button', {
          type: 'button',
          'aria-label': `${entry.installed ? 'Update' : 'Install'} ${entry.name}`,
          onclick: async (event) => {
            event.target.disabled = true;
            try {
              outcome(status, entry.id, await post(`/api/plugins/${encodeURIComponent(entry.id)}/install`));
            } catch (e) {
              outcome(status, entry.id, e);
            }
            event.target.disabled = false;
          },
        }, entry.installed ? 'Update' : 'Install')
        : badge('installed');
      return [entry.name, entry.kind, entry.version, entry.description, action];
    });
    replace(results, table(`${rows.length} registry entries`, ['Plugin', 'Kind', 'Version', 'What', 'Action'], rows));
  };
  const form = h('form', {
    role: 'search',
    'aria-label': 'Registry',
    onsubmit: async (event) => {
      event.preventDefault();
      try {
        await search();
      } catch (e) {
        replace(results, h('p', { class: 'error', role: 'alert' }, e.message));
      }
    },
  }, queryField, h('button', { type: 'submit' }, 'Search'));
  return [h('h2', {}, 'From the registry'), form, status, results, search];
}

/** Standard base64 of bytes, in slices (String.fromCharCode takes limited arguments). */
function base64(bytes) {
  let text = '';
  for (let at = 0; at < bytes.length; at += 0x8000) {
    text += String.fromCharCode.apply(null, bytes.subarray(at, at + 0x8000));
  }
  return btoa(text);
}

function upload() {
  const [manifestField, manifestInput] = field('Manifest (manifest.json)', { type: 'file', accept: '.json,application/json', required: true, name: 'manifest' });
  const [componentField, componentInput] = field('Component (.wasm)', { type: 'file', accept: '.wasm,application/wasm', required: true, name: 'component' });
  const status = h('div', { role: 'status', id: 'upload-status' });
  const form = h('form', {
    'aria-labelledby': 'upload-title',
    onsubmit: async (event) => {
      event.preventDefault();
      const button = form.querySelector('button');
      button.disabled = true;
      let id = '?';
      try {
        const manifest = JSON.parse(await manifestInput.files[0].text());
        id = manifest.id;
        const bytes = new Uint8Array(await componentInput.files[0].arrayBuffer());
        asked.set(id, { version: manifest.version, permissions: manifest.permissions });
        replace(status, h('p', {}, `Uploading ${id} (${(bytes.length / 1024).toFixed(0)} KiB)…`));
        outcome(status, id, await post('/api/plugins/upload', { manifest, component_base64: base64(bytes) }));
      } catch (e) {
        if (e instanceof ApiError) outcome(status, id, e);
        else replace(status, h('p', { class: 'error' }, `Could not read the files: ${e.message}`));
      }
      button.disabled = false;
    },
  }, manifestField, componentField, h('button', { type: 'submit' }, 'Upload and install'));
  return [h('h2', { id: 'upload-title' }, 'Upload a component'), form, status];
}

export async function show(root) {
  const [heading, form, status, results, search] = registry();
  replace(root, heading, form, status, results, ...upload());
  await search();
}
