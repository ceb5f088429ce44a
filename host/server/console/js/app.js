// The console's shell: the sections, hash navigation (#plugins, #jobs, ...), the phone
// menu and the signed-in line. Each section is a module with `title` and `show(root)`.

import { h, replace, announce, list } from './dom.js';
import { session, restore, signOut } from './api.js';
import * as signin from './signin.js';
import * as health from './health.js';
import * as plugins from './plugins.js';
import * as install from './install.js';
import * as routes from './routes.js';
import * as jobs from './jobs.js';
import * as analytics from './analytics.js';
import * as reference from './reference.js';

const VIEWS = { signin, health, plugins, install, routes, jobs, analytics, reference };

const main = document.getElementById('main');
const nav = document.getElementById('main-nav');
const toggle = document.getElementById('menu-toggle');
let current = null;

function viewName() {
  const name = location.hash.replace(/^#/, '').split('/')[0];
  if (VIEWS[name]) return name;
  return session.who ? 'health' : 'signin';
}

async function show(event) {
  const name = viewName();
  if (current && current.hide) current.hide();
  const view = VIEWS[name];
  current = view;
  for (const link of nav.querySelectorAll('a[data-view]')) {
    if (link.dataset.view === name) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  closeMenu();
  const heading = h('h1', { tabindex: '-1', id: 'view-title' }, view.title);
  const body = h('div', { class: 'view-body' });
  replace(main, h('section', { class: 'view', 'aria-labelledby': 'view-title', id: `view-${name}` }, heading, body));
  document.title = `${view.title} · Sanctuary console`;
  // After a navigation, focus goes to the new view's heading; on first load it stays at
  // the top of the page, where the skip link is.
  if (event) heading.focus();
  try {
    await view.show(body, location.hash.replace(/^#/, '').split('/').slice(1));
  } catch (error) {
    body.append(h('p', { class: 'error', role: 'alert' }, `Could not load ${view.title}: ${error.message}`));
  }
}

function closeMenu() {
  toggle.setAttribute('aria-expanded', 'false');
  nav.classList.remove('open');
}

toggle.addEventListener('click', () => {
  const open = toggle.getAttribute('aria-expanded') !== 'true';
  toggle.setAttribute('aria-expanded', String(open));
  nav.classList.toggle('open', open);
  if (open) nav.querySelector('a').focus();
});

nav.addEventListener('keydown', (event) => {
  if (event.key === 'Escape' && nav.classList.contains('open')) {
    closeMenu();
    toggle.focus();
  }
});

function renderWho(who) {
  const box = document.getElementById('who');
  const signinLink = nav.querySelector('a[data-view="signin"]');
  if (!who) {
    replace(box, h('span', {}, 'Not signed in (reading only)'));
    signinLink.textContent = 'Sign in';
    return;
  }
  signinLink.textContent = 'Account';
  const scopes = list(who.scopes);
  replace(box,
    h('span', { id: 'signed-in-as' }, `Signed in as ${who.name}`, scopes !== '—' ? ` (${scopes})` : ''),
    ' ',
    h('button', {
      type: 'button',
      class: 'link-button',
      onclick: async () => {
        await signOut();
        announce('Signed out');
        location.hash = '#signin';
      },
    }, 'Sign out'));
}

// The skip link moves focus to the content without changing the hash (which names views).
document.querySelector('.skip').addEventListener('click', (event) => {
  event.preventDefault();
  main.focus();
});

session.listeners.add(renderWho);
window.addEventListener('hashchange', show);

restore().finally(() => show(null));
