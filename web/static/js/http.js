// fetch() for the pages: JSON in and out, the session cookie, and X-CSRF-Token on every
// request that changes something (the service refuses a cookie-authenticated one without it).

const SAFE = new Set(["GET", "HEAD", "OPTIONS"]);

export function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.content : "";
}

export function setCsrfToken(token) {
  const meta = document.querySelector('meta[name="csrf-token"]');
  if (meta) meta.content = token || "";
}

/** A failed request: `status`, the error body's `detail` and per-field `errors` (422). */
export class HttpError extends Error {
  constructor(status, body) {
    super((body && body.detail) || `HTTP ${status}`);
    this.status = status;
    this.body = body || {};
  }
}

/** The parsed JSON answer (null for 204); throws HttpError on a status >= 400. */
export async function request(method, url, { body, headers = {} } = {}) {
  const init = { method, credentials: "same-origin", headers: { Accept: "application/json", ...headers } };
  if (!SAFE.has(method)) init.headers["X-CSRF-Token"] = csrfToken();
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(url, init);
  const text = await response.text();
  let data = null;
  if (text) {
    try { data = JSON.parse(text); } catch { data = { detail: text }; }
  }
  if (!response.ok) throw new HttpError(response.status, data);
  return data;
}

/** `next` only when it is a path of this site; else `fallback`. */
export function safeNext(next, fallback) {
  if (!next || !next.startsWith("/") || next.startsWith("//") || next.includes("\\")) return fallback;
  if (/[\u0000-\u001f\u007f]/.test(next)) return fallback;
  const url = new URL(next, window.location.origin);
  return url.origin === window.location.origin ? url.pathname + url.search + url.hash : fallback;
}
