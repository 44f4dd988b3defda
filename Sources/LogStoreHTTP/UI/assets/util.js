// Small helpers shared by the pages: HTML escaping, times, URL hash parameters.

const ESC = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
export const esc = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => ESC[c]);

/** Builds an element from an HTML string (one root). */
export function html(text) {
  const t = document.createElement('template');
  t.innerHTML = text.trim();
  return t.content.firstElementChild;
}

/** Milliseconds since the epoch of an RFC 3339 text (null stays null). */
export const ms = (t) => (t == null ? null : Date.parse(t));

const pad = (n, w = 2) => String(n).padStart(w, '0');
/** A local time with milliseconds: 2024-09-24 13:49:58.003. */
export function fmtTime(t, withDate = true) {
  if (t == null) return '';
  const d = new Date(typeof t === 'number' ? t : Date.parse(t));
  const time = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
  return withDate ? `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${time}` : time;
}
/** The value of an <input type=datetime-local> for a time in ms. */
export function toLocalInput(t) {
  const d = new Date(t);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}
/** "3 min ago", "in 2 h", from a time in ms. */
export function ago(t) {
  if (t == null) return '';
  const s = Math.round((Date.now() - t) / 1000);
  const a = Math.abs(s);
  const text = a < 60 ? `${a} s` : a < 3600 ? `${Math.round(a / 60)} min` : a < 86400 ? `${Math.round(a / 3600)} h` : `${Math.round(a / 86400)} d`;
  return s >= 0 ? `${text} ago` : `in ${text}`;
}
export const num = (n) => Number(n ?? 0).toLocaleString('en-US');

/** Durations as the server writes them (30s, 5m, 1h, 7d) in ms. */
export function parseDuration(text) {
  const m = /^(\d+)(ms|s|m|h|d)$/.exec(text || '');
  if (!m) return null;
  return Number(m[1]) * { ms: 1, s: 1e3, m: 6e4, h: 36e5, d: 864e5 }[m[2]];
}

/** The page and its parameters from location.hash: #/log?job=x → ['log', {job:'x'}]. */
export function route() {
  const h = location.hash.replace(/^#\/?/, '');
  const q = h.indexOf('?');
  const page = (q < 0 ? h : h.slice(0, q)) || 'workflows';
  const params = Object.fromEntries(new URLSearchParams(q < 0 ? '' : h.slice(q + 1)));
  return [page, params];
}
/** A hash link: link('log', {job: 'x'}) → #/log?job=x (empty values kept, undefined dropped). */
export function link(page, params = {}) {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null) p.set(k, v);
  const s = p.toString();
  return `#/${page}${s ? '?' + s : ''}`;
}
/** Replaces the hash without adding a history entry or re-rendering the page. */
export function replaceHash(hash) {
  history.replaceState(null, '', hash);
}
export const sleep = (t) => new Promise((r) => setTimeout(r, t));
export function debounce(f, t) {
  let id;
  return (...a) => {
    clearTimeout(id);
    id = setTimeout(() => f(...a), t);
  };
}
/** A stream's selection as URL parameters of /v1/logs and /v1/tail. */
export const selParams = (s) => ({ index: s.index, workflow: s.workflow, job: s.job });
/** The same selection in the query language, for /v1/hits. */
export function selQuery(s) {
  const q = (v) => '"' + String(v).replace(/\\/g, '\\\\').replace(/"/g, '\\"') + '"';
  return ['index', 'workflow', 'job'].filter((k) => s[k] !== undefined).map((k) => `${k}:${q(s[k])}`).join(' ');
}
