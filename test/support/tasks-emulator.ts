// Shared fixtures of the Cloud Tasks emulator tests: the golden captures of the real service and a recording HTTP handler.
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { grpc } from 'google-gax';
import { createRemoteJWKSet, jwtVerify, type JWTPayload } from 'jose';
import { expect } from 'vitest';

/** The golden captures sit beside the repository: <repo>/../shared/cloud-tasks-golden/. */
export const GOLDEN_DIR = new URL('../../../shared/cloud-tasks-golden/', import.meta.url);

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

/** The transports the official client speaks, both served on the emulator's one port. */
export const TRANSPORTS = ['grpc', 'rest'] as const;
export type Transport = (typeof TRANSPORTS)[number];

/** The error fields a test checks, whichever transport carried the error: gRPC code, message, status details. */
export interface RpcFailure {
  code: number;
  details: string;
  statusDetails?: unknown[];
}

/** A Google JSON error body's `details` entry without its `@type`, as the clients decode `google.rpc.Help`. */
const detailWithoutType = (detail: Record<string, unknown>) =>
  Object.fromEntries(Object.entries(detail).filter(([key]) => key !== '@type'));

/**
 * The error of a failed call in one shape: gRPC errors carry the message in `details`; google-gax 6's REST errors in
 * `message` (their `details` is the decoded details array); google-gax 5's REST transport lets the HTTP error through
 * as a GaxiosError whose message is Google's JSON error body, read here as the client would have.
 */
function failureOf(error: unknown): RpcFailure {
  const e = error as {
    code?: unknown;
    details?: unknown;
    message?: string;
    statusDetails?: unknown[];
    response?: unknown;
  };
  if (e.response && typeof e.message === 'string' && e.message.trimStart().startsWith('{')) {
    const body = (JSON.parse(e.message) as GoogleJsonErrorBody).error;
    return {
      code: grpc.status[body.status as keyof typeof grpc.status] as number,
      details: body.message,
      statusDetails: (body.details ?? []).map(detailWithoutType),
    };
  }
  return {
    code: e.code as number,
    details: typeof e.details === 'string' ? e.details : (e.message ?? ''),
    ...(e.statusDetails ? { statusDetails: e.statusDetails } : {}),
  };
}

/** Google's JSON error body, as the REST API answers errors. */
export interface GoogleJsonErrorBody {
  error: { code: number; message: string; status: string; details?: Array<Record<string, unknown>> };
}

/** Runs an RPC that must fail and returns its error. */
export async function rpcError(call: Promise<unknown>): Promise<RpcFailure> {
  try {
    await call;
  } catch (error) {
    return failureOf(error);
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

/** HTTP statuses and Google JSON status names of the captures' codes, as Google's REST front end answers them. */
const HTTP: Record<string, { status: number; name: string }> = {
  InvalidArgument: { status: 400, name: 'INVALID_ARGUMENT' },
  NotFound: { status: 404, name: 'NOT_FOUND' },
  AlreadyExists: { status: 409, name: 'ALREADY_EXISTS' },
  PermissionDenied: { status: 403, name: 'PERMISSION_DENIED' },
  FailedPrecondition: { status: 400, name: 'FAILED_PRECONDITION' },
};

function goldenCase(name: string, vars: Record<string, string>) {
  const expected = goldenErrors.get(name);
  if (!expected) throw new Error(`no golden case ${name}`);
  const message = expected.template.replace(/\{(\w+)\}/g, (_m, key: string) => vars[key] ?? `{${key}}`);
  const links = (expected.details ?? []).map((detail) => {
    const [, description, url] = /description:"([^"]*)"\s+url:"([^"]*)"/.exec(detail.template)!;
    return { links: [{ description, url }] };
  });
  return { expected, message, links };
}

/**
 * Checks an error against a golden case: same gRPC code, same message (with `{vars}` filled in), same Help links;
 * through any transport of the official client.
 */
export async function expectGolden(call: Promise<unknown>, name: string, vars: Record<string, string> = {}) {
  const { expected, message, links } = goldenCase(name, vars);
  const error = await rpcError(call);
  expect({ code: error.code, details: error.details }).toEqual({ code: CODES[expected.code], details: message });
  for (const link of links) expect(error.statusDetails).toContainEqual(link);
}

/**
 * Checks a raw HTTP answer (curl's view) against a golden case: the HTTP status and Google JSON error body Google's
 * REST front end sends for that gRPC status, the same message, the Help links as `google.rpc.Help` details.
 */
export async function expectGoldenHttp(response: Response, name: string, vars: Record<string, string> = {}) {
  const { expected, message, links } = goldenCase(name, vars);
  const http = HTTP[expected.code]!;
  expect(response.headers.get('content-type')).toMatch(/^application\/json/);
  const body = (await response.json()) as GoogleJsonErrorBody;
  expect({ status: response.status, error: { ...body.error, details: undefined } }).toEqual({
    status: http.status,
    error: { code: http.status, message, status: http.name, details: undefined },
  });
  for (const link of links) {
    expect(body.error.details).toContainEqual({ '@type': 'type.googleapis.com/google.rpc.Help', ...link });
  }
}

/**
 * Verifies a task's `Authorization: Bearer <OIDC token>` against the emulator's JWKS and issuer, for `audience`, at
 * the time `now` (the emulator's clock); returns the claims or throws.
 */
export async function verifyTaskToken(
  oidc: { issuer: string; jwksUri: string },
  authorization: string | undefined,
  audience: string,
  now: number,
): Promise<JWTPayload> {
  const token = /^Bearer (.+)$/.exec(authorization ?? '')?.[1];
  if (!token) throw new Error(`expected a bearer token, got ${String(authorization)}`);
  const { payload } = await jwtVerify(token, createRemoteJWKSet(new URL(oidc.jwksUri)), {
    issuer: oidc.issuer,
    audience,
    currentDate: new Date(now),
  });
  return payload;
}

/**
 * The text of the README's ```sh block whose first line starts with `firstLine`, with the emulator address the README
 * uses (`127.0.0.1:8123`) replaced by `endpoint`: the README's commands, run as written.
 */
export function readmeShellBlock(firstLine: string, endpoint: string): string {
  const readme = readFileSync(fileURLToPath(new URL('../../README.md', import.meta.url)), 'utf8');
  const block = [...readme.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!).find((b) => b.startsWith(firstLine));
  if (!block) throw new Error(`README.md has no sh block starting with ${JSON.stringify(firstLine)}`);
  return block.replaceAll('127.0.0.1:8123', endpoint);
}
