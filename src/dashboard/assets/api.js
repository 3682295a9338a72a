// @ts-check
/** Talking to the dashboard's JSON API: reads are GETs, every change is a POST with the page's CSRF token. */

const meta = (/** @type {string} */ name) =>
  document.querySelector(`meta[name="${name}"]`)?.getAttribute('content') ?? '';

/** Where the dashboard is mounted (`''` at the root). */
export const base = meta('deferred-base');
const csrf = meta('deferred-csrf');

/** An error answered by the API, with its status. */
export class ApiError extends Error {
  /**
   * @param {number} status
   * @param {string} message
   */
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/**
 * @param {Response} response
 * @returns {Promise<any>}
 */
async function answer(response) {
  const type = response.headers.get('content-type') ?? '';
  const body = type.includes('application/json') ? await response.json() : { error: (await response.text()).trim() };
  if (!response.ok) throw new ApiError(response.status, body?.error ?? `HTTP ${response.status}`);
  return body;
}

/**
 * GET `<base>/api/<path>` with query parameters (empty ones left out, but for `namespace`: `''` is Datastore's default
 * namespace).
 * @param {string} path
 * @param {Record<string, string | null | undefined>} [params]
 * @returns {Promise<any>}
 */
export async function get(path, params = {}) {
  const query = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== null && v !== undefined && (v !== '' || k === 'namespace')) query.set(k, v);
  }
  const q = query.toString();
  return answer(
    await fetch(`${base}/api/${path}${q ? `?${q}` : ''}`, {
      headers: { accept: 'application/json' },
      credentials: 'same-origin',
    }),
  );
}

/**
 * POST a change to `<base>/api/<path>` (JSON body, CSRF header).
 * @param {string} path
 * @param {Record<string, unknown>} body
 * @returns {Promise<any>}
 */
export async function post(path, body) {
  return answer(
    await fetch(`${base}/api/${path}`, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'content-type': 'application/json', 'x-deferred-csrf': csrf, accept: 'application/json' },
      body: JSON.stringify(body),
    }),
  );
}
