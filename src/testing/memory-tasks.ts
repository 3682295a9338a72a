/**
 * Cloud Tasks in process: the Cloud Tasks emulator's own engine and dispatcher (the same RPC semantics, names, retry
 * backoff and headers), reached through a client object instead of gRPC, delivering attempts to a function instead of
 * over HTTP. No port is opened.
 */
import type { CloudTasksClient } from '@google-cloud/tasks';
import { buildRpcs, type Rpc } from '../tasks-emulator/api.js';
import { CmekConfigs } from '../tasks-emulator/cmek-config.js';
import type { Clock } from '../tasks-emulator/clock.js';
import { Dispatcher } from '../tasks-emulator/dispatcher.js';
import { TasksEngine } from '../tasks-emulator/engine.js';
import type { AttemptOutcome, OutgoingRequest } from '../tasks-emulator/http-sender.js';
import { codecOf, type PlainMessage } from '../tasks-emulator/messages.js';
import { OidcProvider } from '../tasks-emulator/oidc.js';
import { OperationStore } from '../tasks-emulator/operations.js';
import { asRpcError } from '../tasks-emulator/rpc-errors.js';

/** Options of {@link createMemoryTasks}. */
export interface MemoryTasksOptions {
  /** Time of schedules, backoff and tombstones (the harness's manual clock). */
  readonly clock: Clock;
  /** Delivers one attempt (the harness calls the app's fetch handler); never rejects. */
  readonly send: (request: OutgoingRequest) => Promise<AttemptOutcome>;
  /** Base URL of App Engine targets. */
  readonly appEngineBaseUrl: string;
  /**
   * `manual`: only RunTask dispatches (the harness's mode); `auto`: due tasks are dispatched as the clock reaches them.
   * @default 'manual'
   */
  readonly dispatch?: 'auto' | 'manual';
}

/** A running in-memory Cloud Tasks. */
export interface MemoryTasks {
  /** A client with the official client's methods (promises of `[response, ...]`), for `createDeferred({ tasks })`. */
  readonly client: CloudTasksClient;
  /** Stops dispatching; attempts in flight are ignored. */
  stop(): void;
  /** The issuer of the OIDC tokens its deliveries carry, and its keys (a JSON Web Key Set), for the app's verifier. */
  readonly oidc: { readonly issuer: string; readonly jwks: { keys: Record<string, unknown>[] } };
}

const STATUS_NAMES: Record<number, string> = {
  0: 'OK',
  1: 'CANCELLED',
  2: 'UNKNOWN',
  3: 'INVALID_ARGUMENT',
  4: 'DEADLINE_EXCEEDED',
  5: 'NOT_FOUND',
  6: 'ALREADY_EXISTS',
  7: 'PERMISSION_DENIED',
  8: 'RESOURCE_EXHAUSTED',
  9: 'FAILED_PRECONDITION',
  10: 'ABORTED',
  11: 'OUT_OF_RANGE',
  12: 'UNIMPLEMENTED',
  13: 'INTERNAL',
  14: 'UNAVAILABLE',
  15: 'DATA_LOSS',
  16: 'UNAUTHENTICATED',
};

/** An RPC error as the official client throws it over gRPC: `code`, `details`, `metadata`, `"<code> <NAME>: <details>"`. */
function clientError(error: unknown): Error {
  const status = asRpcError(error).toServiceError();
  const code = status.code ?? 2;
  return Object.assign(new Error(`${code} ${STATUS_NAMES[code] ?? 'UNKNOWN'}: ${status.details ?? ''}`), {
    code,
    details: status.details ?? '',
    metadata: status.metadata,
  });
}

/** lowerCamelCase of an RPC (`CreateTask` -> `createTask`), as the client names its methods. */
const methodName = (rpc: string) => rpc.charAt(0).toLowerCase() + rpc.slice(1);

