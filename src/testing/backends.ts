/**
 * The two worlds a testing harness runs in: in memory (the in-memory Datastore and Cloud Tasks, deliveries to the
 * app's fetch handler in process) or on the local stack (a Datastore or Firestore emulator, our Cloud Tasks emulator,
 * deliveries over HTTP to the app's node handler on loopback). Both drive Cloud Tasks with a manual clock and manual
 * dispatch.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Datastore } from '@google-cloud/datastore';
import type { CloudTasksClient } from '@google-cloud/tasks';
import type { Deferred } from '../types.js';
import type { RunningDatastoreEmulator } from '../local-stack/datastore-emulator.js';
import { ManualClock } from '../tasks-emulator/clock.js';
import type { AttemptOutcome, OutgoingRequest } from '../tasks-emulator/http-sender.js';
import type { RunningTasksEmulator } from '../tasks-emulator/server.js';
import { createMemoryDatastore, MemoryDatastoreState } from './memory-datastore/index.js';
import { createMemoryTasks } from './memory-tasks.js';

/**
 * Where a harness runs: `'memory'` (no Java, no gcloud, no ports), or on the local stack with Google's Datastore
 * emulator (`'datastore-emulator'`) or the Firestore emulator in Datastore mode (`'firestore-emulator'`).
 */
export type HarnessBackend = 'memory' | 'datastore-emulator' | 'firestore-emulator';

/** One answered (or unanswered) delivery. */
export interface Delivery {
  /** The Cloud Task id the request carried. */
  readonly taskId: string | null;
  /** HTTP status, or null when no answer came. */
  readonly status: number | null;
  /** The handler's JSON answer, or null. */
  readonly body: Record<string, unknown> | null;
}

/** What the harness needs from a backend. */
export interface BackendWorld {
  readonly datastore: Datastore;
  /** The Cloud Tasks client the harness itself uses (the app gets a recording wrapper of it). */
  readonly tasks: CloudTasksClient;
  readonly clock: ManualClock;
  /** Where the app's handler is reached (HTTP targets). */
  readonly handlerUrl: string;
  /** Who signs the OIDC tokens of its deliveries, and where its keys are (handed over, or at a URL). */
  readonly oidc: { readonly issuer: string } & (
    { readonly jwks: { keys: Record<string, unknown>[] } } | { readonly jwksUri: string }
  );
  /** Routes deliveries to the app's runtime from now on; each delivery is reported to `onDelivery`. */
  serve(runtime: Deferred, onDelivery: (delivery: Delivery) => void): void;
  close(): Promise<void>;
}

/** Settings common to both backends. */
export interface BackendSettings {
  readonly startMs: number;
  readonly projectId: string;
  readonly namespace: string | undefined;
  readonly DatastoreClass: typeof Datastore | undefined;
}

