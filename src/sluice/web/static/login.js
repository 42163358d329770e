// The login page: a pasted token is checked against the server, then kept in this tab only.

import { UI, safeNext, session } from './common.js';

const REASONS = {
  expired: 'The server refused the token (unknown or revoked). Sign in with a valid one.',
  signedout: 'Signed out.',
};

const query = new URLSearchParams(location.search);
const next = safeNext(query.get('next'));
const form = document.getElementById('login-form');
const input = document.getElementById('token');
const error = document.getElementById('login-error');
const submit = document.getElementById('login-submit');

function say(message, kind) {
  error.textContent = message;
  error.className = kind === 'info' ? 'form-note' : 'form-error';
  error.hidden = !message;
}

if (session.get()) {
  location.replace(next);
} else {
  const reason = REASONS[query.get('reason')];
  if (reason) say(reason, query.get('reason') === 'signedout' ? 'info' : 'error');
  input.focus();
}

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  const token = input.value.trim();
  if (!token) {
    say('Paste a token first.');
    return;
  }
  submit.disabled = true;
  say('');
  try {
    // Not through api(): a refused token here is a message, not a sign-out.
    const response = await fetch(`${UI}/session`, {
      headers: { Authorization: `Bearer ${token}`, Accept: 'application/json' },
      cache: 'no-store',
      credentials: 'omit',
    });
    if (response.ok) {
      session.save(token, await response.json());
      input.value = '';
      location.replace(next);
      return;
    }
    say(
      response.status === 401
        ? 'That token is unknown or revoked. Make one with `sluice token create`.'
        : `The server answered ${response.status}; try again.`,
    );
  } catch {
    say('The sluice server cannot be reached.');
  } finally {
    submit.disabled = false;
  }
});
