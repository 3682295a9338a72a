/** Starts the Cloud Tasks emulator: the gRPC server the official client talks to, the OIDC key server and the dispatcher. */
import { CloudTasksClient } from '@google-cloud/tasks';
import { grpc } from 'google-gax';
import { systemClock, type Clock } from './clock.js';
import { Dispatcher } from './dispatcher.js';
import { TasksEngine } from './engine.js';
import { HttpSender } from './http-sender.js';
import { OidcProvider } from './oidc.js';
import { cloudTasksService } from './proto.js';
import { cloudTasksImplementation } from './service.js';

/** Options of {@link startTasksEmulator}. */
export interface TasksEmulatorOptions {
  /**
   * Interface the gRPC and OIDC servers listen on.
   * @default '127.0.0.1'
   */
  host?: string;
  /**
   * gRPC port; 0 picks a free port.
   * @default 0
   */
  port?: number;
  /**
   * Create a queue (with default settings) the first time a task RPC names it. Off, a missing queue is NOT_FOUND like
   * in the real service.
   * @default false
   */
  autoCreateQueues?: boolean;
  /**
   * How long the name of a completed or deleted task stays reserved (CreateTask answers ALREADY_EXISTS), in ms.
   * @default 3_600_000
   */
  tombstoneMs?: number;
  /**
   * How long the name of a deleted queue stays reserved (CreateQueue answers FAILED_PRECONDITION), in ms. The real
   * service reserves it for 7 days.
   * @default tombstoneMs
   */
  queueTombstoneMs?: number;
  /** Where App Engine targets are dispatched, e.g. 'http://127.0.0.1:8080'; without it, App Engine tasks are refused. */
  appEngineBaseUrl?: string;
  /**
   * Time source for schedules, backoff, rate limits and tombstones; pass a ManualClock in tests.
   * @default systemClock
   */
  clock?: Clock;
  /**
   * HTTP port serving the JWKS and OpenID configuration of the OIDC tokens; 0 picks a free port.
   * @default 0
   */
  oidcPort?: number;
  /**
   * The `iss` claim of OIDC tokens.
   * @default the OIDC server's origin, e.g. 'http://127.0.0.1:PORT'
   */
  oidcIssuer?: string;
  /**
   * The smallest dispatchDeadline accepted (the real service's is 15 s). Lower it only in tests that exercise a
   * deadline; deadlines run on the wall clock because they bound a real HTTP request.
   * @default 15_000
   */
  minDispatchDeadlineMs?: number;
}

/** A started emulator. */
export interface RunningTasksEmulator {
  readonly host: string;
  readonly port: number;
  /** Options for `new CloudTasksClient(...)` that point it at this emulator. */
  readonly clientOptions: { apiEndpoint: string; port: number; sslCreds: grpc.ChannelCredentials };
  /** A new official client connected to this emulator (insecure channel, no Google credentials). */
  createClient(): CloudTasksClient;
  /** Where verifiers find the key that signs the tasks' OIDC tokens. */
  readonly oidc: { issuer: string; jwksUri: string; pemCertsUri: string };
  readonly clock: Clock;
  /** Closes the gRPC and HTTP servers, cancels timers and aborts dispatches in flight. */
  stop(): Promise<void>;
}

function bindAsync(server: grpc.Server, address: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.bindAsync(address, grpc.ServerCredentials.createInsecure(), (error, port) =>
      error ? reject(error) : resolve(port),
    );
  });
}

/** Starts a Cloud Tasks emulator in this process. */
export async function startTasksEmulator(options: TasksEmulatorOptions = {}): Promise<RunningTasksEmulator> {
  const host = options.host ?? '127.0.0.1';
  const clock = options.clock ?? systemClock;
  const tombstoneMs = options.tombstoneMs ?? 3_600_000;
  const oidc = await OidcProvider.create(options.oidcIssuer);
  const endpoints = await oidc.listen(host, options.oidcPort ?? 0);
  const sender = new HttpSender();
  const engine = new TasksEngine({
    clock,
    autoCreateQueues: options.autoCreateQueues ?? false,
    tombstoneMs,
    queueTombstoneMs: options.queueTombstoneMs ?? tombstoneMs,
    minDispatchDeadlineMs: options.minDispatchDeadlineMs ?? 15_000,
    appEngineBaseUrl: options.appEngineBaseUrl,
  });
  const dispatcher = new Dispatcher({
    clock,
    sender,
    oidc,
    appEngineBaseUrl: options.appEngineBaseUrl,
    retire: (queue, task) => engine.retire(queue, task),
  });
  engine.attach(dispatcher);

  const server = new grpc.Server();
  server.addService(cloudTasksService(), cloudTasksImplementation(engine));
  let port: number;
  try {
    port = await bindAsync(server, `${host.includes(':') ? `[${host}]` : host}:${options.port ?? 0}`);
  } catch (error) {
    await oidc.close();
    throw error;
  }
  const clientOptions = { apiEndpoint: host, port, sslCreds: grpc.credentials.createInsecure() };
  let stopped: Promise<void> | undefined;
  return {
    host,
    port,
    clientOptions,
    createClient: () => new CloudTasksClient({ ...clientOptions, sslCreds: grpc.credentials.createInsecure() }),
    oidc: endpoints,
    clock,
    stop() {
      stopped ??= (async () => {
        dispatcher.stop();
        engine.sleepAll();
        sender.close();
        server.forceShutdown();
        await oidc.close();
      })();
      return stopped;
    },
  };
}
