// The API reference, rendered from the server's own `/api/openapi.json`: operations by tag
// with their parameters, request bodies, answers and the schemas they name, and a filter.

import { h, replace } from './dom.js';
import { get } from './api.js';

export const title = 'API reference';

const METHODS = ['get', 'post', 'put', 'patch', 'delete'];
let documentCache = null;

/** Text with `backticked` spans as code (the document's descriptions use Markdown's). */
function inline(text) {
  return String(text || '').split('`').map((part, i) => (i % 2 ? h('code', {}, part) : part));
}

function refName(ref) {
  return String(ref).split('/').pop();
}

/** A schema as a short type expression: `string`, `Job[]`, `{a, b}`, `A | B`. */
export function typeOf(schema) {
  if (!schema || typeof schema !== 'object') return 'any';
  if (schema.$ref) return refName(schema.$ref);
  for (const key of ['oneOf', 'anyOf']) {
    if (Array.isArray(schema[key])) return schema[key].map(typeOf).join(' | ');
  }
  if (Array.isArray(schema.allOf)) return schema.allOf.map(typeOf).join(' & ');
  if (Array.isArray(schema.enum)) return schema.enum.map((v) => JSON.stringify(v)).join(' | ');
  let type = Array.isArray(schema.type) ? schema.type.join(' | ') : schema.type;
  if (type === 'array' || (Array.isArray(schema.type) && schema.type.includes('array'))) {
    type = `${typeOf(schema.items)}[]${Array.isArray(schema.type) && schema.type.includes('null') ? ' | null' : ''}`;
  }
  if (!type && schema.properties) type = 'object';
  return type || 'any';
}

function schemaBlock(doc, schema, depth = 0) {
  if (!schema) return null;
  let resolved = schema;
  let name = null;
  if (schema.$ref) {
    name = refName(schema.$ref);
    resolved = ((doc.components || {}).schemas || {})[name] || {};
  }
  const props = resolved.properties || {};
  const required = new Set(resolved.required || []);
  const keys = Object.keys(props);
  return h('div', { class: 'schema' },
    h('p', {}, h('code', {}, name || typeOf(resolved)), resolved.description ? ` — ${resolved.description}` : ''),
    keys.length && depth < 2 ? h('ul', { class: 'props' }, keys.map((key) => {
      const prop = props[key];
      return h('li', {},
        h('code', {}, key), required.has(key) ? ' (required)' : '', ': ',
        h('code', { class: 'type' }, typeOf(prop)),
        prop.description ? [' — ', inline(prop.description)] : '');
    })) : null);
}

function params(op) {
  const list = op.parameters || [];
  if (!list.length) return null;
  return h('div', { class: 'table-wrap' }, h('table', {},
    h('caption', {}, 'Parameters'),
    h('thead', {}, h('tr', {}, ['Name', 'In', 'Type', 'Required', 'What'].map((c) => h('th', { scope: 'col' }, c)))),
    h('tbody', {}, list.map((p) => h('tr', {},
      h('th', { scope: 'row' }, h('code', {}, p.name)), h('td', {}, p.in), h('td', {}, h('code', {}, typeOf(p.schema))),
      h('td', {}, p.required ? 'yes' : 'no'), h('td', {}, p.description ? inline(p.description) : '—'))))));
}

function content(doc, holder) {
  const media = (holder && holder.content) || {};
  return Object.entries(media).map(([type, value]) => h('div', {}, h('p', { class: 'hint' }, type), schemaBlock(doc, value.schema)));
}

function operation(doc, path, method, op) {
  const security = (op.security || []).flatMap((s) => Object.entries(s).map(([k, v]) => (v.length ? `${k} (${v.join(', ')})` : k)));
  return h('details', { class: 'operation', 'data-path': path, 'data-method': method },
    h('summary', {}, h('span', { class: `method method-${method}` }, method.toUpperCase()), ' ', h('code', {}, path),
      op.summary ? h('span', { class: 'op-summary' }, ' ', inline(op.summary)) : ''),
    op.description ? h('p', {}, inline(op.description)) : null,
    security.length ? h('p', {}, `Needs: ${security.join(' or ')}`) : null,
    params(op),
    op.requestBody ? [h('h4', {}, 'Request body'), content(doc, op.requestBody)] : null,
    h('h4', {}, 'Answers'),
    h('ul', { class: 'answers' }, Object.entries(op.responses || {}).map(([status, response]) => h('li', {},
      h('strong', {}, status), ' ', inline(response.description), content(doc, response)))));
}

function render(doc, filter, out) {
  const byTag = new Map();
  const needle = filter.trim().toLowerCase();
  for (const [path, item] of Object.entries(doc.paths || {})) {
    for (const method of METHODS) {
      const op = item[method];
      if (!op) continue;
      const text = `${method} ${path} ${op.summary || ''} ${op.description || ''} ${(op.tags || []).join(' ')}`.toLowerCase();
      if (needle && !text.includes(needle)) continue;
      const tag = (op.tags || ['other'])[0];
      if (!byTag.has(tag)) byTag.set(tag, []);
      byTag.get(tag).push(operation(doc, path, method, op));
    }
  }
  const count = [...byTag.values()].reduce((n, ops) => n + ops.length, 0);
  replace(out,
    h('p', { role: 'status' }, `${count} operations`),
    [...byTag.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([tag, ops]) => h('section', { 'aria-label': tag },
      h('h3', {}, tag), ops)));
}

export async function show(root) {
  documentCache = documentCache || await get('/api/openapi.json');
  const doc = documentCache;
  const out = h('div', { id: 'reference-body' });
  const input = h('input', { type: 'search', id: 'reference-filter', placeholder: 'path, word or tag' });
  input.addEventListener('input', () => render(doc, input.value, out));
  const info = doc.info || {};
  replace(root,
    h('p', {}, `${info.title || 'API'} ${info.version || ''}, OpenAPI ${doc.openapi || ''}. `, inline(info.description),
      ' The raw document: ', h('a', { href: '/api/openapi.json' }, '/api/openapi.json'), '.'),
    h('div', { class: 'field' }, h('label', { for: 'reference-filter' }, 'Filter operations'), input),
    out);
  render(doc, '', out);
}
