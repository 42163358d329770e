// What every page shares: the session (the token lives in this tab's sessionStorage), calls to
// the REST API, polling, DOM building and formatting.
//
// Every value from the API reaches the page as text (textContent, attributes, SVG text), never
// as markup, so a table or stage name cannot inject anything into the page.

export const UI = '/ui';
const KEY = 'sluice.session';
const SVG_NS = 'http://www.w3.org/2000/svg';

// ---- session ---------------------------------------------------------------------------------
export const session = {
  get() {
    try {
      const value = JSON.parse(sessionStorage.getItem(KEY) || 'null');
      return value && typeof value.token === 'string' ? value : null;
    } catch {
      return null;
    }
  },
  save(token, who) {
    sessionStorage.setItem(KEY, JSON.stringify({ token, role: who.role, name: who.name }));
  },
  clear() {
    sessionStorage.removeItem(KEY);
  },
};

/** Where to go after signing in: only a dashboard page of this site. */
export function safeNext(value) {
  return typeof value === 'string' && value.startsWith(`${UI}/`) && !value.includes('\\')
    ? value
    : `${UI}/`;
}

export function signOut(reason) {
  session.clear();
  const query = new URLSearchParams();
  if (reason) query.set('reason', reason);
  const here = location.pathname + location.search;
  if (here.startsWith(`${UI}/`) && !here.startsWith(`${UI}/login`)) query.set('next', here);
  location.assign(`${UI}/login?${query}`);
}

/**
 * The start of every signed-in page: back to the login page without a session, otherwise
 * the header (who, sign out, current page). Returns {admin, role, name} or null.
 */
export function start() {
  const current = session.get();
  if (!current) {
    signOut();
    return null;
  }
  const nav = document.body.dataset.nav;
  for (const link of document.querySelectorAll('.nav a')) {
    if (link.dataset.nav === nav) link.setAttribute('aria-current', 'page');
  }
  const who = document.getElementById('who');
  const admin = current.role === 'admin';
  who.replaceChildren(
    el('span', { class: 'who-name', text: current.name || 'token' }),
    el('span', {
      class: `role role-${admin ? 'admin' : 'viewer'}`,
      text: admin ? 'admin' : 'viewer · read-only',
    }),
  );
  who.hidden = false;
  const out = document.getElementById('signout');
  out.hidden = false;
  out.addEventListener('click', () => signOut('signedout'));
  document.body.classList.toggle('read-only', !admin);
  return { admin, role: current.role, name: current.name };
}

// ---- the REST API ----------------------------------------------------------------------------
export class ApiError extends Error {
  constructor(status, detail, body) {
    super(detail);
    this.status = status;
    this.body = body;
  }
}

/** Calls the API with the session's token; a 401 ends the session (the token was refused). */
export async function api(method, path, body) {
  const current = session.get();
  const headers = { Accept: 'application/json' };
  if (current) headers.Authorization = `Bearer ${current.token}`;
  const init = { method, headers, cache: 'no-store', credentials: 'omit' };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch {
    throw new ApiError(0, 'the sluice server cannot be reached', null);
  }
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (response.status === 401) {
    signOut('expired');
    throw new ApiError(401, 'the token was refused', data);
  }
  if (!response.ok) {
    const detail = data && typeof data.detail === 'string' ? data.detail : `HTTP ${response.status}`;
    throw new ApiError(response.status, detail, data);
  }
  return data;
}

export const enc = encodeURIComponent;

// ---- polling ---------------------------------------------------------------------------------
/**
 * Runs `task` now and then `every` ms after each run ends (never two at once); pauses while
 * the tab is hidden. `now()` runs it again as soon as possible; `stop()` ends it.
 */