function parseAnswer(text: string): Record<string, unknown> | null {
  try {
    const parsed = JSON.parse(text) as unknown;
    return parsed && typeof parsed === 'object' ? (parsed as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

function taskIdOf(headers: Iterable<readonly [string, string]>): string | null {
  for (const [name, value] of headers) {
    const lower = name.toLowerCase();
    if (lower === 'x-cloudtasks-taskname' || lower === 'x-appengine-taskname') return value;
  }
  return null;
}

/**
 * Closes the gRPC channels of a Datastore client the harness made (`Datastore` has no `close()`; its gapic clients,
 * kept in `clients_` as the in-memory backend's stubs are, each have one).
 */
async function closeDatastoreClient(datastore: Datastore): Promise<void> {
  const stubs = (datastore as unknown as { clients_?: Map<string, { close?: () => Promise<void> }> }).clients_;
  if (!(stubs instanceof Map)) return;
  await Promise.allSettled([...stubs.values()].map(async (stub) => stub.close?.()));
}

const MEMORY_ORIGIN = 'http://cloud-deferred.test';

/** The in-memory world: a real `Datastore` client answered from memory, Cloud Tasks in process, the fetch handler. */
export async function memoryWorld(settings: BackendSettings): Promise<BackendWorld> {
  const clock = new ManualClock(settings.startMs);
  let runtime: Deferred | undefined;
  let report: (delivery: Delivery) => void = () => undefined;

  const send = async (request: OutgoingRequest): Promise<AttemptOutcome> => {
    const taskId = taskIdOf(request.headers);
    if (!runtime) return { kind: 'unreachable', message: 'the harness has no app to deliver to yet' };
    const headers = new Headers();
    for (const [name, value] of request.headers) headers.append(name, value);
    let fetchRequest: Request;
    try {
      fetchRequest = new Request(request.url, {
        method: request.method,
        headers,
        ...(request.body && request.body.length > 0 ? { body: request.body } : {}),
      });
    } catch (error) {
      report({ taskId, status: null, body: null });
      return { kind: 'unreachable', message: `the request cannot be sent: ${(error as Error).message}` };
    }
    let timer: NodeJS.Timeout | undefined;
    // The dispatch deadline runs on the wall clock, as in the emulator: a handler that never answers must still end.
    const deadline = new Promise<'deadline'>((resolve) => {
      timer = setTimeout(() => resolve('deadline'), request.deadlineMs);
      timer.unref();
    });
    const answered = runtime.fetchHandler(fetchRequest).then(async (response) => ({
      status: response.status,
      body: parseAnswer(await response.text()),
    }));
    try {
      const result = await Promise.race([answered, deadline]);
      if (result === 'deadline') {
        report({ taskId, status: null, body: null });
        return { kind: 'deadline' };
      }
      report({ taskId, ...result });
      return { kind: 'response', status: result.status };
    } catch (error) {
      report({ taskId, status: null, body: null });
      return { kind: 'unreachable', message: (error as Error)?.message ?? String(error) };
    } finally {
      clearTimeout(timer);
    }
  };

  const tasks = await createMemoryTasks({ clock, send, appEngineBaseUrl: MEMORY_ORIGIN });
  const datastore = await createMemoryDatastore({
    projectId: settings.projectId,
    namespace: settings.namespace,
    Datastore: settings.DatastoreClass,
    state: new MemoryDatastoreState(),
    now: () => clock.now(),
  });
  return {
    datastore,
    tasks: tasks.client,
    clock,
    handlerUrl: `${MEMORY_ORIGIN}/_deferred`,
    oidc: tasks.oidc,
    serve(app, onDelivery) {
      runtime = app;
      report = onDelivery;
    },
    async close() {
      tasks.stop();
    },
  };
}

/** Options of the local-stack world. */
export interface EmulatorWorldSettings extends BackendSettings {
  readonly backend: 'datastore' | 'firestore';
  /** A client of a running emulator to use instead of starting one. */
  readonly datastore: Datastore | undefined;
}

/** The local stack: a Datastore emulator (given or started), our Cloud Tasks emulator, the node handler on loopback. */
export async function emulatorWorld(settings: EmulatorWorldSettings): Promise<BackendWorld> {
  const clock = new ManualClock(settings.startMs);
  let runtime: Deferred | undefined;
  let report: (delivery: Delivery) => void = () => undefined;

  const server = http.createServer((req, res) => {
    const app = runtime;
    if (!app) {
      res.writeHead(503).end();
      return;
    }
    const taskId = taskIdOf(Object.entries(req.headers).map(([n, v]) => [n, String(v)] as const));
    const chunks: Buffer[] = [];
    const write = res.write.bind(res) as (...args: unknown[]) => boolean;
    const end = res.end.bind(res) as (...args: unknown[]) => http.ServerResponse;
    const keep = (chunk: unknown) => {
      if (typeof chunk === 'string' || chunk instanceof Uint8Array) chunks.push(Buffer.from(chunk));
    };
    res.write = ((chunk: unknown, ...rest: unknown[]) => {
      keep(chunk);
      return write(chunk, ...rest);
    }) as typeof res.write;
    res.end = ((chunk?: unknown, ...rest: unknown[]) => {
      if (typeof chunk !== 'function') keep(chunk);
      report({ taskId, status: res.statusCode, body: parseAnswer(Buffer.concat(chunks).toString('utf8')) });
      return end(chunk, ...rest);
    }) as typeof res.end;
    app.handler(req, res, () => {
      res.statusCode = 404;
      res.end(JSON.stringify({ error: 'not found' }));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const closeServer = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });

  let started: RunningDatastoreEmulator | undefined;
  let tasksEmulator: RunningTasksEmulator | undefined;
  let datastore = settings.datastore;
  try {
    // Loaded here, not with the module: the in-memory world needs neither the gRPC server nor the launcher.
    const { startTasksEmulator } = await import('../tasks-emulator/server.js');
    const { startDatastoreEmulator } = await import('../local-stack/datastore-emulator.js');
    tasksEmulator = await startTasksEmulator({
      clock,
      autoCreateQueues: true,
      dispatch: 'manual',
      appEngineBaseUrl: origin,
    });
    if (!datastore) {
      started = await startDatastoreEmulator({ backend: settings.backend, projectId: settings.projectId });
      const DatastoreClass = settings.DatastoreClass ?? (await import('@google-cloud/datastore')).Datastore;
      datastore = new DatastoreClass({
        ...started.clientOptions,
        ...(settings.namespace !== undefined ? { namespace: settings.namespace } : {}),
      });
    }
  } catch (error) {
    await Promise.allSettled([tasksEmulator?.stop(), started?.stop(), closeServer()]);
    throw error;
  }
  const tasks = tasksEmulator.createClient();
  const emulator = tasksEmulator;
  return {
    datastore,
    tasks,
    clock,
    handlerUrl: `${origin}/_deferred`,
    oidc: { issuer: emulator.oidc.issuer, jwksUri: emulator.oidc.jwksUri },
    serve(app, onDelivery) {
      runtime = app;
      report = onDelivery;
    },
    async close() {
      await Promise.allSettled([tasks.close()]);
      await Promise.allSettled([emulator.stop(), closeServer()]);
      if (started) {
        await closeDatastoreClient(datastore!);
        await started.stop();
      }
    },
  };
}
