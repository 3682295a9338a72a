/** The dashboard on loopback behind a random access token, as notebook servers do: what `deferred dashboard` runs. */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import http, { type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ConfigurationError } from '../errors/runtime.js';
import { cookie, parseCookies } from './csrf.js';
import { createDashboard } from './create-dashboard.js';
import type { DashboardOptions } from './dashboard-options.js';

/** Options of {@link serveDashboard}: the dashboard's, without `authorize` (the token is the authorization). */
export interface ServeDashboardOptions extends Omit<DashboardOptions, 'authorize' | 'basePath'> {
  /** Loopback address to listen on. @default '127.0.0.1' */
  readonly host?: string;
  /** Port; 0 picks a free one. @default 0 */
  readonly port?: number;
  /** The access token. @default 32 random bytes, base64url */
  readonly token?: string;
}

/** A running loopback dashboard. */
export interface ServedDashboard {
  /** The URL to open, with the token: `http://127.0.0.1:PORT/?token=...`. */
  readonly url: string;
  readonly origin: string;
  readonly token: string;
  close(): Promise<void>;
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

function sameToken(given: string | undefined | null, token: string): boolean {
  if (!given) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * Serves the dashboard on a loopback port. The first request carries the token in the URL (`?token=`); the answer
 * stores it in an HttpOnly cookie and redirects to the same page without it, so it stays out of history and logs.
 * Requests with neither a valid cookie nor the token get 403; so do requests whose `Host` is not this loopback
 * address (a DNS-rebinding page cannot use the browser's cookie).
 */
export async function serveDashboard(options: ServeDashboardOptions): Promise<ServedDashboard> {
  const host = options.host ?? '127.0.0.1';
  if (!LOOPBACK.has(host)) {
    throw new ConfigurationError(
      `the token-protected dashboard listens on loopback only (127.0.0.1, ::1 or localhost), not ${host}; mount createDashboard() in your app to serve it elsewhere.`,
    );
  }
  const token = options.token ?? randomBytes(32).toString('base64url');
  let port = options.port ?? 0;
  const cookieName = () => `deferred_dashboard_token_${port}`;
  const { host: _h, port: _p, token: _t, ...dashboardOptions } = options;
  const dashboard = createDashboard({
    ...dashboardOptions,
    basePath: '/',
    authorize: (req) => sameToken(parseCookies((req as IncomingMessage).headers.cookie).get(cookieName()), token),
  });
  const allowedHosts = () => new Set([`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`]);
  const server = http.createServer((req, res) => {
    const deny = (message: string) => {
      res.writeHead(403, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
      res.end(`${message}\n`);
    };
    if (!allowedHosts().has(req.headers.host ?? ''))
      return deny('Forbidden: this dashboard answers on its loopback address only.');
    const url = new URL(req.url ?? '/', `http://${req.headers.host}`);
    const given = url.searchParams.get('token');
    if (given !== null) {
      if (!sameToken(given, token))
        return deny('Forbidden: wrong access token. Open the URL `deferred dashboard` printed.');
      url.searchParams.delete('token');
      res.writeHead(303, {
        location: `${url.pathname}${url.search}`,
        'set-cookie': cookie(cookieName(), token, '/', false),
        'cache-control': 'no-store',
        'referrer-policy': 'no-referrer',
      });
      return void res.end();
    }
    if (!sameToken(parseCookies(req.headers.cookie).get(cookieName()), token)) {
      return deny('Forbidden: open the URL `deferred dashboard` printed (it carries the access token).');
    }
    dashboard.handler(req, res);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  port = (server.address() as AddressInfo).port;
  const origin = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  return {
    url: `${origin}/?token=${token}`,
    origin,
    token,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
