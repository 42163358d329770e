// One run: its facts, its stages as a timeline of duration bars, and a table of rows and files.

import {
  UI,
  ago,
  api,
  badge,
  count,
  dateTime,
  duration,
  el,
  enc,
  finished,
  hopLabel,
  liveRows,
  parseTime,
  patch,
  poll,
  setText,
  start,
  sync,
  timeEl,
} from './common.js';

const me = start();
if (me) main();

function main() {
  const match = /\/runs\/(\d+)/.exec(location.pathname);
  const id = match ? Number(match[1]) : NaN;
  let poller = null;

  poller = poll(async () => {
    let run;
    try {
      run = await api('GET', `/api/runs/${id}`);
    } catch (error) {
      if (error.status === 404 || error.status === 422) {
        const missing = document.getElementById('run-missing');
        missing.textContent = `There is no run ${match ? match[1] : ''}.`;
        missing.hidden = false;
        poller.stop();
        return;
      }
      throw error;
    }
    render(run);
    if (finished(run)) poller.stop(); // nothing changes any more
  });
}

function render(run) {
  document.title = `Run #${run.id} · sluice`;
  setText(document.getElementById('run-title'), `Run #${run.id} · ${run.source_tablename}`);
  const status = document.getElementById('run-status');
  patchInto(status, badge(run.status, { role: 'run-status' }));

  const facts = el(
    'dl',
    { class: 'facts-list' },
    fact('Table', el('a', { href: `${UI}/runs?table=${enc(run.source_tablename)}`, text: run.source_tablename })),
    fact('Hop', hopLabel(run.hop)),
    fact('Pipeline', run.pipeline_name || 'default'),
    fact('Triggered by', run.triggered_by || '—'),
    fact('Started', timeEl(run.started_at)),
    fact('Completed', timeEl(run.completed_at, run.completed_at ? undefined : '—')),
    fact('Duration', finished(run) ? duration(run.duration_seconds) : running(run)),
    finished(run) ? null : fact('Heartbeat', timeEl(run.heartbeat_at, ago(run.heartbeat_at))),
  );
  patchInto(document.getElementById('run-facts'), facts);

  const error = document.getElementById('run-error');
  error.hidden = !run.error_message;
  if (run.error_message) {
    patchInto(error, el('div', {}, el('strong', { text: 'Error' }), el('pre', { text: run.error_message })));
  }

  const logged = run.stages.length;
  const done = run.stages.filter((stage) => stage.status === 'success').length;
  setText(
    document.getElementById('run-progress'),
    `${done} of ${Math.max(run.total_stages, logged)} stages done`,
  );
  patchInto(document.getElementById('timeline'), timeline(run));
  sync(
    document.querySelector('#stages tbody'),
    run.stages,
    (stage) => stage.stage_order,
    stageRow,
  );
}

function running(run) {
  const at = parseTime(run.started_at);
  return at ? `${duration((Date.now() - at.getTime()) / 1000)} so far` : 'not started';
}

function fact(label, value) {
  return el('div', { class: 'fact' }, el('dt', { text: label }), el('dd', {}, value));
}

/** Puts `fresh` in `parent` as its only child, changing only what differs. */
function patchInto(parent, fresh) {
  const old = parent.firstElementChild;
  if (old && parent.children.length === 1) patch(old, fresh, 6);
  else parent.replaceChildren(fresh);
}

// ---- the timeline ----------------------------------------------------------------------------
function span(stage, now) {
  const begin = parseTime(stage.started_at);
  if (!begin) return null;
  const end = parseTime(stage.completed_at);
  if (end) return [begin.getTime(), end.getTime()];
  if (stage.status === 'running') return [begin.getTime(), now];
  const took = stage.time_taken === null ? 0 : stage.time_taken * 1000;
  return [begin.getTime(), begin.getTime() + took];
}

