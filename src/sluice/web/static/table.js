// One table: both hops' settings and state, how old its data is, the last error, its lake
// batches, rows and duration per run; "run now" and "reload" for admins.

import {
  UI,
  ago,
  api,
  badge,
  count,
  dateTime,
  dueIn,
  el,
  enc,
  hopLabel,
  patch,
  poll,
  runLink,
  setText,
  start,
  sync,
  timeEl,
  toast,
} from './common.js';
import { PALETTE, bars, spansMagnitudes } from './barchart.js';

const HOPS = ['source_to_dl', 'dl_to_sink'];
const OUTCOMES = [
  ['success', '#1a7f37'],
  ['failed', '#cf222e'],
  ['running', '#0969da'],
  ['pending', '#8c959f'],
];
const SCALES = ['auto', 'linear', 'log'];

const me = start();
if (me) main(me);

function main(me) {
  const prefix = `${UI}/tables/`;
  const name = decodeURIComponent(location.pathname.slice(location.pathname.indexOf(prefix) + prefix.length));
  const scaleSelect = document.getElementById('t-scale');
  const query = new URLSearchParams(location.search);
  scaleSelect.value = SCALES.includes(query.get('scale')) ? query.get('scale') : 'auto';
  document.getElementById('table-runs-link').href = `${UI}/runs?table=${enc(name)}`;
  document.title = `${name} · sluice`;
  setText(document.getElementById('table-title'), name);
  let busy = false; // a request of this page is in flight
  let armed = false; // "reload" pressed once: the next press confirms
  let shown = '';
  let last = null;

  const poller = poll(async () => {
    let table;
    try {
      table = await api('GET', `/api/tables/${enc(name)}`);
    } catch (error) {
      if (error.status === 404 || error.status === 422) {
        const missing = document.getElementById('table-missing');
        missing.textContent = `There is no table ${name}.`;
        missing.hidden = false;
        poller.stop();
        return;
      }
      throw error;
    }
    const [batches, runs] = await Promise.all([
      api('GET', `/api/tables/${enc(name)}/batches`).catch((error) => ({ error: error.message })),
      api('GET', `/api/runs?table=${enc(name)}&limit=100`),
    ]);
    last = { table, batches, runs: runs.items.slice().reverse() };
    render(last);
    const text = JSON.stringify([last.runs.map((r) => [r.id, r.status, r.duration_seconds]), scaleSelect.value]);
    if (text !== shown) {
      shown = text;
      charts(last.runs, scaleSelect.value);
    }
  });

  scaleSelect.addEventListener('change', () => {
    const params = new URLSearchParams();
    if (scaleSelect.value !== 'auto') params.set('scale', scaleSelect.value);
    history.replaceState(null, '', `${prefix}${enc(name)}${params.size ? `?${params}` : ''}`);
    if (last) charts(last.runs, scaleSelect.value);
  });
  let resizing = null;
  window.addEventListener('resize', () => {
    clearTimeout(resizing);
    resizing = setTimeout(() => last && charts(last.runs, scaleSelect.value), 150);
  });

  function render({ table, batches }) {
    const sink = table.sink_tablename !== table.source_tablename ? ` as ${table.sink_tablename}` : '';
    setText(
      document.getElementById('table-route'),
      `${table.source_name || table.source_type} → ${table.destination_name || table.sink_type}${sink}`,
    );
    patchInto(document.getElementById('table-actions'), actions(table));
    patchInto(document.getElementById('hop-cards'), el('div', { class: 'hop-cards-inner' }, HOPS.map((hop) => hopCard(table, hop))), 8);
    patchInto(document.getElementById('table-settings'), settings(table), 6);
    renderBatches(batches);
  }

  function actions(table) {
    const running = HOPS.some((hop) => table[hop].state === 'running');
    if (!me.admin) return el('span', {});
    return el(
      'span',
      { class: 'table-actions-inner' },
      el('button', {
        type: 'button',
        class: 'button primary',
        disabled: running || busy,
        'aria-label': `Run ${table.source_tablename} now`,
        text: 'Run now',
        onclick: () => launch('runs', table.source_tablename),
      }),
      el('button', {
        type: 'button',
        class: 'button',
        disabled: running || busy,
        'aria-label': `Reload ${table.source_tablename}`,
        title: 'Read the whole table afresh into the lake and swap the sink table in whole',
        text: armed ? 'Confirm reload' : 'Reload…',
        onclick: () => reload(table.source_tablename),
      }),
    );
  }

  async function reload(tableName) {
    if (!armed) {
      armed = true; // a reload reads the whole table again: ask once more
      if (last) render(last);
      setTimeout(() => {
        armed = false;
        if (last) render(last);
      }, 6000);
      return;
    }
    armed = false;
    await launch('reload', tableName);
  }

  async function launch(action, tableName) {
    busy = true;
    if (last) render(last);
    try {
      const started = await api('POST', `/api/tables/${enc(tableName)}/${action}`, { hop: 'all' });
      const what = action === 'reload' ? 'Reload' : 'Run';
      toast(`${what} #${started.run_id} of ${tableName} started.`, 'info', {
        href: `${UI}/runs/${Number(started.run_id)}`,
        text: 'Open',
      });
    } catch (error) {
      toast(error.message, 'error');
    } finally {
      busy = false;
      poller.now();
    }
  }
}

