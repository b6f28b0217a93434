import { createSessionClient } from '/assets/session-client.js';

const $ = (selector) => document.querySelector(selector);
const session = createSessionClient({ onSignedOut: () => show('signed-out', 'You are signed out.') });

function show(section, status) {
  $('#signed-in').hidden = section !== 'signed-in';
  $('#signed-out').hidden = section !== 'signed-out';
  $('#status').textContent = status;
}

const time = (ms) => new Date(ms).toLocaleString();

async function json(path, init) {
  const response = await session.fetch(path, {
    ...init,
    headers: init?.body ? { 'content-type': 'application/json' } : undefined,
  });
  if (!response.ok) throw Object.assign(new Error(`${response.status}`), { response });
  return response.status === 204 ? null : response.json();
}

async function render() {
  if (!session.hasSession()) return show('signed-out', 'You are signed out.');
  try {
    const me = await json('/me');
    $('#who').textContent = me.username;
    show('signed-in', `Signed in (user ${me.userId}).`);
    await Promise.all([renderNotes(), renderSessions()]);
  } catch (error) {
    if (!session.hasSession()) show('signed-out', 'You are signed out.');
    else $('#status').textContent = `Could not load: ${error.message}`;
  }
}

async function renderNotes() {
  const notes = await json('/notes');
  $('#notes').replaceChildren(
    ...notes.map((note) => Object.assign(document.createElement('li'), { textContent: note.text })),
  );
}

async function renderSessions() {
  const sessions = await json('/sessions');
  $('#sessions').replaceChildren(
    ...sessions.map((entry) => {
      const row = document.createElement('tr');
      row.className = entry.current ? 'current' : '';
      row.dataset.handle = entry.handle;
      for (const text of [
        `${entry.handle.slice(0, 8)}…${entry.current ? ' (this browser)' : ''}`,
        time(entry.createdAt),
        time(entry.lastRefreshedAt),
        time(entry.expiresAt),
      ]) {
        row.append(Object.assign(document.createElement('td'), { textContent: text }));
      }
      const cell = document.createElement('td');
      if (!entry.current) {
        const button = Object.assign(document.createElement('button'), { textContent: 'Revoke', className: 'revoke' });
        button.addEventListener('click', async () => {
          await json(`/sessions/${entry.handle}`, { method: 'DELETE' });
          await renderSessions();
        });
        cell.append(button);
      }
      row.append(cell);
      return row;
    }),
  );
}

async function signIn(path) {
  const form = new FormData($('#login-form'));
  const body = JSON.stringify({ username: form.get('username'), password: form.get('password') });
  const response = await session.fetch(path, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
  if (response.ok) {
    $('#login-error').textContent = '';
    return render();
  }
  const error = await response.json().catch(() => ({}));
  $('#login-error').textContent =
    error.type === 'LOGIN_FAILED' ? 'Wrong username or password.' : error.message ?? `Failed (${response.status})`;
}

$('#login-form').addEventListener('submit', (event) => {
  event.preventDefault();
  void signIn('/auth/login');
});
$('#signup-button').addEventListener('click', () => void signIn('/auth/signup'));
$('#logout-button').addEventListener('click', async () => {
  await session.fetch('/auth/logout', { method: 'POST' });
  show('signed-out', 'You are signed out.');
});
$('#note-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const input = event.target.elements.text;
  await json('/notes', { method: 'POST', body: JSON.stringify({ text: input.value }) });
  input.value = '';
  await renderNotes();
});
$('#revoke-others-button').addEventListener('click', async () => {
  await json('/sessions/revoke-others', { method: 'POST' });
  await renderSessions();
});

// Expose the client for tests and for poking around in the console.
window.sessionClient = session;
window.refreshView = render;
void render();
