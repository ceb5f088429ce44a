// Charts drawn as inline SVG: a line chart over time and a grouped bar chart. Each has a
// title and description for screen readers, and its figures are also given as a table
// by the caller, so nothing is shown only as a picture.

const NS = 'http://www.w3.org/2000/svg';

function el(name, attrs = {}, text) {
  const node = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

/** A round upper bound for an axis. */
export function niceMax(value) {
  if (!(value > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) {
    if (value <= step * power) return step * power;
  }
  return 10 * power;
}

function frame(titleText, description, width, height) {
  const id = `chart-${Math.random().toString(36).slice(2, 9)}`;
  const svg = el('svg', {
    viewBox: `0 0 ${width} ${height}`, role: 'img', class: 'chart', 'aria-labelledby': `${id}-t ${id}-d`,
    preserveAspectRatio: 'xMidYMid meet',
  });
  svg.append(el('title', { id: `${id}-t` }, titleText), el('desc', { id: `${id}-d` }, description));
  return svg;
}

function yAxis(svg, max, box, unit) {
  for (let i = 0; i <= 4; i += 1) {
    const value = (max * i) / 4;
    const y = box.bottom - ((box.bottom - box.top) * i) / 4;
    svg.append(el('line', { x1: box.left, x2: box.right, y1: y, y2: y, class: 'grid' }));
    svg.append(el('text', { x: box.left - 6, y: y + 4, 'text-anchor': 'end', class: 'tick' },
      `${Number.isInteger(value) ? value : value.toFixed(1)}${unit}`));
  }
}

function legend(svg, series, x, y) {
  series.forEach((s, i) => {
    const at = x + i * 130;
    svg.append(el('rect', { x: at, y: y - 9, width: 12, height: 12, class: `swatch s${i}` }));
    svg.append(el('text', { x: at + 17, y: y + 1, class: 'legend' }, s.name));
  });
}

/**
 * Lines over time. `labels` are the x positions' names; `series` is
 * `[{name, values}]`, one value per label.
 */
export function lineChart({ title, description, labels, series, unit = '' }) {
  const width = 720;
  const height = 280;
  const box = { left: 56, right: width - 16, top: 30, bottom: height - 40 };
  const svg = frame(title, description, width, height);
  const max = niceMax(Math.max(0, ...series.flatMap((s) => s.values)));
  yAxis(svg, max, box, unit);
  const n = Math.max(1, labels.length - 1);
  const x = (i) => box.left + ((box.right - box.left) * i) / n;
  const y = (v) => box.bottom - ((box.bottom - box.top) * v) / max;
  const every = Math.max(1, Math.ceil(labels.length / 6));
  labels.forEach((label, i) => {
    if (i % every === 0 || i === labels.length - 1) {
      svg.append(el('text', { x: x(i), y: box.bottom + 18, 'text-anchor': 'middle', class: 'tick' }, label));
    }
  });
  series.forEach((s, k) => {
    const points = s.values.map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(' ');
    svg.append(el('polyline', { points, class: `line s${k}`, fill: 'none' }));
    s.values.forEach((v, i) => {
      if (v > 0) {
        const dot = el('circle', { cx: x(i).toFixed(1), cy: y(v).toFixed(1), r: 3, class: `dot s${k}` });
        dot.append(el('title', {}, `${s.name}, ${labels[i]}: ${v}${unit}`));
        svg.append(dot);
      }
    });
  });
  legend(svg, series, box.left, 16);
  return svg;
}

/** Grouped bars: `groups` are category names, `series` `[{name, values}]` per group. */
export function barChart({ title, description, groups, series, unit = '' }) {
  const width = 720;
  const height = 280;
  const box = { left: 64, right: width - 16, top: 30, bottom: height - 48 };
  const svg = frame(title, description, width, height);
  const max = niceMax(Math.max(0, ...series.flatMap((s) => s.values)));
  yAxis(svg, max, box, unit);
  const slot = (box.right - box.left) / Math.max(1, groups.length);
  const bar = Math.min(28, (slot * 0.8) / Math.max(1, series.length));
  groups.forEach((group, g) => {
    const start = box.left + slot * g + (slot - bar * series.length) / 2;
    series.forEach((s, k) => {
      const v = s.values[g] || 0;
      const top = box.bottom - ((box.bottom - box.top) * v) / max;
      const rect = el('rect', { x: (start + k * bar).toFixed(1), y: top.toFixed(1), width: (bar - 2).toFixed(1), height: (box.bottom - top).toFixed(1), class: `bar s${k}` });
      rect.append(el('title', {}, `${group} ${s.name}: ${v}${unit}`));
      svg.append(rect);
    });
    svg.append(el('text', { x: (box.left + slot * g + slot / 2).toFixed(1), y: box.bottom + 18, 'text-anchor': 'middle', class: 'tick' },
      group.length > 14 ? `${group.slice(0, 13)}…` : group));
  });
  legend(svg, series, box.left, 16);
  return svg;
}
