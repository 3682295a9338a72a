/**
 * Starts the Cloud Tasks emulator: one port serving gRPC and REST (v2 and v2beta3) to the official clients, gcloud and
 * curl, the OIDC key server and the dispatcher.
 */
import http from 'node:http';
import { CloudTasksClient, v2beta3 } from '@google-cloud/tasks';
import { emulatorTasksClientOptions, type EmulatorTasksClientOptions } from '../clients/tasks-client.js';
import { buildRpcs } from './api.js';
import { CmekConfigs } from './cmek-config.js';
import { systemClock, type Clock } from './clock.js';
import { Dispatcher } from './dispatcher.js';
import { TasksEngine } from './engine.js';
import { googleAuthLibrary, grpc, type Gax } from './google-gax.js';
import { HttpSender } from './http-sender.js';
import { OidcProvider } from './oidc.js';
import { OperationStore } from './operations.js';
import { listenPortMux } from './port-mux.js';
import type { ApiVersion } from './proto.js';
import { bufferTaskRoutes } from './rest/buffer-task.js';
import { RestGateway } from './rest/gateway.js';
import { addGrpcServices } from './service.js';

/** Options of {@link startTasksEmulator}. */
export interface TasksEmulatorOptions {
  /**
   * Interface the API port (gRPC and REST) and the OIDC server listen on.
   * @default '127.0.0.1'
   */
  host?: string;
  /**
   * The API port, serving gRPC (HTTP/2) and REST (HTTP/1.1) alike; 0 picks a free port.
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
  /**
   * `'manual'`: queues dispatch nothing by themselves, only RunTask does, so a test decides which task runs when (the
   * testing harness of `cloud-deferred/testing` drives the emulator this way). Schedules, retries and backoff are
   * kept as usual.
   * @default 'auto'
   */
  dispatch?: 'auto' | 'manual';
}

/** Which client {@link RunningTasksEmulator.createClient} makes. */
export interface EmulatorClientOptions {
  /**
   * gRPC (the client's default) or REST (`fallback: 'rest'`, HTTP/1.1 JSON).
   * @default 'grpc'
   */
  transport?: 'grpc' | 'rest';
}

/** Options for `new CloudTasksClient(...)` (or `v2beta3.CloudTasksClient`) that point it at the emulator over REST. */
export type RestClientOptions = {
  fallback: 'rest';
  apiEndpoint: string;
  port: number;
  protocol: 'http';
  /** No credentials: the emulator checks none (google-auth-library's PassThroughClient). */
  authClient: InstanceType<typeof Gax.googleAuthLibrary.PassThroughClient>;
};

/** A started emulator. */
export interface RunningTasksEmulator {
  readonly host: string;
  /** The API port: gRPC and REST, v2 and v2beta3. */
  readonly port: number;
  /** `host:port` of the API port, for `CLOUD_TASKS_EMULATOR_HOST` (firebase-admin) and gcloud's endpoint override. */
  readonly endpoint: string;
  /**
   * Options for `new CloudTasksClient(...)` that point it at this emulator over gRPC: an insecure channel made with the
   * grpc of the app's google-gax, and no credential look-up (see `emulatorTasksClientOptions`).
   */
  readonly clientOptions: EmulatorTasksClientOptions;
  /** Options for `new CloudTasksClient(...)` that point it at this emulator over REST. */
  readonly restClientOptions: RestClientOptions;
  /** A new official v2 client connected to this emulator (no Google credentials), over gRPC unless told otherwise. */
  createClient(options?: EmulatorClientOptions): CloudTasksClient;
  /** A new official v2beta3 client connected to this emulator, over gRPC unless told otherwise. */
  createClient(options: EmulatorClientOptions & { version: 'v2beta3' }): v2beta3.CloudTasksClient;
  /** Where verifiers find the key that signs the tasks' OIDC tokens. */
  readonly oidc: { issuer: string; jwksUri: string; pemCertsUri: string };
  readonly clock: Clock;
  /** Closes the API port and the OIDC server, cancels timers and aborts dispatches in flight. */
  stop(): Promise<void>;
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
    dispatch: options.dispatch ?? 'auto',
    retire: (queue, task) => engine.retire(queue, task),
  });
  engine.attach(dispatcher);

  const rpcs = buildRpcs({ engine, operations: new OperationStore(), cmek: new CmekConfigs() });
  const grpcServer = new grpc.Server();
  addGrpcServices(grpcServer, rpcs);
  const injector = grpcServer.createConnectionInjector(grpc.ServerCredentials.createInsecure());
  const gateway = new RestGateway(rpcs, bufferTaskRoutes(engine));
  const restServer = http.createServer({ keepAliveTimeout: 65_000 }, gateway.handle);
  let port: number;
  let mux: Awaited<ReturnType<typeof listenPortMux>>;
  try {
    mux = await listenPortMux(host, options.port ?? 0, {
      http2: (socket) => injector.injectConnection(socket),
      http1: (socket) => restServer.emit('connection', socket),
    });
    port = mux.port;
  } catch (error) {
    await oidc.close();
    grpcServer.forceShutdown();
    throw error;
  }
  const apiEndpoint = host;
  const clientOptions = emulatorTasksClientOptions(apiEndpoint, port);
  const restClientOptions = (): RestClientOptions => ({
    fallback: 'rest',
    apiEndpoint,
    port,
    protocol: 'http',
    // From the google-auth-library of the client's own google-gax, like the gRPC channel's credentials.
    authClient: new googleAuthLibrary.PassThroughClient(),
  });
  function createClient(options?: EmulatorClientOptions): CloudTasksClient;
  function createClient(options: EmulatorClientOptions & { version: 'v2beta3' }): v2beta3.CloudTasksClient;
  function createClient(
    options: EmulatorClientOptions & { version?: ApiVersion } = {},
  ): CloudTasksClient | v2beta3.CloudTasksClient {
    const settings = options.transport === 'rest' ? restClientOptions() : emulatorTasksClientOptions(apiEndpoint, port);
    return options.version === 'v2beta3' ? new v2beta3.CloudTasksClient(settings) : new CloudTasksClient(settings);
  }
  let stopped: Promise<void> | undefined;
  return {
    host,
    port,
    endpoint: `${host.includes(':') ? `[${host}]` : host}:${port}`,
    clientOptions,
    get restClientOptions() {
      return restClientOptions();
    },
    createClient,
    oidc: endpoints,
    clock,
    stop() {
      stopped ??= (async () => {
        dispatcher.stop();
        engine.sleepAll();
        sender.close();
        injector.destroy();
        grpcServer.forceShutdown();
        restServer.closeAllConnections();
        await mux.close();
        await oidc.close();
      })();
      return stopped;
    },
  };
}
