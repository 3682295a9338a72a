/** CSRF protection of the dashboard's changes: a per-browser session cookie, and a token derived from it with the dashboard's key. */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/** Cookie holding the browser's random session id (HttpOnly, SameSite=Strict). */
export const SESSION_COOKIE = 'deferred_dashboard_session';
/** Request header that carries the CSRF token on every POST. */
export const CSRF_HEADER = 'x-deferred-csrf';

/** A new random session id. */
export const newSessionId = () => randomBytes(18).toString('base64url');

/** The CSRF token of a session: HMAC-SHA256(key, session id). Only a page served by the dashboard knows it. */
export function csrfToken(key: Buffer, sessionId: string): string {
  return createHmac('sha256', key).update(`csrf|${sessionId}`).digest('base64url');
}

/** True when `token` is the CSRF token of `sessionId` (constant-time). */
export function checkCsrf(key: Buffer, sessionId: string | undefined, token: string | undefined): boolean {
  if (!sessionId || !token) return false;
  const expected = Buffer.from(csrfToken(key, sessionId));
  const given = Buffer.from(token);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** Parses a Cookie header into name -> value (first occurrence wins). */
export function parseCookies(header: string | undefined): Map<string, string> {
  const cookies = new Map<string, string>();
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    const name = part.slice(0, eq).trim();
    if (!cookies.has(name)) cookies.set(name, part.slice(eq + 1).trim());
  }
  return cookies;
}

/** A Set-Cookie value: HttpOnly, SameSite=Strict, for `path`, Secure over HTTPS. */
export function cookie(name: string, value: string, path: string, secure: boolean): string {
  return `${name}=${value}; Path=${path || '/'}; HttpOnly; SameSite=Strict${secure ? '; Secure' : ''}`;
}
