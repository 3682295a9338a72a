/** A worker for the local stack: a deferred runtime instance served by node:http on loopback, with the sweeper installed. */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Datastore } from '@google-cloud/datastore';
import type { CloudTasksClient } from '@google-cloud/tasks';
import { createDeferred } from '../runtime/deferred-runtime.js';
import { installSweeper, type DistributedSweepOptions, type InstalledSweeper } from '../sweeper/distributed.js';
import type { Deferred, DeferredConfig } from '../types.js';
import type { LocalStack } from './stack.js';

/** Options of {@link startWorker}. */
export interface WorkerOptions {
  /** Port of the worker's HTTP server on 127.0.0.1; 0 picks a free one. @default 0 */
  port?: number;
  /** Datastore client. @default a new client on the stack's emulator */
  datastore?: Datastore;
  /** Cloud Tasks client. @default a new client on the stack's emulator */
  tasks?: CloudTasksClient;
  /** More runtime configuration (queue, defaults, clock, logger, ...). @default {} */
  config?: Partial<DeferredConfig>;
  /** Options of the installed sweeper. @default {} */
  sweeper?: DistributedSweepOptions;
  /**
   * Timeouts of the HTTP server, so that a slow client cannot hold a connection (and the body bytes it sent) for
   * long: `headersMs` to send the request headers, `requestMs` to send the whole request (a task's run after that is
   * not limited). Node checks them every second here.
   * @default { headersMs: 10_000, requestMs: 30_000 }
   */
  timeouts?: { headersMs?: number; requestMs?: number };
}

/** Default timeouts of the worker's HTTP server (Node's own defaults hold a slow body for 300 s). */
export const WORKER_TIMEOUTS = { headersMs: 10_000, requestMs: 30_000 } as const;

/** A running worker. */
export interface RunningWorker {
  readonly deferred: Deferred;
  /** The node:http server serving the handler. */
  readonly server: http.Server;
  readonly sweeper: InstalledSweeper;
  /** `http://127.0.0.1:PORT` */
  readonly origin: string;
  /** Where the handler is mounted: `<origin>/_deferred`. */
  readonly handlerUrl: string;
  /** The secret payloads and sweep requests are signed with (random per worker). */
  readonly secret: string;
  /**
   * Stops accepting requests, lets requests in flight finish (at most `graceMs`, default 5 s, so their Datastore
   * writes land), then closes every connection.
   */
  close(graceMs?: number): Promise<void>;
}

/** Starts a worker on the local stack: register tasks on `worker.deferred`; Cloud Tasks delivers to it. */
export async function startWorker(stack: LocalStack, options: WorkerOptions = {}): Promise<RunningWorker> {
  let handle: http.RequestListener = (_req, res) => res.writeHead(503).end();
  const requestTimeout = options.timeouts?.requestMs ?? WORKER_TIMEOUTS.requestMs;
  const server = http.createServer(
    {
      // Node requires the headers' timeout not to exceed the whole request's.
      headersTimeout: Math.min(options.timeouts?.headersMs ?? WORKER_TIMEOUTS.headersMs, requestTimeout),
      requestTimeout,
      connectionsCheckingInterval: 1_000,
    },
    (req, res) => handle(req, res),
  );
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', resolve);
  });
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const secret = randomBytes(24).toString('base64url');
  const deferred = createDeferred({
    projectId: stack.projectId,
    location: stack.location,
    handlerUrl: `${origin}/_deferred`,
    secret,
    datastore: options.datastore ?? stack.datastore(),
    tasks: options.tasks ?? stack.tasksClient(),
    ...options.config,
  });
  const sweeper = installSweeper(deferred, options.sweeper);
  handle = deferred.handler;
  return {
    deferred,
    server,
    sweeper,
    origin,
    handlerUrl: `${origin}/_deferred`,
    secret,
    close: (graceMs = 5_000) =>
      new Promise<void>((resolve) => {
        const force = setTimeout(() => server.closeAllConnections(), graceMs);
        server.close(() => {
          clearTimeout(force);
          resolve();
        });
        server.closeIdleConnections();
      }),
  };
}