/** Answers one RPC with the request and answer converted as gRPC converts them, on a later turn of the event loop. */
async function call(rpc: Rpc, request: unknown): Promise<PlainMessage> {
  const requestCodec = codecOf(rpc.method.resolvedRequestType!);
  const responseCodec = codecOf(rpc.method.resolvedResponseType!);
  await new Promise<void>((resolve) => setImmediate(resolve));
  let answer: PlainMessage;
  try {
    answer = await rpc.handle(requestCodec.decode(requestCodec.encode((request ?? {}) as PlainMessage)));
  } catch (error) {
    throw clientError(error);
  }
  return responseCodec.decode(responseCodec.encode(answer));
}

/** The list RPCs and the field of their pages, for the client's auto-pagination. */
const PAGED: Record<string, string> = { ListQueues: 'queues', ListTasks: 'tasks' };

/** Starts Cloud Tasks in memory. */
export async function createMemoryTasks(options: MemoryTasksOptions): Promise<MemoryTasks> {
  const { clock } = options;
  const issuer = 'https://oidc.cloud-deferred.invalid';
  const oidc = await OidcProvider.create(issuer);
  const engine = new TasksEngine({
    clock,
    autoCreateQueues: true,
    tombstoneMs: 3_600_000,
    queueTombstoneMs: 3_600_000,
    minDispatchDeadlineMs: 15_000,
    appEngineBaseUrl: options.appEngineBaseUrl,
  });
  let stopped = false;
  const dispatcher = new Dispatcher({
    clock,
    sender: { send: (request) => (stopped ? Promise.resolve({ kind: 'aborted' }) : options.send(request)) },
    oidc,
    appEngineBaseUrl: options.appEngineBaseUrl,
    dispatch: options.dispatch ?? 'manual',
    retire: (queue, task) => engine.retire(queue, task),
  });
  engine.attach(dispatcher);

  const client: Record<string, unknown> = {};
  for (const rpc of buildRpcs({ engine, operations: new OperationStore(), cmek: new CmekConfigs() }).values()) {
    if (rpc.service.fullName !== '.google.cloud.tasks.v2.CloudTasks') continue;
    const field = PAGED[rpc.method.name];
    client[methodName(rpc.method.name)] = async (request: unknown, callOptions?: { autoPaginate?: boolean }) => {
      if (!field) return [await call(rpc, request), undefined, undefined];
      // Lists: every page at once unless autoPaginate is false, as the official client does.
      let page = await call(rpc, request);
      if (callOptions?.autoPaginate === false) {
        const next = page.nextPageToken ? { ...(request as object), pageToken: page.nextPageToken } : null;
        return [page[field], next, page];
      }
      const items = [...(page[field] as unknown[])];
      while (page.nextPageToken) {
        page = await call(rpc, { ...(request as object), pageToken: page.nextPageToken });
        items.push(...(page[field] as unknown[]));
      }
      return [items, null, page];
    };
  }
  Object.assign(client, {
    locationPath: (project: string, location: string) => `projects/${project}/locations/${location}`,
    queuePath: (project: string, location: string, queue: string) =>
      `projects/${project}/locations/${location}/queues/${queue}`,
    taskPath: (project: string, location: string, queue: string, task: string) =>
      `projects/${project}/locations/${location}/queues/${queue}/tasks/${task}`,
    initialize: async () => client,
    close: async () => undefined,
  });
  const proxy = new Proxy(client, {
    get(target, property) {
      if (property in target || typeof property !== 'string' || property === 'then') {
        return (target as Record<string | symbol, unknown>)[property];
      }
      return () => {
        throw new Error(
          `the in-memory Cloud Tasks client of cloud-deferred/testing has no ${property}(); it offers the Cloud Tasks v2 RPCs (createTask, getTask, listTasks, runTask, deleteTask, the queue RPCs) and the path helpers. Use an emulator backend for the rest.`,
        );
      };
    },
  });
  return {
    client: proxy as unknown as CloudTasksClient,
    oidc: { issuer, jwks: oidc.jwks() },
    stop() {
      stopped = true;
      dispatcher.stop();
      engine.sleepAll();
    },
  };
}
