// Charts drawn as inline SVG from /api/stats: rows loaded per day and table, run outcomes per
// day, and the mean (and longest) duration of each stage type.

import { UI, api, compact, count, duration, el, poll, start, svg } from './common.js';

const PALETTE = [
  '#0f766e', '#2563eb', '#d97706', '#7c3aed', '#db2777', '#0891b2',
  '#65a30d', '#dc2626', '#4b5563', '#9333ea', '#ea580c', '#0d9488',
];
const OUTCOMES = [
  ['success', '#1a7f37'],
  ['failed', '#cf222e'],
  ['running', '#0969da'],
  ['pending', '#8c959f'],
];
const H = 250;
const M = { top: 14, right: 12, bottom: 34, left: 52 };
let last = null; // the figures drawn, redrawn when the window is resized

const me = start();
if (me) main();

function main() {
  const query = new URLSearchParams(location.search);
  const table = document.getElementById('c-table');
  const days = document.getElementById('c-days');
  if (query.get('table')) table.append(el('option', { value: query.get('table'), text: query.get('table') }));
  table.value = query.get('table') || '';
  days.value = ['7', '14', '30', '90'].includes(query.get('days')) ? query.get('days') : '7';
  let shown = '';

  api('GET', '/api/tables')
    .then((tables) => {
      const chosen = table.value;
      table.replaceChildren(
        el('option', { value: '', text: 'all' }),
        ...tables.map((t) => el('option', { value: t.source_tablename, text: t.source_tablename })),
      );
      table.value = chosen;
    })
    .catch(() => {});

  const poller = poll(async () => {
    const wanted = new URLSearchParams({ days: days.value });
    if (table.value) wanted.set('table', table.value);
    const stats = await api('GET', `/api/stats?${wanted}`);
    const text = JSON.stringify(stats);
    if (text === shown) return; // redraw only when a figure changed
    shown = text;
    last = stats;
    draw(stats);
  });

  let resizing = null;
  window.addEventListener('resize', () => {
    clearTimeout(resizing);
    resizing = setTimeout(() => last && draw(last), 150);
  });

  document.getElementById('chart-filters').addEventListener('change', () => {
    const wanted = new URLSearchParams({ days: days.value });
    if (table.value) wanted.set('table', table.value);
    history.replaceState(null, '', `${UI}/charts?${wanted}`);
    poller.now();
  });
}

function draw(stats) {
  const dayList = utcDays(stats.since, stats.until);
  tiles(stats);

  const tables = [...new Set(stats.rows_loaded_per_day.map((r) => r.table))].sort();
  const rows = new Map(stats.rows_loaded_per_day.map((r) => [`${r.table}|${r.day}`, r.rows]));
  const rowSeries = tables.map((name, i) => ({
    name,
    color: PALETTE[i % PALETTE.length],
    values: dayList.map((day) => rows.get(`${name}|${day}`) || 0),
  }));
  chart('rows-chart', dayList, rowSeries, 'rows', 'No rows were loaded in this window.');

  const perDay = new Map(stats.runs_per_day.map((d) => [d.day, d]));
  const outcomeSeries = OUTCOMES.map(([status, color]) => ({
    name: status,
    color,
    values: dayList.map((day) => (perDay.get(day) ? perDay.get(day)[status] : 0)),
  }));
  chart('outcomes-chart', dayList, outcomeSeries, 'runs', 'No runs in this window.');

  durations(stats.stage_durations);
}

function tiles(stats) {
  const by = stats.runs_by_status;
  const runs = Object.values(by).reduce((a, b) => a + b, 0);
  const loaded = stats.rows_loaded_per_day.reduce((a, r) => a + r.rows, 0);
  const rate = stats.success_rate === null ? '—' : `${(stats.success_rate * 100).toFixed(1)} %`;
  const items = [
    ['Runs', count(runs), ''],
    ['Success rate', rate, 'success / (success + failed)'],
    ['Failed', count(by.failed || 0), ''],
    ['Running now', count((by.running || 0) + (by.pending || 0)), 'running or about to start'],
    ['Rows loaded', count(loaded), 'into sinks'],
  ];
  document.getElementById('tiles').replaceChildren(
    ...items.map(([label, value, hint]) =>
      el(
        'div',
        { class: 'tile', title: hint || null, dataset: { tile: label } },
        el('span', { class: 'tile-value', text: value }),
        el('span', { class: 'tile-label', text: label }),
      ),
    ),
  );
}

