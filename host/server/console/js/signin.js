// Sign in with an API key (sent as a bearer token, kept for this tab only) or with a user
// login (`POST /api/auth/login`, which sets an HttpOnly `sid` cookie); sign out.

import { h, field, announce, list, replace } from './dom.js';
import { session, signInWithKey, signInAsUser, signOut } from './api.js';

export const title = 'Sign in';

export function show(root) {
  if (session.who) {
    const who = session.who;
    replace(root,
      h('p', {}, `You are signed in as ${who.name}`, who.kind === 'key' ? ' with an API key' : ' (user session)', '.'),
      h('p', {}, `Scopes: ${list(who.scopes)}`),
      who.note ? h('p', { class: 'hint' }, who.note) : null,
      h('button', {
        type: 'button',
        onclick: async () => {
          await signOut();
          announce('Signed out');
          show(root);
        },
      }, 'Sign out'));
    return;
  }
  const error = h('p', { class: 'error', role: 'alert', hidden: true });
  const fail = (e) => {
    error.hidden = false;
    error.textContent = `Sign-in failed: ${e.message}`;
  };
  const done = (who) => {
    announce(`Signed in as ${who.name}`);
    location.hash = '#health';
  };

  const [keyField, keyInput] = field('API key', {
    type: 'password', name: 'api-key', autocomplete: 'off', required: true,
    hint: 'The admin key (SANCTUARY_ADMIN_TOKEN or the one printed on first start) or a scoped key. Kept in this tab only.',
  });
  const keyForm = h('form', {
    'aria-labelledby': 'signin-key-title',
    onsubmit: async (event) => {
      event.preventDefault();
      error.hidden = true;
      try {
        done(await signInWithKey(keyInput.value.trim()));
      } catch (e) {
        fail(e);
      }
    },
  }, h('h2', { id: 'signin-key-title' }, 'With an API key'), keyField,
  h('button', { type: 'submit' }, 'Sign in with key'));

  const [userField, userInput] = field('Username', { name: 'username', autocomplete: 'username', required: true });
  const [passField, passInput] = field('Password', { type: 'password', name: 'password', autocomplete: 'current-password', required: true });
  const userForm = h('form', {
    'aria-labelledby': 'signin-user-title',
    onsubmit: async (event) => {
      event.preventDefault();
      error.hidden = true;
      try {
        done(await signInAsUser(userInput.value.trim(), passInput.value));
      } catch (e) {
        fail(e);
      }
    },
  }, h('h2', { id: 'signin-user-title' }, 'As a user'), userField, passField,
  h('button', { type: 'submit' }, 'Sign in'));

  replace(root,
    h('p', {}, 'Reading is open to anyone this server lets read; installing, granting, enabling, binding routes and running jobs need a credential.'),
    error,
    h('div', { class: 'columns' }, userForm, keyForm));
}
