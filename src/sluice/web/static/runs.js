// Run history: filters kept in the address (so a filtered view can be shared), pages by cursor.

import {
  UI,
  ago,
  api,
  badge,
  count,
  duration,
  el,
  hopLabel,
  poll,
  progress,
  runLink,
  start,
  sync,
  timeEl,
} from './common.js';

const FILTERS = { table: 'f-table', status: 'f-status', triggered_by: 'f-triggered', hop: 'f-hop' };
const PAGE = 50;

const me = start();
if (me) main();

function main() {
  const form = document.getElementById('filters');
  const body = document.querySelector('#runs tbody');
  const query = new URLSearchParams(location.search);
  let cursor = query.get('cursor');

  for (const [name, id] of Object.entries(FILTERS)) {
    const select = document.getElementById(id);
    const value = query.get(name);
    if (value && name === 'table') select.append(el('option', { value, text: value }));
    if (value) select.value = value;
  }
  fillTables(query.get('table'));

  const poller = poll(refresh);

  form.addEventListener('change', () => {
    cursor = null; // new filters start from the newest run
    remember();
    poller.now();
  });
  document.getElementById('f-clear').addEventListener('click', () => {
    for (const id of Object.values(FILTERS)) document.getElementById(id).value = '';
    cursor = null;
    remember();
    poller.now();
  });

  function filters() {
    const wanted = new URLSearchParams();
    for (const [name, id] of Object.entries(FILTERS)) {
      const value = document.getElementById(id).value;
      if (value) wanted.set(name, value);
    }
    return wanted;
  }

  function remember() {
    const wanted = filters();
    if (cursor) wanted.set('cursor', cursor);
    const search = wanted.toString();
    history.replaceState(null, '', `${UI}/runs${search ? `?${search}` : ''}`);
  }

  async function refresh() {
    const wanted = filters();
    wanted.set('limit', String(PAGE));
    if (cursor) wanted.set('cursor', cursor);
    const page = await api('GET', `/api/runs?${wanted}`);
    document.getElementById('runs-empty').hidden = page.items.length > 0;
    sync(body, page.items, (run) => run.id, row);
    pager(page.next_cursor);
  }

  function pager(next) {
    const older = document.getElementById('older');
    const newest = document.getElementById('newest');
    const base = filters();
    older.hidden = !next;
    if (next) {
      base.set('cursor', next);
      older.href = `${UI}/runs?${base}`;
    }
    newest.hidden = !cursor;
    base.delete('cursor');
    newest.href = `${UI}/runs${base.toString() ? `?${base}` : ''}`;
  }

  async function fillTables(chosen) {
    try {
      const tables = await api('GET', '/api/tables');
      const select = document.getElementById('f-table');
      const names = tables.map((table) => table.source_tablename);
      if (chosen && !names.includes(chosen)) names.push(chosen); // a removed table's history
      select.replaceChildren(
        el('option', { value: '', text: 'all' }),
        ...names.map((name) => el('option', { value: name, text: name })),
      );
      select.value = chosen || '';
    } catch {
      // The list of runs still works; the poll reports the connection.
    }
  }
}

function rowsOf(run, type) {
  const stage = (run.stages || []).find((s) => s.stage_type === type);
  return stage ? stage.rows_processed : null;
}

function row(run) {
  return el(
    'tr',
    { dataset: { runId: run.id, status: run.status } },
    el('td', {}, runLink(run.id)),
    el('td', { text: run.source_tablename }),
    el('td', { text: hopLabel(run.hop) }),
    el('td', {}, badge(run.status)),
    el('td', {}, progress(run)),
    el('td', { text: run.triggered_by || '—' }),
    el('td', {}, timeEl(run.started_at, run.started_at ? ago(run.started_at) : 'not started')),
    el('td', { class: 'num', text: duration(run.duration_seconds) }),
    el('td', {
      class: 'num',
      title: 'Rows extracted from the source / loaded into the sink',
      text: `${count(rowsOf(run, 'extract'))} / ${count(rowsOf(run, 'load'))}`,
    }),
  );
}