/** Every UTC day of the window, as YYYY-MM-DD. */
function utcDays(since, until) {
  const days = [];
  const end = new Date(until).getTime();
  for (let t = new Date(since).getTime(); t < end; t += 86400000) {
    days.push(new Date(t).toISOString().slice(0, 10));
  }
  return days;
}

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
function widthOf(box) {
  return Math.max(Math.floor(box.clientWidth), 360);
}

/** A stacked bar chart: one bar per day, one segment per series. */
function chart(id, dayList, series, unit, emptyText) {
  const box = document.getElementById(id);
  const W = widthOf(box);
  const totals = dayList.map((_, i) => series.reduce((sum, s) => sum + s.values[i], 0));
  const { top, step } = scale(Math.max(0, ...totals), true);
  const iw = W - M.left - M.right;
  const ih = H - M.top - M.bottom;
  const band = iw / dayList.length;
  const barW = Math.max(Math.min(band * 0.7, 48), 2);
  const y = (v) => M.top + ih - (v / top) * ih;

  const root = svg('svg', {
    viewBox: `0 0 ${W} ${H}`,
    class: 'svg-chart',
    role: 'img',
    'aria-label': `${unit} per day`,
  });
  for (let v = 0; v <= top + step / 2; v += step) {
    root.append(
      svg('line', { x1: M.left, x2: W - M.right, y1: y(v), y2: y(v), class: 'grid-line' }),
      svg('text', { x: M.left - 6, y: y(v) + 4, class: 'axis y', text: compact(v) }),
    );
  }
  const every = Math.ceil(dayList.length / Math.max(Math.floor(iw / 56), 1));
  dayList.forEach((day, i) => {
    const x = M.left + band * i + (band - barW) / 2;
    let base = 0;
    for (const s of series) {
      const v = s.values[i];
      if (!v) continue;
      const rect = svg(
        'rect',
        {
          x,
          y: y(base + v),
          width: barW,
          height: Math.max(y(base) - y(base + v), 1),
          fill: s.color,
          class: 'bar-seg',
          dataset: { day, series: s.name, value: v },
        },
        svg('title', { text: `${day} · ${s.name}: ${count(v)} ${unit}` }),
      );
      root.append(rect);
      base += v;
    }
    if (i % every === 0 || i === dayList.length - 1) {
      root.append(
        svg('text', {
          x: M.left + band * i + band / 2,
          y: H - M.bottom + 16,
          class: 'axis x',
          text: day.slice(5),
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

/** Horizontal bars: mean duration per stage type, with a tick at the longest. */
function durations(items) {
  const box = document.getElementById('durations-chart');
  const W = widthOf(box);
  const shown = items.filter((d) => d.count > 0);
  if (!shown.length) {
    box.replaceChildren(el('p', { class: 'empty', text: 'No finished stages in this window.' }));
    return;
  }
  const rowH = 26;
  const left = 130;
  const right = 220;
  const height = shown.length * rowH + 8;
  const top = Math.max(...shown.map((d) => d.max_seconds || d.mean_seconds || 0), 0.001);
  const width = W - left - right;
  const root = svg('svg', {
    viewBox: `0 0 ${W} ${height}`,
    class: 'svg-chart',
    role: 'img',
    'aria-label': 'mean stage duration by type',
  });
  shown.forEach((d, i) => {
    const yMid = 4 + i * rowH + rowH / 2;
    const meanW = ((d.mean_seconds || 0) / top) * width;
    const maxX = left + ((d.max_seconds || 0) / top) * width;
    root.append(
      svg('text', { x: left - 8, y: yMid + 4, class: 'axis y', text: d.stage_type }),
      svg(
        'rect',
        {
          x: left,
          y: yMid - 8,
          width: Math.max(meanW, 1.5),
          height: 16,
          rx: 3,
          class: 'duration-bar',
          dataset: { stageType: d.stage_type },
        },
        svg('title', { text: `${d.stage_type}: mean ${duration(d.mean_seconds)}, longest ${duration(d.max_seconds)}, ${d.count} stages` }),
      ),
      svg('line', { x1: maxX, x2: maxX, y1: yMid - 10, y2: yMid + 10, class: 'max-tick' }),
      svg('text', {
        x: left + width + 10,
        y: yMid + 4,
        class: 'axis note',
        text: `${duration(d.mean_seconds)} · max ${duration(d.max_seconds)} · ${d.count}×`,
      }),
    );
  });
  box.replaceChildren(root);
}
