/** The node:http adapter (also Express/Connect middleware): routes, authenticates from the headers, reads the body within the size limit and the unverified-body budget, answers JSON. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { NodeHandler } from '../types.js';
import type { BodyReservation } from './body-budget.js';
import { RouteCache, type CoreResponse, type Route, type TaskExecutor } from './execute.js';
import { runInRequestTrace, traceContextOfHeaders } from '../core/trace-context.js';

class TooLarge extends Error {}
class OverBudget extends Error {}

/**
 * Reads a request body, refusing (without reading on) anything over `limit` bytes, or whose bytes `reservation`
 * cannot take (the budget of bodies waiting for their signature check).
 */
export function readNodeBody(req: IncomingMessage, limit: number, reservation?: BodyReservation): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) return Promise.reject(new TooLarge());
  const preParsed = (req as { body?: unknown }).body;
  if (Buffer.isBuffer(preParsed)) {
    return preParsed.length > limit ? Promise.reject(new TooLarge()) : Promise.resolve(preParsed);
  }
  if (preParsed !== undefined && req.readableEnded) {
    return Promise.reject(
      new Error(
        'the request body was already parsed by another middleware: mount the deferred handler before body parsers (or use express.raw()), since the signature covers the raw bytes',
      ),
    );
  }
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      const refusal =
        size > limit ? new TooLarge() : reservation && !reservation.take(chunk.length) ? new OverBudget() : null;
      if (refusal) {
        req.off('data', onData);
        req.pause();
        reject(refusal);
        return;
      }
      parts.push(chunk);
    };
    req.on('data', onData);
    req.once('end', () => resolve(Buffer.concat(parts)));
    req.once('error', reject);
  });
}

function send(res: ServerResponse, response: CoreResponse, close = false): void {
  const body = JSON.stringify(response.body);
  res.writeHead(response.status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    ...(close ? { connection: 'close' } : {}),
  });
  res.end(body);
}

/** How long a connection whose request body was left unread stays open after its answer, so the client can read it. */
export const LINGER_MS = 2_000;

/**
 * Answers a request whose body is left unread (too large, or refused before reading) and closes its connection
 * without losing the answer. Nothing more of the body is read. Node destroys a `Connection: close` socket as soon as
 * the answer is written; with unread bytes in its receive buffer the kernel then resets the connection, and the
 * client's kernel drops the answer if the client had not read it yet. Instead the answer goes out, the server's side
 * is half-closed after it (the client reads the answer, then the end), and the socket is destroyed `LINGER_MS` later.
 */
function sendAndClose(req: IncomingMessage, res: ServerResponse, response: CoreResponse): void {
  const socket = req.socket;
  // Node reads through (and drops) a body nobody has started to read once the answer is sent: start (what is buffered
  // already is dropped), then read no more of it.
  req.pause();
  req.read();
  const linger = () => {
    socket.end();
    const timer = setTimeout(() => socket.destroy(), LINGER_MS);
    timer.unref();
    socket.once('close', () => clearTimeout(timer));
  };
  (socket as { destroySoon?: () => void }).destroySoon = linger;
  send(res, response, true);
}

/** The request's headers as single strings (node:http already lower-cases their names; repeated ones are joined). */
function headerStrings(req: IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  const raw = req.headers;
  for (const name in raw) {
    const value = raw[name];
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return headers;
}

/** Splits a request target into its path and query (as `new URL` would for an origin-form target, without its cost). */
function splitTarget(target: string): { path: string; search: string } {
  if (!target.startsWith('/')) {
    const url = new URL(target, 'http://localhost');
    return { path: url.pathname, search: url.search };
  }
  const end = target.search(/[?#]/);
  if (end < 0) return { path: target, search: '' };
  const hash = target.indexOf('#', end);
  return {
    path: target.slice(0, end),
    search: target[end] === '?' ? target.slice(end, hash < 0 ? undefined : hash) : '',
  };
}

/** True when the request still has body bytes to come (not read by a body parser before us, not empty). */
function hasUnreadBody(req: IncomingMessage): boolean {
  if (req.readableEnded || (req as { body?: unknown }).body !== undefined) return false;
  return req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
}

/**
 * Serves a routed request: decides what it can from the method and the headers (an OIDC token is checked before a
 * byte of the body is read), then reads the body within `maxBodyBytes` and the executor's budget of unverified bodies,
 * runs it through the executor and answers.
 */
async function serve(
  executor: TaskExecutor,
  req: IncomingMessage,
  res: ServerResponse,
  route: NonNullable<Route>,
  target: { path: string; search: string },
  maxBodyBytes: number,
): Promise<void> {
  const headers = headerStrings(req);
  const pending = executor.preflight(route, req.method ?? 'GET', target.path, headers);
  const preflight = pending instanceof Promise ? await pending : pending;
  if ('response' in preflight) {
    if (hasUnreadBody(req)) sendAndClose(req, res, preflight.response);
    else send(res, preflight.response);
    return;
  }
  const reservation = executor.budget.reserve();
  try {
    let body: Buffer;
    try {
      body = await readNodeBody(req, maxBodyBytes, reservation);
    } catch (error) {
      if (error instanceof TooLarge) sendAndClose(req, res, executor.tooLarge(target.path, maxBodyBytes, headers));
      else if (error instanceof OverBudget) {
        sendAndClose(req, res, executor.busy(target.path, executor.budget.limit, headers));
      } else send(res, { status: 400, body: { error: (error as Error).message } });
      return;
    }
    const response = await executor.handle(route, {
      method: req.method ?? 'GET',
      path: target.path,
      query: new URLSearchParams(target.search),
      headers,
      body,
      transport: preflight.transport,
      release: reservation.release,
    });
    send(res, response);
  } finally {
    reservation.release();
  }
}

/** Builds the node:http handler around an executor. */
export function nodeHandler(executor: TaskExecutor, basePath: string, maxBodyBytes: number): NodeHandler {
  const routes = new RouteCache(basePath);
  return (req, res, next) => {
    const target = splitTarget((req as { originalUrl?: string }).originalUrl ?? req.url ?? '/');
    const route = routes.get(target.path);
    if (!route) {
      if (!next) send(res, { status: 404, body: { error: 'not found' } });
      else {
        // Middleware: the app's handlers run in this request's trace, so the tasks they defer carry it.
        const trace = traceContextOfHeaders(req.headers as Record<string, string | undefined>);
        if (trace) runInRequestTrace(trace, next);
        else next();
      }
      return;
    }
    serve(executor, req, res, route, target, maxBodyBytes).catch((error: unknown) => {
      if (!res.headersSent) send(res, { status: 500, body: { error: 'internal error' } });
      else res.destroy(error as Error);
    });
  };
}
