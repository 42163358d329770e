// Tables overview: both hops of every table, live; "run now" and the active switches for admins.

import {
  ApiError,
  UI,
  ago,
  api,
  badge,
  dueIn,
  el,
  enc,
  finished,
  hopLabel,
  liveRows,
  parseTime,
  patch,
  poll,
  progress,
  runLink,
  setText,
  start,
  sync,
  timeEl,
  toast,
  duration,
} from './common.js';

const HOPS = ['source_to_dl', 'dl_to_sink'];

/** 90 -> "90 min", 60 -> "1 h", 1440 -> "1 d". */
function every(minutes) {
  if (minutes % 1440 === 0) return `${minutes / 1440} d`;
  if (minutes % 60 === 0) return `${minutes / 60} h`;
  return `${minutes} min`;
}
const HOP_NUMBER = { source_to_dl: 1, dl_to_sink: 2 };

const me = start();
if (me) main(me);

function main(me) {
  const grid = document.getElementById('tables');
  const empty = document.getElementById('tables-empty');
  const groups = new Map(); // table name -> its <tbody> (two rows: hop 1, hop 2)
  const tracked = new Map(); // table name -> the run started from this page {id, run}
  const starting = new Set(); // table names whose "run now" request is in flight
  const switching = new Map(); // "table/hop" -> the active value being sent
  let tables = [];
  let schedulerRunning = true; // until the first answer says otherwise

  const poller = poll(refresh);

  async function refresh() {
    // Tracked runs first, so a run shown finished is never older than the hops' state.
    await Promise.all(
      [...tracked.values()]
        .filter((entry) => !finished(entry.run))
        .map(async (entry) => {
          try {
            entry.run = await api('GET', `/api/runs/${entry.id}`);
          } catch (error) {
            if (error instanceof ApiError && error.status === 404) entry.run = { gone: true };
            else throw error;
          }
        }),
    );
    const [fresh, recent, scheduler] = await Promise.all([
      api('GET', '/api/tables'),
      api('GET', '/api/runs?limit=8'),
      api('GET', '/api/scheduler'),
    ]);
    tables = fresh;
    schedulerRunning = scheduler.running;
    renderScheduler(scheduler);
    render();
    renderRecent(recent.items);
  }

  function render() {
    // A control replaced by the update keeps the keyboard focus (found by its label).
    const focused = document.activeElement && document.activeElement.getAttribute('aria-label');
    update();
    if (focused && !grid.contains(document.activeElement)) {
      const again = [...grid.querySelectorAll('[aria-label]')].find(
        (node) => node.getAttribute('aria-label') === focused,
      );
      if (again) again.focus();
    }
  }

  function update() {
    empty.hidden = tables.length > 0;
    const names = new Set(tables.map((table) => table.source_tablename));
    for (const [name, body] of groups) {
      if (!names.has(name)) {
        body.remove();
        groups.delete(name);
      }
    }
    let previous = grid.tHead;
    for (const table of tables) {
      const fresh = group(table);
      const name = table.source_tablename;
      const old = groups.get(name);
      const body = old ? patch(old, fresh, 3) : fresh;
      groups.set(name, body);
      if (previous.nextElementSibling !== body) previous.after(body);
      previous = body;
    }
    renderSummary();
  }

  function renderScheduler(scheduler) {
    const node = document.getElementById('scheduler');
    node.classList.toggle('off', !scheduler.running);
    if (scheduler.running) {
      const pass = scheduler.last_pass_at ? `, last pass ${ago(scheduler.last_pass_at)}` : '';
      setText(node, `Scheduler running (${scheduler.holder})${pass}`);
    } else {
      setText(node, 'No scheduler is running: due hops wait until `sluice scheduler` runs');
    }
  }

  function renderSummary() {
    const hops = tables.flatMap((table) => HOPS.map((hop) => table[hop]));
    const running = hops.filter((hop) => hop.state === 'running').length;
    const failed = hops.filter((hop) => hop.last_run_status === 'failed').length;
    const paused = hops.filter((hop) => hop.state === 'paused').length;
    const parts = [`${tables.length} ${tables.length === 1 ? 'table' : 'tables'}`];
    parts.push(`${running} ${running === 1 ? 'hop' : 'hops'} running`);
    if (failed) parts.push(`${failed} last failed`);
    if (paused) parts.push(`${paused} paused`);
    setText(document.getElementById('summary'), parts.join(' · '));
  }

  // ---- one table: two rows ------------------------------------------------------------------
  function group(table) {
    const name = table.source_tablename;
    const body = el('tbody', { class: 'table-group', dataset: { table: name } });
    HOPS.forEach((hop, index) => {
      const row = el('tr', { dataset: { hop } });
      if (index === 0) row.append(nameCell(table));
      row.append(...hopCells(table, hop));
      if (index === 0 && me.admin) row.append(actionCell(table));
      body.append(row);
    });
    return body;
  }

  function nameCell(table) {
    const sink =
      table.sink_tablename && table.sink_tablename !== table.source_tablename
        ? ` as ${table.sink_tablename}`
        : '';
    return el(
      'th',
      { scope: 'rowgroup', rowspan: 2, class: 'table-name' },
      el('a', {
        href: `${UI}/tables/${enc(table.source_tablename)}`,
        class: 'name',
        text: table.source_tablename,
        title: 'This table: settings, lake batches, runs over time',
      }),
      el('span', {
        class: 'sub',
        text: `${table.source_name || table.source_type} → ${table.destination_name || table.sink_type}${sink}`,
      }),
      table.pipeline_name !== 'default'
        ? el('span', { class: 'sub', text: `pipeline ${table.pipeline_name}` })
        : null,
    );
  }

  function hopCells(table, hop) {
    const view = table[hop];
    const number = HOP_NUMBER[hop];
    const lastRun = el(
      'td',
      { class: 'last-run' },
      el(
        'span',
        { class: 'last-run-line' },
        view.last_run_status ? badge(view.last_run_status, { role: 'last-status' }) : null,
        view.last_run_at
          ? timeEl(view.last_run_at, ago(view.last_run_at))
          : el('span', { class: 'muted', text: 'never run' }),
      ),
      view.last_error
        ? el('a', {
            class: 'error-line',
            href: `${UI}/runs/${Number(view.last_error_run_id)}`,
            title: view.last_error,
            dataset: { role: 'last-error' },
            text: view.last_error,
          })
        : null,
    );
    return [
      el(
        'td',
        { class: 'hop' },
        el('span', { class: 'hop-number', title: hopLabel(hop), text: String(number) }),
        badge(view.state, { role: 'state' }),
        el('span', { class: 'sub hop-name', text: hopLabel(hop) }),
      ),
      lastRun,
      freshness(table, hop),
      loadCell(view, hop),
      scheduleCell(view),
      activeCell(table, hop),
    ];
  }

  /** When the hop's data was last brought up to date, and how far the sink trails the lake. */
  function freshness(table, hop) {
    const at = table[hop].last_success_at;
    const where = hop === 'source_to_dl' ? 'lake' : 'sink';
    // Missed its target (twice its schedule): said first, so nobody has to compute it.
    const stale = table[hop].stale
      ? el('span', {
          class: 'badge s-failed',
          dataset: { role: 'stale' },
          title: `no success within ${duration(table[hop].fresh_within_seconds)} (twice its schedule)`,
          text: 'stale',
        })
      : null;
    if (!at) {
      return el('td', { class: 'fresh', dataset: { role: 'fresh' } }, stale, el('span', { class: 'muted', text: 'none yet' }));
    }
    let lag = null;
    const lake = parseTime(table.source_to_dl.last_success_at);
    const sink = parseTime(at);
    if (hop === 'dl_to_sink' && lake && sink && lake > sink) {
      lag = `${duration((lake - sink) / 1000)} behind the lake`;
    }
    return el(
      'td',
      { class: 'fresh', dataset: { role: 'fresh' } },
      stale,
      el('span', {}, `${where} `, timeEl(at, ago(at))),
      lag ? el('span', { class: 'sub', dataset: { role: 'lag' }, text: lag }) : null,
    );
  }

  function loadCell(view, hop) {
    const watermark = view.last_incremental_value;
    // Hop 2 without a key of its own keeps the last lake batch it loaded as its watermark.
    const batches = hop === 'dl_to_sink' && !view.incremental_key;
    let mark = 'no watermark yet';
    if (watermark !== null) mark = batches ? `loaded through batch ${watermark}` : `watermark ${watermark}`;
    let kind = 'full';
    if (view.load_type === 'incremental') {
      kind = view.incremental_key ? `incremental on ${view.incremental_key}` : 'incremental (new lake batches)';
    }
    return el(
      'td',
      { class: 'load' },
      el('span', { dataset: { role: 'load' }, text: kind }),
      watermark !== null || view.load_type === 'incremental'
        ? el('code', {
            class: 'watermark',
            title: mark,
            dataset: { role: 'watermark' },
            text: mark,
          })
        : null,
    );
  }

  /** "due now" only when a scheduler will start it. */
  function due(at) {
    const text = dueIn(at);
    return text === 'due now' && !schedulerRunning ? 'due (no scheduler)' : text;
  }

  function scheduleCell(view) {
    return el(
      'td',
      { class: 'schedule' },
      el('span', {
        text: view.schedule_minutes ? `every ${every(view.schedule_minutes)}` : 'not scheduled',
      }),
      view.next_due_at
        ? el(
            'span',
            { class: 'sub', dataset: { role: 'next-due' } },
            timeEl(view.next_due_at, due(view.next_due_at)),
          )
        : el('span', { class: 'sub muted', text: 'not due' }),
    );
  }

  function activeCell(table, hop) {
    const name = table.source_tablename;
    const key = `${name}/${hop}`;
    const active = switching.has(key) ? switching.get(key) : table[hop].is_active;
    if (!me.admin) {
      return el('td', { class: 'active' }, el('span', { text: active ? 'on' : 'off' }));
    }
    const input = el('input', {
      type: 'checkbox',
      role: 'switch',
      checked: active,
      disabled: switching.has(key),
      'aria-label': `Hop ${HOP_NUMBER[hop]} of ${name} active`,
      onchange: (event) => setActive(table, hop, event.target.checked),
    });
    return el(
      'td',
      { class: 'active' },
      el('label', { class: 'switch' }, input, el('span', { class: 'slider', 'aria-hidden': 'true' })),
    );
  }

  function actionCell(table) {
    const name = table.source_tablename;
    const entry = tracked.get(name);
    const busy =
      starting.has(name) ||
      HOPS.some((hop) => table[hop].state === 'running') ||
      (entry && entry.run && !entry.run.gone && !finished(entry.run));
    const cell = el('td', { rowspan: 2, class: 'actions' });
    if (me.admin) {
      cell.append(
        el('button', {
          type: 'button',
          class: 'button primary',
          disabled: busy,
          'aria-label': `Run ${name} now`,
          title: busy ? 'A run of this table is in progress' : 'Run both hops now',
          text: starting.has(name) ? 'Starting…' : 'Run now',
          onclick: () => runNow(name),
        }),
      );
    }
    if (entry && entry.run && !entry.run.gone) cell.append(trackedRun(entry.run));
    return cell;
  }

  function trackedRun(run) {
    const current =
      run.status === 'running' && run.stages && run.stages.length
        ? run.stages[run.stages.length - 1]
        : null;
    const live = current ? liveRows(current) : '';
    return el(
      'div',
      { class: 'tracked', dataset: { runId: run.id } },
      runLink(run.id),
      badge(run.status, { role: 'run-status' }),
      current ? el('span', { class: 'sub', text: current.stage_name || current.stage_type }) : null,
      live ? el('span', { class: 'sub', dataset: { role: 'live-rows' }, text: live }) : null,
      finished(run) ? el('span', { class: 'sub', text: duration(run.duration_seconds) }) : null,
    );
  }

  // ---- actions ------------------------------------------------------------------------------
  async function runNow(name) {
    starting.add(name);
    render();
    try {
      const started = await api('POST', `/api/tables/${enc(name)}/runs`, { hop: 'all' });
      tracked.set(name, { id: started.run_id, run: { id: started.run_id, status: started.status } });
      toast(`Run #${started.run_id} of ${name} started.`, 'info', {
        href: `${UI}/runs/${Number(started.run_id)}`,
        text: 'Open',
      });
    } catch (error) {
      const active = error.body && error.body.active_run_id;
      if (error.status === 409 && active) {
        tracked.set(name, { id: active, run: { id: active, status: 'running' } });
      }
      toast(error.message, 'error');
    } finally {
      starting.delete(name);
      render();
      poller.now();
    }
  }

  async function setActive(table, hop, active) {
    const name = table.source_tablename;
    const key = `${name}/${hop}`;
    switching.set(key, active);
    render();
    try {
      const updated = await api('POST', `/api/tables/${enc(name)}/${active ? 'resume' : 'pause'}`, {
        hop,
      });
      tables = tables.map((t) => (t.source_tablename === name ? updated : t));
      toast(`${active ? 'Resumed' : 'Paused'} hop ${HOP_NUMBER[hop]} of ${name}.`);
    } catch (error) {
      toast(error.message, 'error');
    } finally {
      switching.delete(key);
      render();
      poller.now();
    }
  }

  // ---- latest runs --------------------------------------------------------------------------
  function renderRecent(runs) {
    document.getElementById('recent-empty').hidden = runs.length > 0;
    sync(document.querySelector('#recent tbody'), runs, (run) => run.id, recentRow);
  }

  function recentRow(run) {
    return el(
      'tr',
      { dataset: { runId: run.id } },
      el('td', {}, runLink(run.id)),
      el('td', { text: run.source_tablename }),
      el('td', { text: hopLabel(run.hop) }),
      el('td', {}, badge(run.status)),
      el('td', {}, progress(run)),
      el('td', { text: run.triggered_by || '—' }),
      el('td', {}, timeEl(run.started_at, run.started_at ? ago(run.started_at) : 'not started')),
      el('td', { class: 'num', text: duration(run.duration_seconds) }),
    );
  }
}
