// The runtime test harness: a Cloud Tasks emulator with a ManualClock, and per test a deferred instance served on 127.0.0.1.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import type { CloudTasksClient } from '@google-cloud/tasks';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { createDeferred } from '../../src/runtime/deferred-runtime.js';
import { MemoryLogger } from '../../src/core/logger.js';
import { ManualClock, startTasksEmulator, type RunningTasksEmulator } from '../../src/tasks-emulator/index.js';
import type { Deferred, DeferredConfig } from '../../src/types.js';
import type { StorageContext } from './backends.js';

export const PROJECT = 'test-project';
export const LOCATION = 'us-central1';
export const SECRET = 'test-secret-0123456789abcdef';

/** One test's runtime: the instance, its server, its logs, its queue. */
export interface RuntimeFixture {
  readonly deferred: Deferred;
  readonly logger: MemoryLogger;
  readonly clock: ManualClock;
  readonly client: CloudTasksClient;
  readonly emulator: RunningTasksEmulator;
  /** Origin of the HTTP server serving the handler. */
  readonly origin: string;
  /** Queue id of this test: unique, or the `queue` it was set up with. */
  readonly queue: string;
  /** Full queue path. */
  readonly queuePath: string;
  /** Lets due tasks run (and waits for their dispatches). */
  advance(ms?: number): Promise<void>;
  /** Tasks currently in the queue. */
  listTasks(): Promise<string[]>;
  /** Requests the server received (when set up with `record: true`). */
  readonly recorded: RecordedRequest[];
  /** Sends a request straight to the server (as a duplicate delivery or an attacker would). */
  post(
    path: string,
    init: { headers?: Record<string, string>; body?: Buffer | string; method?: string },
  ): Promise<{
    status: number;
    body: Record<string, unknown>;
  }>;
}

/** A request the test server received. */
export interface RecordedRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: Record<string, string>;
  readonly body: Buffer;
}

/** Sends an HTTP request with node:http (no automatic headers beyond Host and Content-Length). */
export function httpRequest(
  url: string,
  init: { headers?: Record<string, string>; body?: Buffer | string; method?: string },
): Promise<{ status: number; body: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const body = init.body === undefined ? undefined : Buffer.from(init.body);
    const req = http.request(url, { method: init.method ?? 'POST', headers: { ...init.headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        let parsed: Record<string, unknown>;
        try {
          parsed = JSON.parse(text) as Record<string, unknown>;
        } catch {
          parsed = { text };
        }
        resolve({ status: res.statusCode ?? 0, body: parsed });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * Starts one Cloud Tasks emulator for the file (ManualClock), and returns `setup(storage, config?)` that builds a
 * fresh deferred instance served by a real node:http server on 127.0.0.1 for the current test.
 */
export function useRuntime(options: { oidc?: boolean } = {}) {
  let emulator: RunningTasksEmulator;
  let client: CloudTasksClient;
  let clock: ManualClock;
  const servers: http.Server[] = [];

  beforeAll(async () => {
    clock = new ManualClock();
    emulator = await startTasksEmulator({ clock, autoCreateQueues: true });
    client = emulator.createClient();
  });
  afterEach(async () => {
    for (const server of servers.splice(0)) {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
  afterAll(async () => {
    await client?.close();
    await emulator?.stop();
  });

  return async function setup(
    storage: StorageContext,
    config: Partial<DeferredConfig> & {
      serve?: 'node' | 'fetch';
      record?: boolean;
      /** The app behind the handler, which then serves as middleware (Express style: `next()` for other paths). */
      app?: http.RequestListener;
    } = {},
  ): Promise<RuntimeFixture> {
    const logger = new MemoryLogger();
    const queue = config.queue ?? `q-${randomBytes(5).toString('hex')}`;
    const { serve = 'node', record = false, app, ...rest } = config;
    let handle: http.RequestListener = (_req, res) => res.writeHead(503).end();
    const recorded: RecordedRequest[] = [];
    const server = http.createServer((req, res) => {
      if (!record) return handle(req, res);
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks);
        const headers: Record<string, string> = {};
        for (const [name, value] of Object.entries(req.headers)) if (value !== undefined) headers[name] = String(value);
        recorded.push({ method: req.method ?? '', url: req.url ?? '', headers, body });
        (req as { body?: Buffer }).body = body; // like express.raw(): the handler uses the bytes already read
        handle(req, res);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    servers.push(server);
    const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const deferred = createDeferred({
      projectId: PROJECT,
      location: LOCATION,
      queue,
      handlerUrl: `${origin}/_deferred`,
      secret: SECRET,
      datastore: storage.datastore,
      tasks: client,
      clock,
      logger,
      ...(options.oidc
        ? {
            oidc: {
              serviceAccountEmail: 'tasks@test-project.iam.gserviceaccount.com',
              issuer: emulator.oidc.issuer,
              jwksUri: emulator.oidc.jwksUri,
            },
          }
        : {}),
      ...rest,
    });
    handle =
      serve === 'fetch'
        ? fetchToNode(deferred.fetchHandler)
        : app
          ? (req, res) => deferred.handler(req, res, () => app(req, res))
          : deferred.handler;
    const queuePath = `projects/${PROJECT}/locations/${LOCATION}/queues/${queue}`;
    return {
      deferred,
      logger,
      clock,
      client,
      emulator,
      origin,
      queue,
      queuePath,
      advance: (ms = 0) => clock.advance(ms),
      listTasks: async () => {
        const [tasks] = await client.listTasks({ parent: queuePath });
        return tasks.map((t) => t.name!);
      },
      recorded,
      post: (path, init) => httpRequest(`${origin}${path}`, init),
    };
  };
}

/** Serves a Fetch-API handler from node:http (what Hono's or Next's node adapters do). */
export function fetchToNode(handler: (request: Request) => Promise<Response>): http.RequestListener {
  return (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const headers = new Headers();
      for (const [name, value] of Object.entries(req.headers))
        if (value !== undefined) headers.set(name, String(value));
      const request = new Request(`http://${req.headers.host}${req.url}`, {
        method: req.method,
        headers,
        body: req.method === 'GET' || req.method === 'HEAD' ? undefined : Buffer.concat(chunks),
      });
      void handler(request).then(async (response) => {
        res.writeHead(response.status, Object.fromEntries(response.headers.entries()));
        res.end(Buffer.from(await response.arrayBuffer()));
      });
    });
  };
}
