import { createSessionClient } from '/assets/client/session-client.js';

const $ = (selector) => document.querySelector(selector);

/** What the page says when the session ends, by the error type the client reports. */
const SIGNED_OUT_REASONS = {
  UNAUTHORISED: 'Your session was ended (signed out elsewhere or revoked).',
  UNAUTHORISED_AND_TOKEN_THEFT_DETECTED:
    'Your session was ended because its sign-in was used from two places (possible theft). Please sign in again.',
  NO_SESSION: 'Your session has ended (signed out in another tab, or expired).',
};
/** Why the session ended, by the revocation reason the server tells this session's holder. */
const REVOCATION_MESSAGES = {
  'signed-out': 'You signed out (in another tab or window).',
  revoked: 'This session was signed out from another device.',
  'others-revoked': 'This session was signed out from another device ("sign out everywhere else").',
  'signed-out-everywhere': 'You were signed out everywhere.',
  theft: SIGNED_OUT_REASONS.UNAUTHORISED_AND_TOKEN_THEFT_DETECTED,
  limit: 'You signed in on more devices than allowed: this older session was ended.',
  expired: 'Your session expired.',
  'impersonation-ended': 'The impersonation has ended.',
};
/** A revoked browser learns it at its next request; this check makes one after a quiet spell. */
const CHECK_EVERY_MS = 30_000;
const DRAFT_KEY = 'nts-sample-note-draft';

/** The sentence for a session that ended: the server's reason when it gave one, else its error type. */
function signedOutMessage({ type, reason }) {
  if (reason === undefined) return SIGNED_OUT_REASONS[type] ?? SIGNED_OUT_REASONS.NO_SESSION;
  return REVOCATION_MESSAGES[reason] ?? `Your session was ended (reason: ${reason}).`;
}

const session = createSessionClient({ onSignedOut: (event) => signedOut(signedOutMessage(event)) });
let shownUserId; // whose notes (and draft) the page shows

function show(section, status) {
  $('#signed-in').hidden = section !== 'signed-in';
  $('#signed-out').hidden = section !== 'signed-out';
  $('#status').textContent = status;
}

/** Shows the sign-in form, with the reason when the session was ended rather than left. */
function signedOut(reason) {
  show('signed-out', 'You are signed out.');
  $('#signed-out-reason').textContent = reason ?? '';
  $('#signed-out-reason').hidden = !reason;
  $('#draft-kept').hidden = !noteInput().value.trim();
}

const noteInput = () => $('#note-form').elements.text;

/** The note being typed survives a sign-out and a reload (per tab), for the user who typed it. */
function saveDraft() {
  try {
    sessionStorage.setItem(DRAFT_KEY, JSON.stringify({ userId: shownUserId, text: noteInput().value }));
  } catch {
    // storage disabled: the text stays in the field as long as the page is open
  }
}

function restoreDraft(userId) {
  let draft;
  try {
    draft = JSON.parse(sessionStorage.getItem(DRAFT_KEY) ?? 'null');
  } catch {
    draft = null;
  }
  noteInput().value = draft?.userId === userId && typeof draft.text === 'string' ? draft.text : '';
}

/** Epoch ms as a date and how long ago (or ahead) it is. */
function time(ms) {
  const seconds = Math.round((ms - Date.now()) / 1000);
  const [value, unit] =
    Math.abs(seconds) < 60
      ? [seconds, 'second']
      : Math.abs(seconds) < 3600
        ? [Math.round(seconds / 60), 'minute']
        : Math.abs(seconds) < 86_400
          ? [Math.round(seconds / 3600), 'hour']
          : [Math.round(seconds / 86_400), 'day'];
  const relative = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' }).format(value, unit);
  return `${new Date(ms).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' })} (${relative})`;
}

/** A failed request: the error type and message the server sent. */
class RequestFailed extends Error {
  constructor(status, body) {
    super(body?.message ?? `the server answered ${status}`);
    this.status = status;
    this.type = body?.type;
  }
}

async function json(path, init) {
  scheduleCheck(); // any request tells whether the session holds: check only after a quiet spell
  const response = await session.fetch(path, {
    ...init,
    headers: init?.body ? { 'content-type': 'application/json' } : undefined,
  });
  if (!response.ok) throw new RequestFailed(response.status, await response.json().catch(() => null));
  return response.status === 204 ? null : response.json();
}

/**
 * Reports a failed action where it happened. A session that ended was already reported by the
 * client's `onSignedOut` (with the server's reason); a missing cookie means it ended too.
 */
function failed(error, what, place) {
  if (!$('#signed-out').hidden) return;
  if (!session.hasSession()) return signedOut(SIGNED_OUT_REASONS.NO_SESSION);
  place.textContent = `Could not ${what}: ${error instanceof Error ? error.message : String(error)}.`;
}

/** An event listener that runs `run` and reports its failure, so no rejection goes uncaught. */
function action(what, place, run) {
  return (event) => {
    event.preventDefault();
    place.textContent = '';
    run(event).catch((error) => failed(error, what, place));
  };
}

async function render() {
  if (!session.hasSession()) return signedOut();
  try {
    const me = await json('/me');
    if (me.userId !== shownUserId) {
      shownUserId = me.userId;
      restoreDraft(me.userId);
    }
    $('#who').textContent = me.username;
    show('signed-in', `Signed in (user ${me.userId}).`);
    await Promise.all([renderNotes(), renderSessions()]);
  } catch (error) {
    failed(error, 'load your data', $('#status'));
  }
}

