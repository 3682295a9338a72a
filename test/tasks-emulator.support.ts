// Shared fixtures of the Cloud Tasks emulator tests: the golden captures of the real service and a recording HTTP handler.
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';

/** The golden captures sit beside the repository: <repo>/../shared/cloud-tasks-golden/. */
export const GOLDEN_DIR = new URL('../../shared/cloud-tasks-golden/', import.meta.url);

/** Loads one golden JSON file; fails with the path it looked at when the shared folder is missing. */
export function loadGolden<T>(file: 'realcloud.json' | 'dispatch.json' | 'headers.json'): T {
  const path = fileURLToPath(new URL(file, GOLDEN_DIR));
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as T;
  } catch (error) {
    throw new Error(`Golden capture ${path} not readable (the shared folder must sit beside the repo): ${error}`, {
      cause: error,
    });
  }
}

export interface GoldenError {
  name: string;
  rpc: string;
  code: string;
  template: string;
  details?: Array<{ type: string; template: string }>;
}

export interface GoldenDispatch {
  name: string;
  requestType: 'http' | 'appengine';
  attempts: Array<{ attempt: number; status: number; headers: Record<string, string> }>;
}

export interface GoldenHeaders {
  name: string;
  requestType: 'http' | 'appengine';
  sent: Record<string, string>;
  createFull: { headers: Record<string, string> };
  getBasic: { headers: Record<string, string> };
  getFull: { headers: Record<string, string> };
}

/** One request a handler received. */
export interface ReceivedRequest {
  method: string;
  path: string;
  /** Header names lower-cased. */
  headers: Record<string, string>;
  /** Header names as sent. */
  rawHeaders: string[];
  body: Buffer;
}

/** A real HTTP server on loopback that records every request and answers with the status `respond` gives. */
export interface Receiver {
  readonly url: string;
  readonly requests: ReceivedRequest[];
  /** Resolves once `count` requests have arrived in total. */
  waitFor(count: number): Promise<void>;
  close(): Promise<void>;
}

export async function startReceiver(
  respond: (request: ReceivedRequest, index: number) => number | Promise<number> = () => 200,
): Promise<Receiver> {
  const requests: ReceivedRequest[] = [];
  const waiters: Array<{ count: number; resolve: () => void }> = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const received: ReceivedRequest = {
        method: req.method ?? '',
        path: req.url ?? '',
        headers: Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)])),
        rawHeaders: req.rawHeaders,
        body: Buffer.concat(chunks),
      };
      const index = requests.push(received) - 1;
      void Promise.resolve(respond(received, index)).then((status) => {
        res.writeHead(status).end();
        for (const waiter of [...waiters]) {
          if (requests.length >= waiter.count) {
            waiters.splice(waiters.indexOf(waiter), 1);
            waiter.resolve();
          }
        }
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    waitFor: (count) =>
      requests.length >= count ? Promise.resolve() : new Promise((resolve) => waiters.push({ count, resolve })),
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The gRPC error fields a test checks. */
export interface RpcFailure {
  code: number;
  details: string;
  statusDetails?: unknown[];
}

/** Runs an RPC that must fail and returns its error. */
export async function rpcError(call: Promise<unknown>): Promise<RpcFailure> {
  try {
    await call;
  } catch (error) {
    return error as RpcFailure;
  }
  throw new Error('expected the RPC to fail, it succeeded');
}

/** The real service's error answers, by case name (realcloud.json). */
export const goldenErrors = new Map(loadGolden<GoldenError[]>('realcloud.json').map((g) => [g.name, g]));

/** gRPC codes of the status names the captures use. */
const CODES: Record<string, number> = {
  InvalidArgument: 3,
  NotFound: 5,
  AlreadyExists: 6,
  PermissionDenied: 7,
  FailedPrecondition: 9,
};

/** Checks an error against a golden case: same gRPC code, same message (with `{vars}` filled in), same Help links. */
export async function expectGolden(call: Promise<unknown>, name: string, vars: Record<string, string> = {}) {
  const expected = goldenErrors.get(name);
  if (!expected) throw new Error(`no golden case ${name}`);
  const error = await rpcError(call);
  const message = expected.template.replace(/\{(\w+)\}/g, (_m, key: string) => vars[key] ?? `{${key}}`);
  expect({ code: error.code, details: error.details }).toEqual({ code: CODES[expected.code], details: message });
  for (const detail of expected.details ?? []) {
    const [, description, url] = /description:"([^"]*)"\s+url:"([^"]*)"/.exec(detail.template)!;
    expect(error.statusDetails).toContainEqual({ links: [{ description, url }] });
  }
}
