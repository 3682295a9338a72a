/** The dashboard on Fetch-API runtimes (`(Request) => Promise<Response>`: Hono, Bun, Deno, Next.js route handlers). */
import type { FetchHandler } from '../types.js';
import type { DashboardCore } from './dashboard-core.js';

async function readLimited(request: Request, limit: number): Promise<Buffer | null> {
  const declared = Number(request.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > limit) return null;
  if (!request.body) return Buffer.alloc(0);
  const reader = request.body.getReader();
  const parts: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return Buffer.concat(parts);
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => undefined);
      return null;
    }
    parts.push(value);
  }
}

/** Builds the Fetch-API handler of a dashboard; paths it does not own get 404. */
export function fetchDashboardHandler(core: DashboardCore): FetchHandler {
  return async (request) => {
    const url = new URL(request.url);
    if (!core.owns(url.pathname)) return new Response('Not found\n', { status: 404 });
    const headers: Record<string, string> = {};
    request.headers.forEach((value, name) => {
      headers[name.toLowerCase()] = value;
    });
    const response = await core.handle({
      method: request.method,
      path: url.pathname,
      query: url.searchParams,
      headers,
      body: (limit) => readLimited(request, limit),
      secure: url.protocol === 'https:' || headers['x-forwarded-proto'] === 'https',
      native: request,
    });
    const out = new Headers();
    for (const [name, value] of Object.entries(response.headers)) {
      for (const v of Array.isArray(value) ? value : [value]) out.append(name, v);
    }
    const body = response.status === 304 || request.method === 'HEAD' ? null : response.body;
    return new Response(body, { status: response.status, headers: out });
  };
}
