// Calls to the server's native API, relative to the viewer's own URL (…/ui/ → …/v1/…), so the
// viewer works under a path prefix. Every call carries X-Logstore-UI; unsafe ones the CSRF token.

let csrf = null;
export const setCsrf = (token) => { csrf = token; };

export class ApiError extends Error {
  constructor(status, reason) {
    super(reason);
    this.status = status;
  }
}

/**
 * The absolute URL of an API path with its parameters (undefined ones left out). Spaces are
 * written %20, not + (URLSearchParams' form encoding): the server reads + as a plus sign.
 */
export function url(path, params = {}) {
  const u = new URL('../' + path, location.href);
  const query = Object.entries(params).filter(([, v]) => v !== undefined && v !== null)
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&');
  return u.toString() + (query ? '?' + query : '');
}

/** GET (or opts.method) path → parsed JSON; throws ApiError with the server's reason. */
export async function api(path, params = {}, opts = {}) {
  const method = opts.method || 'GET';
  const headers = { 'X-Logstore-UI': '1' };
  if (method !== 'GET' && csrf) headers['X-CSRF-Token'] = csrf;
  if (opts.body !== undefined) headers['Content-Type'] = 'application/json';
  const r = await fetch(url(path, params), {
    method, headers, signal: opts.signal, credentials: 'same-origin', cache: 'no-store',
    body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
  });
  const text = await r.text();
  let body = null;
  try { body = text ? JSON.parse(text) : null; } catch { body = null; }
  if (!r.ok) {
    if (r.status === 401 && !opts.noLoginRedirect) window.dispatchEvent(new CustomEvent('logstore:login'));
    throw new ApiError(r.status, body?.error?.reason || `${r.status} ${r.statusText}`);
  }
  return body;
}
