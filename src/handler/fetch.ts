/** The Fetch-API adapter (`(Request) => Promise<Response>`, for Hono, Bun, Deno, Next.js route handlers, ...). */
import type { FetchHandler } from '../types.js';
import { RouteCache, type CoreResponse, type TaskExecutor } from './execute.js';

function json(response: CoreResponse): Response {
  return new Response(JSON.stringify(response.body), {
    status: response.status,
    headers: { 'content-type': 'application/json; charset=utf-8' },
  });
}

/** Reads a body, giving up (null) as soon as it passes `limit` bytes. */
async function readLimited(request: Request, limit: number): Promise<Buffer | null> {
  const declared = Number(request.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > limit) return null;
  if (!request.body) return Buffer.alloc(0);
  const reader = request.body.getReader();
  const parts: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => undefined);
      return null;
    }
    parts.push(value);
  }
  return Buffer.concat(parts);
}

/** Builds the Fetch-API handler around an executor. */
export function fetchHandler(executor: TaskExecutor, basePath: string, maxBodyBytes: number): FetchHandler {
  const routes = new RouteCache(basePath);
  return async (request) => {
    const url = new URL(request.url);
    const route = routes.get(url.pathname);
    if (!route) return json({ status: 404, body: { error: 'not found' } });
    const body = await readLimited(request, maxBodyBytes);
    if (!body) return json(executor.tooLarge(url.pathname, maxBodyBytes));
    const headers: Record<string, string> = {};
    request.headers.forEach((value, name) => {
      headers[name.toLowerCase()] = value;
    });
    return json(
      await executor.handle(route, {
        method: request.method,
        path: url.pathname,
        query: url.searchParams,
        headers,
        body,
      }),
    );
  };
}
