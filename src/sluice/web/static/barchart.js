// Bar charts drawn as inline SVG: stacked on a linear axis, or side by side on a log axis
// (where tables differ by orders of magnitude, a linear axis hides the small ones).

import { compact, count, el, svg } from './common.js';

export const PALETTE = [
  '#0f766e', '#2563eb', '#d97706', '#7c3aed', '#db2777', '#0891b2',
  '#65a30d', '#dc2626', '#4b5563', '#9333ea', '#ea580c', '#0d9488',
];
const H = 250;
const M = { top: 14, right: 12, bottom: 34, left: 52 };

/** The axis top and step for values up to `value`: 1, 2 or 5 times a power of ten. */
function scale(value, whole) {
  if (value <= 0) return { top: whole ? 4 : 1, step: whole ? 1 : 0.25 };
  const raw = value / 5;
  const power = 10 ** Math.floor(Math.log10(raw));
  let step = [1, 2, 5, 10].map((m) => m * power).find((s) => raw <= s);
  if (whole) step = Math.max(1, Math.round(step));
  return { top: Math.ceil(value / step) * step, step };
}

/** Drawing width: the chart's box in CSS pixels, so text is drawn at its real size. */
export function widthOf(box) {
  return Math.max(Math.floor(box.clientWidth), 300);
}

/** Whether values differ by orders of magnitude (the largest over 100 times the smallest). */
export function spansMagnitudes(values) {
  const positive = values.filter((v) => v > 0);
  return positive.length > 1 && Math.max(...positive) / Math.min(...positive) > 100;
}

/**
 * Bars per category (a day, an hour or a run), one per series: stacked on a linear axis, or
 * grouped on a log axis when `log` is set.
 *   categories: [{ key, label, title }]
 *   series:     [{ name, color, values: [number per category] }]
 */
export function bars(box, categories, series, { unit, emptyText, log = false, ariaLabel }) {
  const W = widthOf(box);
  const totals = categories.map((_, i) => series.reduce((sum, s) => sum + s.values[i], 0));
  const peak = log
    ? Math.max(0, ...series.flatMap((s) => s.values))
    : Math.max(0, ...totals);
  const iw = W - M.left - M.right;
  const ih = H - M.top - M.bottom;
  const band = iw / Math.max(categories.length, 1);
  const root = svg('svg', {
    viewBox: `0 0 ${W} ${H}`,
    class: 'svg-chart',
    role: 'img',
    'aria-label': ariaLabel || `${unit} per category`,
    dataset: { scale: log ? 'log' : 'linear' },
  });
  let y;
  if (log) {
    const decades = Math.max(1, Math.ceil(Math.log10(Math.max(peak, 1) + 1)));
    y = (v) => M.top + ih - (Math.log10(1 + Math.max(v, 0)) / decades) * ih;
    for (let d = 0; d <= decades; d += 1) {
      const v = 10 ** d;
      root.append(
        svg('line', { x1: M.left, x2: W - M.right, y1: y(v - 1), y2: y(v - 1), class: 'grid-line' }),
        svg('text', { x: M.left - 6, y: y(v - 1) + 4, class: 'axis y', text: d === 0 ? '0' : compact(v) }),
      );
    }
  } else {
    const { top, step } = scale(peak, true);
    y = (v) => M.top + ih - (v / top) * ih;
    for (let v = 0; v <= top + step / 2; v += step) {
      root.append(
        svg('line', { x1: M.left, x2: W - M.right, y1: y(v), y2: y(v), class: 'grid-line' }),
        svg('text', { x: M.left - 6, y: y(v) + 4, class: 'axis y', text: compact(v) }),
      );
    }
  }
  const barW = Math.max(Math.min(band * 0.7, 48), 2);
  const every = Math.ceil(categories.length / Math.max(Math.floor(iw / 56), 1));
  categories.forEach((category, i) => {
    const left = M.left + band * i + (band - barW) / 2;
    const shown = series.filter((s) => s.values[i]);
    let base = 0;
    shown.forEach((s, j) => {
      const v = s.values[i];
      const width = log ? Math.max(barW / shown.length, 1) : barW;
      const x = log ? left + width * j : left;
      const from = log ? 0 : base;
      root.append(
        svg(
          'rect',
          {
            x,
            y: y(from + v),
            width,
            height: Math.max(y(from) - y(from + v), 1),
            fill: s.color,
            class: 'bar-seg',
            dataset: { category: category.key, series: s.name, value: v },
          },
          svg('title', { text: `${category.title || category.label} · ${s.name}: ${count(v)} ${unit}` }),
        ),
      );
      base += v;
    });
    if (i % every === 0 || i === categories.length - 1) {
      root.append(
        svg('text', {
          x: M.left + band * i + band / 2,
          y: H - M.bottom + 16,
          class: 'axis x',
          text: category.label,
        }),
      );
    }
  });
  root.append(svg('line', { x1: M.left, x2: W - M.right, y1: y(0), y2: y(0), class: 'baseline' }));
  if (!totals.some(Boolean)) {
    root.append(svg('text', { x: M.left + iw / 2, y: M.top + ih / 2, class: 'empty-text', text: emptyText }));
  }
  const legend = el(
    'ul',
    { class: 'legend' },
    series.map((s) =>
      el(
        'li',
        {},
        el('span', { class: 'swatch', style: { background: s.color } }),
        el('span', { text: `${s.name} (${count(s.values.reduce((a, b) => a + b, 0))})` }),
      ),
    ),
  );
  box.replaceChildren(root, series.length ? legend : el('p', { class: 'muted', text: '' }));
}