export function poll(task, every = 2000) {
  let timer = null;
  let running = false;
  let again = false;
  let stopped = false;

  async function tick() {
    timer = null;
    if (stopped || document.hidden) return;
    running = true;
    try {
      await task();
      live(true);
    } catch (error) {
      if (!(error instanceof ApiError && error.status === 401)) live(false, error.message);
    }
    running = false;
    if (!stopped) timer = setTimeout(tick, again ? 0 : every);
    again = false;
  }

  document.addEventListener('visibilitychange', () => {
    if (!document.hidden && timer === null && !running && !stopped) tick();
  });
  tick();
  return {
    now() {
      if (running) {
        again = true;
      } else if (!stopped) {
        clearTimeout(timer);
        tick();
      }
    },
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}

function live(ok, message) {
  const node = document.getElementById('live');
  if (!node) return;
  node.hidden = false;
  node.classList.toggle('offline', !ok);
  setText(node, ok ? 'Live' : 'Offline, retrying');
  node.title = ok ? `Updated ${clock(new Date())}` : message || '';
}

// ---- DOM -------------------------------------------------------------------------------------
function build(node, props, children) {
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') node.setAttribute('class', value);
    else if (key === 'text') node.textContent = String(value);
    else if (key === 'dataset') Object.assign(node.dataset, value);
    else if (key === 'style') Object.assign(node.style, value);
    else if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

/** An HTML element: el('a', {href, class, text, dataset, onclick}, ...children). */
export function el(tag, props, ...children) {
  return build(document.createElement(tag), props, children);
}

/** An SVG element, likewise. */
export function svg(tag, props, ...children) {
  return build(document.createElementNS(SVG_NS, tag), props, children);
}

export function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}

/**
 * Makes `old` look like `fresh`, replacing only what differs, `depth` levels down, so a poll
 * that changes one cell leaves every other element (and the focus) alone.
 */
export function patch(old, fresh, depth = 2) {
  if (old.outerHTML === fresh.outerHTML) return old;
  const sameShell =
    old.cloneNode(false).outerHTML === fresh.cloneNode(false).outerHTML &&
    old.children.length === fresh.children.length &&
    old.childNodes.length === old.children.length &&
    fresh.childNodes.length === fresh.children.length;
  if (depth === 0 || !sameShell) {
    old.replaceWith(fresh);
    return fresh;
  }
  const olds = [...old.children];
  const freshes = [...fresh.children];
  olds.forEach((child, i) => patch(child, freshes[i], depth - 1));
  return old;
}

/** Keyed rows: keeps a row whose content is unchanged, replaces the rest, keeps the order. */
export function sync(parent, items, key, row) {
  const old = new Map([...parent.children].map((node) => [node.dataset.key, node]));
  const next = items.map((item) => {
    const fresh = row(item);
    fresh.dataset.key = String(key(item));
    const previous = old.get(fresh.dataset.key);
    return previous ? patch(previous, fresh, 1) : fresh;
  });
  const kids = parent.children;
  if (next.length !== kids.length || next.some((node, i) => kids[i] !== node)) {
    parent.replaceChildren(...next);
  }
}

export function toast(message, kind = 'info', link) {
  const box = document.getElementById('toasts');
  const item = el(
    'div',
    { class: `toast toast-${kind}` },
    el('span', { text: message }),
    link ? el('a', { href: link.href, text: link.text }) : null,
  );
  box.append(item);
  setTimeout(() => item.remove(), kind === 'error' ? 10000 : 6000);
}

// ---- pieces of pages -------------------------------------------------------------------------
const STATUS = /^[a-z_]+$/;

export function badge(status, extra) {
  const value = typeof status === 'string' && STATUS.test(status) ? status : 'unknown';
  return el('span', { class: `badge s-${value}`, dataset: extra, text: status || 'never' });
}

export const HOPS = { source_to_dl: 'source → lake', dl_to_sink: 'lake → sink', all: 'both hops' };

export function hopLabel(hop) {
  return HOPS[hop] || hop;
}

export function runLink(id) {
  return el('a', { href: `${UI}/runs/${Number(id)}`, class: 'run-id', text: `#${id}` });
}

/** A run's stages as a segmented bar: one segment per stage of its template. */
export function progress(run) {
  // A run of one hop logs its template's stage orders (4, 5, 6 for hop 2): segments follow
  // the stages logged, then one grey segment per stage still to come.
  const logged = [...(run.stages || [])].sort((a, b) => a.stage_order - b.stage_order);
  const total = Math.max(run.total_stages || 0, logged.length);
  const segments = logged.map((stage) =>
    el('span', { class: `seg s-${STATUS.test(stage.status) ? stage.status : 'unknown'}` }),
  );
  const rest = finished(run) ? 'skipped' : 'waiting';
  for (let i = logged.length; i < total; i += 1) segments.push(el('span', { class: `seg s-${rest}` }));
  const done = logged.filter((stage) => stage.status === 'success').length;
  const current = logged.find((stage) => stage.status === 'running');
  const live = run.status === 'running' && current ? liveRows(current) : '';
  return el(
    'span',
    { class: 'progress', title: `${done} of ${total} stages done` },
    el('span', { class: 'segs' }, segments),
    el('span', { class: 'progress-text', text: `${done}/${total}` }),
    live ? el('span', { class: 'progress-live', dataset: { role: 'live-rows' }, text: live }) : null,
  );
}

/** The running stage's rows so far and rate, e.g. "12,400 rows · 3,100 rows/s". */
export function liveRows(stage) {
  if (!stage || stage.rows_processed === null || stage.rows_processed === undefined) return '';
  const rows = `${count(stage.rows_processed)} rows`;
  const began = parseTime(stage.started_at);
  const seconds = began ? (Date.now() - began.getTime()) / 1000 : 0;
  if (stage.status !== 'running' || seconds < 1) return rows;
  return `${rows} · ${count(Math.round(stage.rows_processed / seconds))} rows/s`;
}

export function finished(run) {
  return run && (run.status === 'success' || run.status === 'failed');
}

// ---- formatting ------------------------------------------------------------------------------
const pad = (n) => String(n).padStart(2, '0');

export function parseTime(iso) {
  if (!iso) return null;
  const at = new Date(iso);
  return Number.isNaN(at.getTime()) ? null : at;
}

export function clock(at) {
  return `${pad(at.getHours())}:${pad(at.getMinutes())}:${pad(at.getSeconds())}`;
}

/** Local date and time, to the second. */
export function dateTime(iso) {
  const at = parseTime(iso);
  if (!at) return '—';
  return `${at.getFullYear()}-${pad(at.getMonth() + 1)}-${pad(at.getDate())} ${clock(at)}`;
}

function span(seconds) {
  const s = Math.abs(seconds);
  if (s < 60) return `${Math.round(s)} s`;
  if (s < 3600) return `${Math.round(s / 60)} min`;
  if (s < 86400 * 2) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86400)} d`;
}

export function ago(iso) {
  const at = parseTime(iso);
  if (!at) return 'never';
  const seconds = (Date.now() - at.getTime()) / 1000;
  return seconds < 10 ? 'just now' : `${span(seconds)} ago`;
}

export function dueIn(iso) {
  const at = parseTime(iso);
  if (!at) return '—';
  const seconds = (at.getTime() - Date.now()) / 1000;
  return seconds <= 0 ? 'due now' : `in ${span(seconds)}`;
}

/** A time element: local time shown (or a relative text), UTC in its tooltip. */
export function timeEl(iso, text) {
  const at = parseTime(iso);
  if (!at) return el('span', { class: 'muted', text: text || '—' });
  return el('time', {
    datetime: at.toISOString(),
    title: `${at.toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC')}`,
    text: text || dateTime(iso),
  });
}

export function duration(seconds) {
  if (seconds === null || seconds === undefined || Number.isNaN(seconds)) return '—';
  if (seconds < 10) return `${seconds.toFixed(seconds < 1 ? 3 : 2)} s`;
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s`;
  return `${Math.floor(seconds / 3600)} h ${Math.round((seconds % 3600) / 60)} min`;
}

export function count(value) {
  return value === null || value === undefined ? '—' : Number(value).toLocaleString('en-US');
}

/** 1234567 -> 1.2M, for chart axes. */
export function compact(value) {
  const units = [
    [1e9, 'G'],
    [1e6, 'M'],
    [1e3, 'k'],
  ];
  for (const [size, unit] of units) {
    if (Math.abs(value) >= size) return `${+(value / size).toFixed(1)}${unit}`;
  }
  return `${+value.toFixed(2)}`;
}
