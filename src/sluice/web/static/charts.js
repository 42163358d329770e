// Charts drawn as inline SVG: rows loaded and run outcomes per day (from /api/stats), per hour
// or per run (from the runs of the window, /api/runs), on a linear or log axis, and the mean
// (and longest) duration of each stage type.

import { UI, api, count, duration, el, poll, setText, start, svg } from './common.js';
import { PALETTE, bars, spansMagnitudes, widthOf } from './barchart.js';

const OUTCOMES = [
  ['success', '#1a7f37'],
  ['failed', '#cf222e'],
  ['running', '#0969da'],
  ['pending', '#8c959f'],
];
const PER = ['day', 'hour', 'run'];
const SCALES = ['auto', 'linear', 'log'];
const RUN_PAGES = 5; // at most 1,000 runs per drawing (pages of 200)
let last = null; // what was drawn, redrawn when the window is resized

const me = start();
if (me) main();

function main() {
  const query = new URLSearchParams(location.search);
  const table = document.getElementById('c-table');
  const days = document.getElementById('c-days');
  const per = document.getElementById('c-per');
  const scaleSelect = document.getElementById('c-scale');
  if (query.get('table')) table.append(el('option', { value: query.get('table'), text: query.get('table') }));
  table.value = query.get('table') || '';
  days.value = ['7', '14', '30', '90'].includes(query.get('days')) ? query.get('days') : '7';
  per.value = PER.includes(query.get('per')) ? query.get('per') : 'day';
  scaleSelect.value = SCALES.includes(query.get('scale')) ? query.get('scale') : 'auto';
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

  function wanted() {
    const params = new URLSearchParams({ days: days.value });
    if (table.value) params.set('table', table.value);
    if (per.value !== 'day') params.set('per', per.value);
    if (scaleSelect.value !== 'auto') params.set('scale', scaleSelect.value);
    return params;
  }

  const poller = poll(async () => {
    const params = new URLSearchParams({ days: days.value });
    if (table.value) params.set('table', table.value);
    const stats = await api('GET', `/api/stats?${params}`);
    const runs = per.value === 'day' ? [] : await windowRuns(stats.since, table.value);
    const view = { stats, runs, per: per.value, scale: scaleSelect.value };
    const text = JSON.stringify(view);
    if (text === shown) return; // redraw only when a figure changed
    shown = text;
    last = view;
    draw(view);
  });

  let resizing = null;
  window.addEventListener('resize', () => {
    clearTimeout(resizing);
    resizing = setTimeout(() => last && draw(last), 150);
  });

  document.getElementById('chart-filters').addEventListener('change', () => {
    history.replaceState(null, '', `${UI}/charts?${wanted()}`);
    poller.now();
  });
}

/** The runs started in the window, oldest first. */
async function windowRuns(since, table) {
  const found = [];
  let cursor = null;
  for (let page = 0; page < RUN_PAGES; page += 1) {
    const params = new URLSearchParams({ since, limit: '200' });
    if (table) params.set('table', table);
    if (cursor) params.set('cursor', cursor);
    const answer = await api('GET', `/api/runs?${params}`);
    found.push(...answer.items);
    cursor = answer.next_cursor;
    if (!cursor) break;
  }
  return found.reverse();
}

function loaded(run) {
  return (run.stages || [])
    .filter((stage) => stage.stage_type === 'load' && stage.status === 'success')
    .reduce((sum, stage) => sum + (stage.rows_processed || 0), 0);
}

function logScale(choice, values) {
  return choice === 'log' || (choice === 'auto' && spansMagnitudes(values));
}

function draw(view) {
  tiles(view.stats);
  const titles = {
    day: ['Rows loaded per day', '(by table, UTC days)', 'Run outcomes per day', '(UTC days)'],
    hour: ['Rows loaded per hour', '(by table, local time)', 'Run outcomes per hour', '(local time)'],
    run: ['Rows loaded per run', '(by table, oldest first)', 'Duration per run', '(seconds, by outcome)'],
  }[view.per];
  setText(document.getElementById('rows-title'), titles[0]);
  setText(document.getElementById('rows-note'), titles[1]);
  setText(document.getElementById('outcomes-title'), titles[2]);
  setText(document.getElementById('outcomes-note'), titles[3]);
  const { categories, rowSeries, outcomeSeries, outcomeUnit } =
    view.per === 'day' ? byDay(view.stats) : view.per === 'hour' ? byHour(view) : byRun(view.runs);
  const rowValues = rowSeries.flatMap((s) => s.values);
  bars(document.getElementById('rows-chart'), categories, rowSeries, {
    unit: 'rows',
    emptyText: 'No rows were loaded in this window.',
    log: logScale(view.scale, rowValues),
    ariaLabel: titles[0],
  });
  bars(document.getElementById('outcomes-chart'), categories, outcomeSeries, {
    unit: outcomeUnit,
    emptyText: 'No runs in this window.',
    log: logScale(view.scale, outcomeSeries.flatMap((s) => s.values)),
    ariaLabel: titles[2],
  });
  durations(view.stats.stage_durations);
}

