// Small DOM helpers shared by every view: element building, the live announcer, formats.

/** Builds an element: h('button', {type: 'button', onclick: f}, 'Save'). */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on') && typeof value === 'function') {
      el.addEventListener(name.slice(2), value);
    } else if (name === 'class') {
      el.className = value;
    } else if (value === true) {
      el.setAttribute(name, '');
    } else {
      el.setAttribute(name, String(value));
    }
  }
  append(el, children);
  return el;
}

/** Appends text or nodes (nested arrays flattened, null skipped). */
export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** Replaces an element's children. */
export function replace(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

let serial = 0;
/** A unique id for label/aria wiring. */
export function uid(prefix) {
  serial += 1;
  return `${prefix}-${serial}`;
}

/** Says `text` to screen readers and shows it in the status line. */
export function announce(text, kind = 'info') {
  const live = document.getElementById('announcer');
  if (!live) return;
  live.dataset.kind = kind;
  live.textContent = text;
}

/** A labelled input: returns [wrapper, input]. */
export function field(label, attrs = {}) {
  const id = attrs.id || uid('field');
  const input = h(attrs.tag || 'input', { ...attrs, tag: undefined, id });
  const wrapper = h('div', { class: 'field' }, h('label', { for: id }, label), input);
  if (attrs.hint) {
    const hint = h('p', { class: 'hint', id: `${id}-hint` }, attrs.hint);
    input.setAttribute('aria-describedby', hint.id);
    input.removeAttribute('hint');
    wrapper.append(hint);
  }
  return [wrapper, input];
}

/** Names each body cell after its column (`data-label`), for the stacked phone layout. */
export function labelCells(tableEl) {
  const names = [...tableEl.querySelectorAll('thead th')].map((th) => th.textContent);
  for (const row of tableEl.querySelectorAll('tbody tr')) {
    [...row.children].forEach((cell, i) => {
      if (names[i] && !cell.hasAttribute('colspan')) cell.dataset.label = names[i];
    });
  }
  return tableEl;
}

/** A table with a caption, column headers and rows of cells (text or nodes). */
export function table(caption, columns, rows, attrs = {}) {
  const wrap = h('div', { class: 'table-wrap', role: 'region', 'aria-label': caption, tabindex: '0' },
    h('table', attrs,
      h('caption', {}, caption),
      h('thead', {}, h('tr', {}, columns.map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', {}, rows.length
        ? rows.map((cells) => (cells instanceof Node ? cells
          : h('tr', {}, cells.map((c, i) => (i === 0 ? h('th', { scope: 'row' }, c) : h('td', {}, c))))))
        : h('tr', {}, h('td', { colspan: columns.length }, 'None')))));
  labelCells(wrap.querySelector('table'));
  return wrap;
}

/** A status word with a class per value, so colour is never the only signal. */
export function badge(text) {
  const value = String(text ?? 'unknown');
  return h('span', { class: `badge badge-${value.replace(/[^a-z0-9_-]/gi, '_').toLowerCase()}` }, value);
}

/** Milliseconds as text. */
export function ms(value) {
  if (value === null || value === undefined) return '—';
  return value >= 1000 ? `${(value / 1000).toFixed(2)} s` : `${Number(value).toFixed(1)} ms`;
}

/** An RFC 3339 time in the reader's locale (or a dash). */
export function when(text) {
  if (!text) return '—';
  const date = new Date(text);
  return Number.isNaN(date.getTime()) ? String(text) : date.toLocaleString();
}

/** Seconds as `1 d 2 h 3 min`. */
export function duration(seconds) {
  let s = Math.floor(Number(seconds) || 0);
  const parts = [];
  for (const [unit, size] of [['d', 86400], ['h', 3600], ['min', 60]]) {
    if (s >= size) {
      parts.push(`${Math.floor(s / size)} ${unit}`);
      s %= size;
    }
  }
  if (!parts.length) parts.push(`${s} s`);
  return parts.join(' ');
}

/** A list of words, or a dash when empty. */
export function list(items) {
  if (!items || (Array.isArray(items) && items.length === 0)) return '—';
  return (Array.isArray(items) ? items : [items])
    .map((item) => (typeof item === 'object' ? JSON.stringify(item) : String(item))).join(', ');
}
