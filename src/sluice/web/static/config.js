// Config as code: load the current document, show what applying an edited one would change,
// and apply exactly the plan that was shown (an edit after the plan asks for a new plan).

import { api, el, start, toast } from './common.js';

const me = start();
if (me) main();

function main() {
  const doc = document.getElementById('doc');
  const prune = document.getElementById('prune');
  const applyButton = document.getElementById('apply');
  let planned = null; // the {document, prune} the shown plan is of

  const stale = () => {
    planned = null;
    applyButton.disabled = true;
  };
  doc.addEventListener('input', stale);
  prune.addEventListener('change', stale);

  document.getElementById('load').addEventListener('click', async () => {
    try {
      const exported = await api('GET', '/api/config/export');
      doc.value = exported.document;
      stale();
      show(null);
    } catch (error) {
      toast(error.message, 'error');
    }
  });

  if (!me.admin) {
    // A viewer may read the config; plans and changes need an admin token.
    for (const id of ['plan', 'apply']) document.getElementById(id).disabled = true;
    return;
  }

  document.getElementById('plan').addEventListener('click', async () => {
    const body = { document: doc.value, prune: prune.checked };
    try {
      const plan = await api('POST', '/api/config/plan', body);
      show(plan);
      planned = plan.steps.length ? body : null;
      applyButton.disabled = planned === null;
    } catch (error) {
      stale();
      show(null);
      toast(error.message, 'error');
    }
  });

  applyButton.addEventListener('click', async () => {
    if (!planned) return;
    try {
      const done = await api('POST', '/api/config/apply', planned);
      show(done);
      stale();
      toast(`Applied: ${summary(done.changes)}.`, 'info');
    } catch (error) {
      toast(error.message, 'error');
    }
  });
}

function summary(changes) {
  return `${changes.add} added, ${changes.change} changed, ${changes.remove} removed`;
}

function show(plan) {
  const card = document.getElementById('plan-card');
  const list = document.getElementById('plan-steps');
  if (!plan) {
    card.hidden = true;
    list.replaceChildren();
    return;
  }
  card.hidden = false;
  const verb = plan.applied ? 'Applied' : 'Plan';
  document.getElementById('plan-title').textContent = plan.steps.length
    ? `${verb}: ${summary(plan.changes)}`
    : 'No changes: the config matches the document';
  list.replaceChildren(
    ...plan.steps.map((step) =>
      el(
        'li',
        { class: `plan-${step.action}` },
        el('span', { class: 'plan-mark', text: { add: '+', change: '~', remove: '−' }[step.action] }),
        el('strong', { text: ` ${step.kind} ${step.name}` }),
        step.fields.length
          ? el(
              'ul',
              {},
              ...step.fields.map((f) =>
                el('li', {
                  text:
                    step.action === 'add'
                      ? `${f.field}: ${shown(f.new)}`
                      : `${f.field}: ${shown(f.old)} → ${shown(f.new)}`,
                }),
              ),
            )
          : null,
      ),
    ),
  );
}

function shown(value) {
  if (value === null || value === undefined) return '–';
  return typeof value === 'string' ? value : JSON.stringify(value);
}
