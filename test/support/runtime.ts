// The runtime test harness: a Cloud Tasks emulator with a ManualClock, and per test a deferred instance served on 127.0.0.1.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import type { CloudTasksClient } from '@google-cloud/tasks';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { createDeferred } from '../../src/defer/runtime.js';
import { MemoryLogger } from '../../src/handler/logger.js';
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
  /** Unique queue id of this test. */
  readonly queue: string;
  /** Full queue path. */
  readonly queuePath: string;
  /** Lets due tasks run (and waits for their dispatches). */
  advance(ms?: number): Promise<void>;
  /** Tasks currently in the queue. */
  listTasks(): Promise<string[]>;
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
    config: Partial<DeferredConfig> & { serve?: 'node' | 'fetch' } = {},
  ): Promise<RuntimeFixture> {
    const logger = new MemoryLogger();
    const queue = `q-${randomBytes(5).toString('hex')}`;
    const { serve = 'node', ...rest } = config;
    let handle: http.RequestListener = (_req, res) => res.writeHead(503).end();
    const server = http.createServer((req, res) => handle(req, res));
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
    handle = serve === 'node' ? deferred.handler : fetchToNode(deferred.fetchHandler);
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
