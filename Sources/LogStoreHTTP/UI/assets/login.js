// The sign-in form (servers with users): user and password → a session cookie.
import { api } from './api.js';
import { html } from './util.js';
import { signedIn } from './app.js';

export function mount(main, params) {
  const form = html(`<form class="login card" autocomplete="on">
    <h2>Sign in to logstore</h2>
    <label>User <input name="user" autocomplete="username" required autofocus></label>
    <label>Password <input name="password" type="password" autocomplete="current-password" required></label>
    <button type="submit">Sign in</button>
    <p class="error" role="alert"></p>
  </form>`);
  main.append(form);
  form.user.focus();
  form.onsubmit = async (e) => {
    e.preventDefault();
    const error = form.querySelector('.error');
    error.textContent = '';
    try {
      const answer = await api('ui/login', {}, { method: 'POST', body: { user: form.user.value, password: form.password.value }, noLoginRedirect: true });
      signedIn(answer);
      location.replace(params.next && params.next.startsWith('#/') && !params.next.startsWith('#/login') ? params.next : '#/workflows');
    } catch (err) {
      error.textContent = err.message;
      form.password.select();
    }
  };
  return {};
}
