/** The dashboard on node:http and Express/Connect: a request listener that is also middleware (`next()` for paths it does not own). */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { NodeHandler } from '../types.js';
import type { DashboardCore, HttpResponse } from './dashboard-core.js';

function readBody(req: IncomingMessage, limit: number): Promise<Buffer | null> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) return Promise.resolve(null);
  const parsed = (req as { body?: unknown }).body;
  if (Buffer.isBuffer(parsed)) return Promise.resolve(parsed.length > limit ? null : parsed);
  if (parsed !== undefined && req.readableEnded) return Promise.resolve(Buffer.from(JSON.stringify(parsed)));
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.removeAllListeners('data');
        req.resume();
        resolve(null);
      } else parts.push(chunk);
    });
    req.once('end', () => resolve(size > limit ? null : Buffer.concat(parts)));
    req.once('error', reject);
  });
}

function headersOf(req: IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return headers;
}

function send(res: ServerResponse, response: HttpResponse, head: boolean): void {
  const body = typeof response.body === 'string' ? Buffer.from(response.body) : response.body;
  res.writeHead(response.status, { ...response.headers, 'content-length': String(body.length) });
  res.end(head ? undefined : body);
}

/** Builds the node:http / Express handler of a dashboard. */
export function nodeDashboardHandler(core: DashboardCore): NodeHandler {
  return (req, res, next) => {
    const target = (req as { originalUrl?: string }).originalUrl ?? req.url ?? '/';
    const url = new URL(target, 'http://dashboard.invalid');
    if (!core.owns(url.pathname)) {
      if (next) next();
      else
        send(
          res,
          { status: 404, headers: { 'content-type': 'text/plain; charset=utf-8' }, body: 'Not found\n' },
          false,
        );
      return;
    }
    const headers = headersOf(req);
    const secure = (req.socket as TLSSocket).encrypted === true || headers['x-forwarded-proto'] === 'https';
    core
      .handle({
        method: req.method ?? 'GET',
        path: url.pathname,
        query: url.searchParams,
        headers,
        body: (limit) => readBody(req, limit),
        secure,
        native: req,
      })
      .then(
        (response) => send(res, response, req.method === 'HEAD'),
        (error: unknown) => {
          if (!res.headersSent) send(res, { status: 500, headers: {}, body: 'internal error\n' }, false);
          else res.destroy(error as Error);
        },
      );
  };
}
