// Every call the console makes goes through here: same origin, the operator's credential
// (an API key as `Authorization: Bearer`, or the `sid` cookie of a user login).

const KEY = 'sanctuary-console-key';

/** Who is signed in: `{kind: 'key'|'user', name, scopes}` or null. */
export const session = {
  key: sessionStorage.getItem(KEY),
  who: null,
  listeners: new Set(),
  changed() {
    for (const listener of this.listeners) listener(this.who);
  },
};

/** An answer other than 2xx: its status and the server's own message. */
export class ApiError extends Error {
  constructor(status, message, body) {
    super(message);
    this.status = status;
    this.body = body;
  }
}

/** The message an error body carries, in any of the API's error shapes. */
function messageOf(body, response) {
  if (body && typeof body === 'object') {
    if (typeof body.message === 'string') return body.message;
    if (body.error && typeof body.error === 'object' && body.error.message) return body.error.message;
    if (typeof body.error === 'string') return body.error;
  }
  return `${response.status} ${response.statusText}`;
}

/** `method path` with an optional JSON body; answers the parsed JSON or throws ApiError. */
export async function api(method, path, body, { raw = false } = {}) {
  const headers = { accept: 'application/json' };
  if (session.key) headers.authorization = `Bearer ${session.key}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: 'same-origin',
    cache: 'no-store',
  });
  let parsed = null;
  const text = await response.text();
  if (text) {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = text;
    }
  }
  if (!response.ok) throw new ApiError(response.status, messageOf(parsed, response), parsed);
  return raw ? { body: parsed, headers: response.headers } : parsed;
}

export const get = (path) => api('GET', path);
export const post = (path, body) => api('POST', path, body);

/** Signs in with an API key: checks it against a route that needs a credential. */
export async function signInWithKey(key) {
  session.key = key;
  try {
    await get('/api/auth/keys');
    session.who = { kind: 'key', name: 'API key', scopes: ['admin'] };
  } catch (error) {
    if (error.status === 403) {
      // A valid key without the admin scope: the server names what it lacks.
      session.who = { kind: 'key', name: 'API key', scopes: [], note: error.message };
    } else {
      session.key = null;
      throw error;
    }
  }
  sessionStorage.setItem(KEY, key);
  session.changed();
  return session.who;
}

/** Signs in as a user (`POST /api/auth/login`); the server sets the `sid` cookie. */
export async function signInAsUser(username, password) {
  const answer = await post('/api/auth/login', { username, password });
  session.key = null;
  sessionStorage.removeItem(KEY);
  session.who = { kind: 'user', name: answer.user.username, scopes: answer.user.scopes };
  session.changed();
  return session.who;
}

/** Restores a session after a reload: a stored key, or a live `sid` cookie. */
export async function restore() {
  if (session.key) {
    try {
      return await signInWithKey(session.key);
    } catch {
      sessionStorage.removeItem(KEY);
      session.key = null;
    }
  }
  // A login also sets a `user_id` cookie scripts may read; without it there is no session
  // to look for (the `sid` cookie itself is HttpOnly).
  if (!document.cookie.split(';').some((c) => c.trim().startsWith('user_id=') && c.trim().length > 8)) {
    session.who = null;
    session.changed();
    return null;
  }
  try {
    const answer = await get('/api/auth/verify_session');
    session.who = { kind: 'user', name: answer.user.username, scopes: answer.user.scopes };
  } catch {
    session.who = null;
  }
  session.changed();
  return session.who;
}

/** Signs out: ends a user session on the server and forgets a key. */
export async function signOut() {
  if (session.who && session.who.kind === 'user') {
    try {
      await post('/api/auth/logout');
    } catch {
      // The cookie is cleared below either way.
    }
  }
  session.key = null;
  sessionStorage.removeItem(KEY);
  session.who = null;
  session.changed();
}