function byDay(stats) {
  const dayList = utcDays(stats.since, stats.until);
  const categories = dayList.map((day) => ({ key: day, label: day.slice(5), title: day }));
  const tables = [...new Set(stats.rows_loaded_per_day.map((r) => r.table))].sort();
  const rows = new Map(stats.rows_loaded_per_day.map((r) => [`${r.table}|${r.day}`, r.rows]));
  const rowSeries = tables.map((name, i) => ({
    name,
    color: PALETTE[i % PALETTE.length],
    values: dayList.map((day) => rows.get(`${name}|${day}`) || 0),
  }));
  const perDay = new Map(stats.runs_per_day.map((d) => [d.day, d]));
  const outcomeSeries = OUTCOMES.map(([status, color]) => ({
    name: status,
    color,
    values: dayList.map((day) => (perDay.get(day) ? perDay.get(day)[status] : 0)),
  }));
  return { categories, rowSeries, outcomeSeries, outcomeUnit: 'runs' };
}

const pad = (n) => String(n).padStart(2, '0');

function hourKey(at) {
  return `${at.getFullYear()}-${pad(at.getMonth() + 1)}-${pad(at.getDate())} ${pad(at.getHours())}:00`;
}

function byHour(view) {
  const hours = [];
  const end = Math.min(new Date(view.stats.until).getTime(), Date.now());
  const first = view.runs.length ? new Date(view.runs[0].started_at || view.stats.since) : new Date(view.stats.since);
  const at = new Date(Math.max(first.getTime(), end - 48 * 3600000));
  at.setMinutes(0, 0, 0);
  for (let t = at.getTime(); t <= end; t += 3600000) hours.push(hourKey(new Date(t)));
  const index = new Map(hours.map((h, i) => [h, i]));
  const tables = [...new Set(view.runs.map((r) => r.source_tablename))].sort();
  const rowSeries = tables.map((name, i) => ({ name, color: PALETTE[i % PALETTE.length], values: hours.map(() => 0) }));
  const outcomeSeries = OUTCOMES.map(([status, color]) => ({ name: status, color, values: hours.map(() => 0) }));
  for (const run of view.runs) {
    if (!run.started_at) continue;
    const i = index.get(hourKey(new Date(run.started_at)));
    if (i === undefined) continue;
    rowSeries[tables.indexOf(run.source_tablename)].values[i] += loaded(run);
    const outcome = outcomeSeries.find((s) => s.name === run.status);
    if (outcome) outcome.values[i] += 1;
  }
  const categories = hours.map((h) => ({ key: h, label: h.slice(11), title: h }));
  return { categories, rowSeries, outcomeSeries, outcomeUnit: 'runs' };
}

function byRun(runs) {
  const shown = runs.slice(-120); // a bar stays wide enough to point at
  const categories = shown.map((run) => ({
    key: String(run.id),
    label: `#${run.id}`,
    title: `run #${run.id} of ${run.source_tablename}`,
  }));
  const tables = [...new Set(shown.map((r) => r.source_tablename))].sort();
  const rowSeries = tables.map((name, i) => ({
    name,
    color: PALETTE[i % PALETTE.length],
    values: shown.map((run) => (run.source_tablename === name ? loaded(run) : 0)),
  }));
  const outcomeSeries = OUTCOMES.map(([status, color]) => ({
    name: status,
    color,
    values: shown.map((run) => (run.status === status ? run.duration_seconds || 0 : 0)),
  }));
  return { categories, rowSeries, outcomeSeries, outcomeUnit: 'seconds' };
}

function tiles(stats) {
  const by = stats.runs_by_status;
  const runs = Object.values(by).reduce((a, b) => a + b, 0);
  const loadedRows = stats.rows_loaded_per_day.reduce((a, r) => a + r.rows, 0);
  const rate = stats.success_rate === null ? '—' : `${(stats.success_rate * 100).toFixed(1)} %`;
  const items = [
    ['Runs', count(runs), ''],
    ['Success rate', rate, 'success / (success + failed)'],
    ['Failed', count(by.failed || 0), ''],
    ['Running now', count((by.running || 0) + (by.pending || 0)), 'running or about to start'],
    ['Rows loaded', count(loadedRows), 'into sinks'],
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
