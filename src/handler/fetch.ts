/** The Fetch-API adapter (`(Request) => Promise<Response>`, for Hono, Bun, Deno, Next.js route handlers, ...). */
import type { FetchHandler } from '../types.js';
import type { BodyReservation } from './body-budget.js';
import { RouteCache, type CoreResponse, type TaskExecutor } from './execute.js';

function json(response: CoreResponse): Response {
  return new Response(JSON.stringify(response.body), {
    status: response.status,
    headers: { 'content-type': 'application/json; charset=utf-8' },
  });
}

/**
 * Reads a body, giving up as soon as it passes `limit` bytes (`'too-large'`) or `reservation` cannot take its next
 * chunk (`'over-budget'`).
 */
async function readLimited(
  request: Request,
  limit: number,
  reservation: BodyReservation,
): Promise<Buffer | 'too-large' | 'over-budget'> {
  const declared = Number(request.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > limit) return 'too-large';
  if (!request.body) return Buffer.alloc(0);
  const reader = request.body.getReader();
  const parts: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    const refusal = size > limit ? 'too-large' : !reservation.take(value.byteLength) ? 'over-budget' : null;
    if (refusal) {
      await reader.cancel().catch(() => undefined);
      return refusal;
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
    const headers: Record<string, string> = {};
    request.headers.forEach((value, name) => {
      headers[name.toLowerCase()] = value;
    });
    // Decided from the headers (an OIDC token included) before a byte of the body is read.
    const preflight = await executor.preflight(route, request.method, url.pathname, headers);
    if ('response' in preflight) {
      await request.body?.cancel().catch(() => undefined);
      return json(preflight.response);
    }
    const reservation = executor.budget.reserve();
    try {
      const body = await readLimited(request, maxBodyBytes, reservation);
      if (body === 'too-large') return json(executor.tooLarge(url.pathname, maxBodyBytes, headers));
      if (body === 'over-budget') return json(executor.busy(url.pathname, executor.budget.limit, headers));
      return json(
        await executor.handle(route, {
          method: request.method,
          path: url.pathname,
          query: url.searchParams,
          headers,
          body,
          transport: preflight.transport,
          release: reservation.release,
        }),
      );
    } finally {
      reservation.release();
    }
  };
}
