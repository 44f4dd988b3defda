// The viewer's shell: routes (#/workflows, #/workflow, #/log, #/search, #/login), the signed-in
// user, the theme and the keyboard shortcuts shared by every page.
import { api, setCsrf } from './api.js';
import { route, link, esc } from './util.js';
import * as workflows from './workflows.js';
import * as workflow from './workflow.js';
import * as log from './logview.js';
import * as search from './search.js';
import * as login from './login.js';

const pages = { workflows, workflow, log, search, login };
const main = document.getElementById('main');
let current = null; // { page, unmount, onKey }
export const session = { login: false, user: null };

function show() {
  const [name, params] = route();
  if (session.login && !session.user && name !== 'login') {
    location.replace(link('login', { next: location.hash || '#/workflows' }));
    return;
  }
  if (current?.unmount) current.unmount();
  main.replaceChildren();
  const page = pages[name] || workflows;
  current = page.mount(main, params) || {};
  for (const a of document.querySelectorAll('header nav a')) a.classList.toggle('on', a.dataset.nav.split(' ').includes(name));
}

function showUser() {
  const who = document.getElementById('who');
  if (!session.user) { who.replaceChildren(); return; }
  who.innerHTML = `<span title="roles: ${esc((session.roles || []).join(', '))}">${esc(session.user)}</span> <button id="logout" class="link">Sign out</button>`;
  who.querySelector('#logout').onclick = async () => {
    try { await api('ui/logout', {}, { method: 'POST' }); } catch { /* signed out anyway */ }
    session.user = null;
    setCsrf(null);
    showUser();
    show();
  };
}

export function signedIn(answer) {
  Object.assign(session, answer);
  setCsrf(answer.csrf || null);
  showUser();
}

function setTheme(theme) {
  document.documentElement.dataset.theme = theme;
  localStorage.setItem('logstore-theme', theme);
}

function typing(e) {
  const t = e.target;
  return t && (t.tagName === 'INPUT' || t.tagName === 'TEXTAREA' || t.tagName === 'SELECT' || t.isContentEditable);
}

document.addEventListener('keydown', (e) => {
  if (e.ctrlKey || e.metaKey || e.altKey) return;
  if (typing(e)) {
    if (e.key === 'Escape') e.target.blur();
    return;
  }
  if (e.key === '/') {
    e.preventDefault();
    const box = document.querySelector('[data-search-box]');
    if (box) box.focus(); else location.hash = link('search', { focus: 1 });
    return;
  }
  if (e.key === '?') { document.getElementById('keys').showModal(); return; }
  if (current?.onKey && current.onKey(e.key)) e.preventDefault();
});

window.addEventListener('logstore:login', () => {
  if (session.login) { session.user = null; showUser(); show(); }
});

async function start() {
  const stored = localStorage.getItem('logstore-theme');
  setTheme(stored || (matchMedia('(prefers-color-scheme: light)').matches ? 'light' : 'dark'));
  document.getElementById('theme').onclick = () => setTheme(document.documentElement.dataset.theme === 'dark' ? 'light' : 'dark');
  document.getElementById('help').onclick = () => document.getElementById('keys').showModal();
  try {
    signedIn(await api('ui/session', {}, { noLoginRedirect: true }));
  } catch (e) {
    main.textContent = `The server did not answer: ${e.message}`;
    return;
  }
  window.addEventListener('hashchange', show);
  show();
}

start();