function patchInto(parent, fresh, depth = 4) {
  const old = parent.firstElementChild;
  if (old && parent.children.length === 1 && old.tagName === fresh.tagName) patch(old, fresh, depth);
  else parent.replaceChildren(fresh);
}

function fact(label, value, role) {
  return [el('dt', { text: label }), el('dd', { dataset: role ? { role } : {} }, value)];
}

function hopCard(table, hop) {
  const view = table[hop];
  const where = hop === 'source_to_dl' ? 'lake' : 'sink';
  let kind = 'full';
  if (view.load_type === 'incremental') {
    kind = view.incremental_key ? `incremental on ${view.incremental_key}` : 'incremental (new lake batches)';
  }
  const lastError = view.last_error
    ? el(
        'span',
        {},
        el('a', { href: `${UI}/runs/${Number(view.last_error_run_id)}`, class: 'error-line', title: view.last_error, text: view.last_error }),
      )
    : el('span', { class: 'muted', text: 'none' });
  return el(
    'div',
    { class: 'card', dataset: { hop } },
    el('h3', { text: `Hop ${hop === 'source_to_dl' ? 1 : 2}: ${hopLabel(hop)}` }),
    el(
      'dl',
      { class: 'facts-list two' },
      ...fact('State', badge(view.state, { role: 'state' })),
      ...fact('Load', kind),
      ...fact('Schedule', view.schedule_minutes ? `every ${view.schedule_minutes} min` : 'not scheduled'),
      ...fact('Next due', view.next_due_at ? timeEl(view.next_due_at, dueIn(view.next_due_at)) : 'not due'),
      ...fact(
        'Last run',
        view.last_run_at
          ? el('span', {}, view.last_run_status ? badge(view.last_run_status) : null, ' ', timeEl(view.last_run_at, ago(view.last_run_at)))
          : 'never run',
      ),
      ...fact(
        `Data age (${where})`,
        view.last_success_at ? timeEl(view.last_success_at, ago(view.last_success_at)) : `no ${where} data yet`,
        'data-age',
      ),
      ...fact('Last error', lastError, 'last-error'),
      ...fact('Watermark', view.last_incremental_value === null ? '—' : el('code', { text: view.last_incremental_value })),
    ),
  );
}