function timeline(run) {
  const now = Date.now();
  const spans = run.stages.map((stage) => span(stage, now));
  const starts = spans.filter(Boolean).map((s) => s[0]);
  const runStart = parseTime(run.started_at);
  const t0 = runStart ? runStart.getTime() : Math.min(...starts);
  const ends = spans.filter(Boolean).map((s) => s[1]);
  const runEnd = parseTime(run.completed_at);
  const t1 = Math.max(runEnd ? runEnd.getTime() : now, ...ends, t0 + 1);
  const total = t1 - t0;

  if (!Number.isFinite(t0)) {
    return el('p', { class: 'empty', text: 'The run has not started yet.' });
  }
  const rows = run.stages.map((stage, i) => {
    const s = spans[i];
    const track = el('div', { class: 'track' });
    if (s) {
      const left = ((s[0] - t0) / total) * 100;
      const width = Math.max(((s[1] - s[0]) / total) * 100, 0.4);
      track.append(
        el('div', {
          class: `bar s-${/^[a-z_]+$/.test(stage.status) ? stage.status : 'unknown'}`,
          title: `${stage.stage_name || stage.stage_type}: ${stage.status}, ${duration(stage.time_taken)}, from ${dateTime(stage.started_at)}`,
          style: { left: `${Math.min(left, 99.6)}%`, width: `${Math.min(width, 100 - left)}%` },
        }),
      );
    }
    return el(
      'div',
      {
        class: 'tl-row',
        dataset: { stageOrder: stage.stage_order, stageType: stage.stage_type || '', status: stage.status },
      },
      el(
        'div',
        { class: 'tl-label' },
        el('span', { class: 'tl-order', text: String(stage.stage_order) }),
        el('span', { class: 'tl-name', text: stage.stage_name || stage.stage_type || 'stage' }),
        el('span', { class: 'tl-type', text: stage.stage_type || '' }),
      ),
      track,
      el('div', {
        class: 'tl-time',
        text: stage.status === 'running' && s ? duration((s[1] - s[0]) / 1000) : duration(stage.time_taken),
      }),
    );
  });
  for (let order = run.stages.length + 1; order <= run.total_stages; order += 1) {
    rows.push(
      el(
        'div',
        { class: 'tl-row waiting', dataset: { stageOrder: order, status: 'waiting' } },
        el(
          'div',
          { class: 'tl-label' },
          el('span', { class: 'tl-order', text: String(order) }),
          el('span', { class: 'tl-name muted', text: run.status === 'failed' ? 'not run' : 'waiting' }),
        ),
        el('div', { class: 'track' }),
        el('div', { class: 'tl-time', text: '' }),
      ),
    );
  }
  const axis = el('div', { class: 'tl-axis' });
  for (const fraction of [0, 0.25, 0.5, 0.75, 1]) {
    axis.append(
      el('span', {
        class: 'tick',
        style: { left: `${fraction * 100}%` },
        text: duration((total * fraction) / 1000),
      }),
    );
  }
  return el(
    'div',
    { class: 'tl' },
    ...rows,
    el('div', { class: 'tl-row axis-row' }, el('div', { class: 'tl-label' }), axis, el('div')),
  );
}

// ---- the stage table -------------------------------------------------------------------------
function stageRow(stage) {
  const files = stage.file_paths || [];
  const filesCell = files.length
    ? el(
        'details',
        {},
        el('summary', { text: `${files.length} ${files.length === 1 ? 'file' : 'files'}` }),
        el('ul', { class: 'files' }, files.map((path) => el('li', {}, el('code', { text: path })))),
      )
    : el('span', { class: 'muted', text: '—' });
  const row = el(
    'tr',
    { dataset: { stageType: stage.stage_type || '' } },
    el('td', { class: 'num', text: String(stage.stage_order) }),
    el(
      'td',
      {},
      el('span', { text: stage.stage_name || '—' }),
      stage.error_message ? el('pre', { class: 'stage-error', text: stage.error_message }) : null,
    ),
    el('td', {}, el('code', { text: stage.stage_type || '—' })),
    el('td', {}, badge(stage.status)),
    el('td', {
      class: 'num',
      dataset: { role: 'rows' },
      text: stage.status === 'running' ? liveRows(stage) || 'starting' : count(stage.rows_processed),
    }),
    el('td', { class: 'num', text: duration(stage.time_taken) }),
    el('td', { class: 'num', text: stage.attempts === null ? '—' : String(stage.attempts) }),
    el('td', {}, filesCell),
  );
  return row;
}