async function renderNotes() {
  const notes = await json('/notes');
  $('#notes').replaceChildren(
    ...notes.map((note) => Object.assign(document.createElement('li'), { textContent: note.text })),
  );
}

function cell(...children) {
  const td = document.createElement('td');
  td.append(...children);
  return td;
}

async function renderSessions() {
  const sessions = await json('/sessions');
  const lastActive = (entry) => entry.lastActiveAt ?? entry.lastRefreshedAt;
  sessions.sort(
    (a, b) => Number(Boolean(b.current)) - Number(Boolean(a.current)) || lastActive(b) - lastActive(a),
  );
  $('#sessions').replaceChildren(
    ...sessions.map((entry) => {
      const row = document.createElement('tr');
      row.className = entry.current ? 'current' : '';
      row.dataset.handle = entry.handle;
      const name = entry.current
        ? Object.assign(document.createElement('strong'), { textContent: 'This device' })
        : (entry.label ?? 'Another device');
      const id = Object.assign(document.createElement('small'), {
        textContent: ` ${entry.handle.slice(0, 8)}`,
      });
      row.append(
        cell(name, id),
        cell(time(entry.createdAt)),
        cell(time(lastActive(entry))),
        cell(time(entry.expiresAt)),
        cell(entry.device?.browser ?? 'Unknown browser'),
        cell(entry.device?.os ?? 'Unknown OS'),
        cell(entry.ip ?? '—'),
      );
      row.children[4].className = 'browser';
      row.children[5].className = 'os';
      row.children[6].className = 'network';
      const actions = cell();
      if (!entry.current) {
        const button = Object.assign(document.createElement('button'), {
          textContent: 'Revoke',
          className: 'revoke',
        });
        button.addEventListener(
          'click',
          action('revoke the session', $('#sessions-message'), async () => {
            const where = [entry.device?.browser, entry.device?.os].filter(Boolean).join(' on ');
            const question = `Sign out the session that signed in ${time(entry.createdAt)}${where ? ` from ${where}` : ''}? That browser or device is signed out at its next request.`;
            if (!confirm(question)) return;
            await json(`/sessions/${entry.handle}`, { method: 'DELETE' });
            $('#sessions-message').textContent = 'Session revoked.';
            await renderSessions();
          }),
        );
        actions.append(button);
      }
      row.append(actions);
      return row;
    }),
  );
}

async function signIn(path) {
  const form = new FormData($('#login-form'));
  const body = JSON.stringify({
    username: form.get('username'),
    password: form.get('password'),
    // Unticked: the session's cookies end with the browser session (and it idles out sooner).
    rememberMe: form.get('rememberMe') === 'on',
  });
  const response = await session.fetch(path, {
    method: 'POST',
    body,
    headers: { 'content-type': 'application/json' },
  });
  if (response.ok) {
    $('#signed-out-reason').hidden = true;
    return render();
  }
  const error = await response.json().catch(() => ({}));
  $('#login-error').textContent =
    error.type === 'LOGIN_FAILED'
      ? 'Wrong username or password.'
      : (error.message ?? `Failed (${response.status})`);
}

let checkTimer;
function scheduleCheck() {
  clearTimeout(checkTimer);
  checkTimer = setTimeout(() => void check(), CHECK_EVERY_MS);
}

/** Whether the session still holds, asked of the server (one light request). */
async function check() {
  if ($('#signed-in').hidden) return;
  if (!session.hasSession()) return signedOut(SIGNED_OUT_REASONS.NO_SESSION);
  if (document.visibilityState !== 'visible') return; // a hidden tab asks when it is shown again
  try {
    const me = await json('/me');
    $('#status').textContent = `Signed in (user ${me.userId}).`;
  } catch (error) {
    failed(error, 'check your session', $('#status'));
  }
}

$('#login-form').addEventListener(
  'submit',
  action('sign in', $('#login-error'), () => signIn('/auth/login')),
);
$('#signup-button').addEventListener(
  'click',
  action('sign up', $('#login-error'), () => signIn('/auth/signup')),
);
$('#logout-button').addEventListener(
  'click',
  action('sign out', $('#status'), async () => {
    await session.fetch('/auth/logout', { method: 'POST' });
    if ($('#signed-out').hidden) signedOut();
  }),
);
$('#note-form').addEventListener(
  'submit',
  action('add the note (it is kept here)', $('#note-error'), async () => {
    await json('/notes', { method: 'POST', body: JSON.stringify({ text: noteInput().value }) });
    noteInput().value = '';
    saveDraft();
    await renderNotes();
  }),
);
noteInput().addEventListener('input', saveDraft);
$('#revoke-others-button').addEventListener(
  'click',
  action('sign out the other sessions', $('#sessions-message'), async () => {
    if (!confirm('Sign out all your other sessions? Only this browser stays signed in.')) return;
    const { revoked } = await json('/sessions/revoke-others', { method: 'POST' });
    $('#sessions-message').textContent = `Signed out ${revoked} other session${revoked === 1 ? '' : 's'}.`;
    await renderSessions();
  }),
);

document.addEventListener('visibilitychange', () => document.visibilityState === 'visible' && void check());
// Another tab signed out or was signed out: the client dropped the shared anti-csrf token.
addEventListener(
  'storage',
  (event) => event.key === 'nestjs-token-session' && !event.newValue && void check(),
);

// Expose the client for tests and for poking around in the console.
window.sessionClient = session;
window.refreshView = render;
void render();