function settings(table) {
  return el(
    'dl',
    { class: 'facts-list two' },
    ...fact('Source', `${table.source_name || '—'} (${table.source_type})`),
    ...fact('Destination', `${table.destination_name || '—'} (${table.sink_type}), table ${table.sink_tablename}`),
    ...fact('Primary key', table.primary_key.length ? table.primary_key.join(', ') : 'none'),
    ...fact('Stage template', table.pipeline_name),
    ...fact('Hop order', table.hop_order === 'after' ? 'hop 2 follows hop 1' : 'independent'),
    ...fact('Schema contract', el('code', { text: table.schema_contract }), 'schema-contract'),
    ...fact('Look-back', table.lookback || 'none'),
    ...fact('Keys in the future', `${table.future_tolerance}, ${table.future_policy}${table.future_held ? `; ${table.future_held}` : ''}`),
    ...fact('Full snapshots kept', table.lake_keep_full === null ? '3 (default)' : String(table.lake_keep_full)),
    ...fact('Zero dates (MySQL)', table.zero_dates === 'null' ? 'read as NULL, counted in warnings' : 'fail the run'),
    ...fact('Nested values (MongoDB)', table.nested === 'json' ? 'JSON text' : 'structs and lists'),
  );
}

function renderBatches(batches) {
  const summary = document.getElementById('batches-summary');
  if (batches.error) {
    setText(summary, `The lake could not be read: ${batches.error}`);
    return;
  }
  const rows = batches.reduce((sum, b) => sum + b.rows, 0);
  setText(summary, `${batches.length} ${batches.length === 1 ? 'batch' : 'batches'}, ${count(rows)} rows`);
  document.getElementById('batches-empty').hidden = batches.length > 0;
  const newestFirst = batches.slice().reverse();
  sync(document.querySelector('#batches tbody'), newestFirst, (b) => b.batch, (b) =>
    el(
      'tr',
      { dataset: { batch: b.batch } },
      el('td', { class: 'num', text: String(b.batch) }),
      el('td', {}, b.reload ? badge('reload') : el('span', { text: b.load_type })),
      el('td', { class: 'num', text: count(b.rows) }),
      el('td', { class: 'num', text: bytes(b.bytes) }),
      el('td', {}, runLink(b.run_id)),
      el('td', {}, timeEl(b.created_at, ago(b.created_at)), el('span', { class: 'sub', text: dateTime(b.created_at) })),
      el('td', {}, b.key ? el('code', { class: 'watermark', text: `${b.key_min} … ${b.key_max}` }) : el('span', { class: 'muted', text: '—' })),
    ),
  );
}

function bytes(value) {
  if (value < 1024) return `${value} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = value / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i += 1;
  }
  return `${v.toFixed(1)} ${units[i]}`;
}

function stageRows(run, type) {
  return (run.stages || [])
    .filter((stage) => stage.stage_type === type && stage.status === 'success')
    .reduce((sum, stage) => sum + (stage.rows_processed || 0), 0);
}

function charts(runs, scale) {
  const categories = runs.map((run) => ({
    key: String(run.id),
    label: `#${run.id}`,
    title: `run #${run.id} (${hopLabel(run.hop)}), ${dateTime(run.started_at)}`,
  }));
  const rowSeries = [
    { name: 'extracted', color: PALETTE[0], values: runs.map((run) => stageRows(run, 'extract')) },
    { name: 'loaded', color: PALETTE[1], values: runs.map((run) => stageRows(run, 'load')) },
  ];
  const values = rowSeries.flatMap((s) => s.values);
  bars(document.getElementById('table-rows-chart'), categories, rowSeries, {
    unit: 'rows',
    emptyText: 'No runs yet.',
    log: scale === 'log' || (scale === 'auto' && spansMagnitudes(values)),
    ariaLabel: 'rows per run',
  });
  const durationSeries = OUTCOMES.map(([status, color]) => ({
    name: status,
    color,
    values: runs.map((run) => (run.status === status ? run.duration_seconds || 0 : 0)),
  }));
  bars(document.getElementById('table-duration-chart'), categories, durationSeries, {
    unit: 'seconds',
    emptyText: 'No runs yet.',
    log: scale === 'log' || (scale === 'auto' && spansMagnitudes(durationSeries.flatMap((s) => s.values))),
    ariaLabel: 'duration per run',
  });
}
