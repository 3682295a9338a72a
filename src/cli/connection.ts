/** The connection flags shared by the `deferred` commands (project, location, emulators, namespace), the clients they build, and the background checks that emulators named by the flags answer. */
import { connect as tcpConnect } from 'node:net';
import { Datastore } from '@google-cloud/datastore';
import { CloudTasksClient } from '@google-cloud/tasks';
import { EMULATOR_AUTH_OPTIONS, googleGax } from '../clients/gax.js';
import { emulatorTasksClientOptions, parseHostPort } from '../clients/tasks-client.js';
import type { Argv } from 'yargs';
import { InvalidArgumentError, PrerequisiteMissingError } from '../errors/index.js';
import { EXIT } from './exit-codes.js';
import { namespaceOf, registryKey } from '../store/namespace-registry.js';

/** Parsed connection flags. */
export interface ConnectionArgs {
  project?: string;
  location: string;
  'datastore-emulator-host'?: string;
  'tasks-emulator-host'?: string;
  namespace?: string;
}

/** Adds the connection flags, each with its environment variable, to a command. */
export function withConnection<T>(yargs: Argv<T>): Argv<T & ConnectionArgs> {
  return yargs
    .option('project', {
      type: 'string',
      group: 'Connection:',
      describe: 'Google Cloud project id [env: GOOGLE_CLOUD_PROJECT, else GCLOUD_PROJECT, else DATASTORE_PROJECT_ID]',
    })
    .option('location', {
      type: 'string',
      group: 'Connection:',
      default: process.env.CLOUD_TASKS_LOCATION ?? 'us-central1',
      describe: 'Cloud Tasks location (region) of the queues [env: CLOUD_TASKS_LOCATION]',
    })
    .option('datastore-emulator-host', {
      type: 'string',
      group: 'Connection:',
      describe: 'host:port of a Datastore or Firestore emulator [env: DATASTORE_EMULATOR_HOST]',
    })
    .option('tasks-emulator-host', {
      type: 'string',
      group: 'Connection:',
      describe: 'host:port of the cloud-deferred Cloud Tasks emulator [env: CLOUD_TASKS_EMULATOR_HOST]',
    })
    .option('namespace', {
      type: 'string',
      group: 'Connection:',
      describe:
        "the runtime's Datastore namespace (its task entities, and the registry of the other namespaces it writes task entities to) [env: DATASTORE_NAMESPACE]",
    }) as Argv<T & ConnectionArgs>;
}

/** The clients a command works with. */
export interface Connection {
  projectId: string;
  location: string;
  namespace: string | undefined;
  datastore: Datastore;
  tasks: CloudTasksClient;
  /**
   * What the command talks to, for headers: `project my-app (Datastore emulator 127.0.0.1:8081, Cloud Tasks emulator
   * 127.0.0.1:8123), namespace "t1"`, or `project my-app, default namespace` against the real services.
   */
  describe: string;
  close(): Promise<void>;
}

function hostPort(value: string, flag: string): { host: string; port: number } {
  const parsed = parseHostPort(value);
  if (!parsed) throw new InvalidArgumentError(`${flag} must be host:port, e.g. 127.0.0.1:8081; got "${value}".`);
  return parsed;
}

/** How long an emulator has to accept a connection. */
const CONNECT_MS = 5_000;
/**
 * How long it then has to answer a first request: more than a connection, since a busy machine (a test run, an
 * emulator's JVM still warming up) can take seconds to serve one, and a false alarm ends a working command.
 */
const ANSWER_MS = 15_000;
/** The gRPC codes of a request that got no answer: DEADLINE_EXCEEDED, UNAVAILABLE (gax retries it until the deadline). */
const NO_ANSWER_CODES: readonly unknown[] = [4, 14];

/** Exits with one line naming the endpoint, why it cannot be reached and what to do, and the prerequisite code. */
function exitUnreachable(what: string, host: string, port: number, flag: string, reason: string): never {
  process.stderr.write(
    `deferred: cannot reach the ${what} at ${host}:${port} (${reason}): start it (e.g. \`deferred dev\`) or fix ${flag}.\n`,
  );
  process.exit(EXIT.prerequisite);
}

/** Why a connection failed, in words, with the system's code (`connection refused: ECONNREFUSED`). */
function connectError(error: NodeJS.ErrnoException): string {
  const words: Record<string, string> = {
    ECONNREFUSED: 'connection refused: nothing listens there',
    ENOTFOUND: 'no such host',
    EAI_AGAIN: 'the host name could not be resolved now',
    EHOSTUNREACH: 'no route to the host',
    ECONNRESET: 'the connection was reset',
  };
  const code = error.code;
  if (code === undefined) return error.message;
  return words[code] ? `${words[code]}, ${code}` : code;
}

/**
 * Checks in the background that an emulator accepts connections; when it does not, exits at once with one line and the
 * prerequisite code (the clients would retry an unreachable endpoint for a minute, then print a wall of errors).
 */
function exitUnlessReachable(what: string, host: string, port: number, flag: string): void {
  const socket = tcpConnect({ host, port });
  const fail = (reason: string) => {
    socket.destroy();
    exitUnreachable(what, host, port, flag, reason);
  };
  // The idle timer can come due while the loop is busy (the clients load their protos synchronously meanwhile) with
  // the connect already done but not yet handled: timers run before I/O callbacks, so decide after those have run.
  socket.setTimeout(CONNECT_MS, () =>
    setImmediate(() => {
      if (socket.connecting) fail(`no connection within ${CONNECT_MS / 1000} s`);
    }),
  );
  socket.once('error', (error: NodeJS.ErrnoException) => fail(connectError(error)));
  socket.once('connect', () => socket.destroy());
  socket.unref();
}

/**
 * Sends `request` (one cheap RPC on the command's own client, given a deadline of {@link ANSWER_MS}) beside the
 * command's first ones; when it gets no answer by then (a port that accepts connections but never answers: another
 * program, a hung emulator), exits with one line and the prerequisite code instead of letting the command wait for the
 * client's own deadline (a minute). Any answer, an error too, is one: the command goes on. Returns a function that
 * stops the check (on closing the connection, which fails a request still under way).
 */
function exitUnlessAnswering(
  what: string,
  host: string,
  port: number,
  flag: string,
  request: (timeoutMs: number) => Promise<unknown>,
): () => void {
  let stopped = false;
  request(ANSWER_MS).catch((error: unknown) => {
    if (stopped || !NO_ANSWER_CODES.includes((error as { code?: unknown } | null)?.code)) return;
    exitUnreachable(what, host, port, flag, `it accepts connections but gave no answer within ${ANSWER_MS / 1000} s`);
  });
  return () => void (stopped = true);
}

/**
 * {@link exitUnlessAnswering} for a Datastore emulator: a look-up of the registry's entry for its own namespace, which
 * the registry does not hold.
 */
function checkDatastoreAnswers(datastore: Datastore, host: string, port: number): () => void {
  const key = registryKey(datastore, namespaceOf(datastore), namespaceOf(datastore));
  return exitUnlessAnswering('Datastore emulator', host, port, '--datastore-emulator-host', (timeout) =>
    datastore.get(key, { gaxOptions: { timeout } }),
  );
}

/** {@link exitUnlessAnswering} for a Cloud Tasks emulator: one page of one queue of the location `parent`. */
function checkTasksAnswers(tasks: CloudTasksClient, parent: string, host: string, port: number): () => void {
  return exitUnlessAnswering('Cloud Tasks emulator', host, port, '--tasks-emulator-host', (timeout) =>
    tasks.listQueues({ parent, pageSize: 1 }, { timeout, autoPaginate: false }),
  );
}

/** Resolves the flags (falling back to the environment) and builds the clients; one-line errors for bad or missing values. */
export function connect(argv: ConnectionArgs, env: NodeJS.ProcessEnv = process.env): Connection {
  const datastoreHost = argv['datastore-emulator-host'] ?? env.DATASTORE_EMULATOR_HOST;
  const tasksHost = argv['tasks-emulator-host'] ?? env.CLOUD_TASKS_EMULATOR_HOST;
  const projectId = argv.project ?? env.GOOGLE_CLOUD_PROJECT ?? env.GCLOUD_PROJECT ?? env.DATASTORE_PROJECT_ID;
  if (!projectId) {
    throw new PrerequisiteMissingError(
      'No Google Cloud project: pass --project <id> or set GOOGLE_CLOUD_PROJECT (any id works against the emulators).',
    );
  }
  if (!/^[a-z0-9][a-z0-9.:-]*$/.test(projectId)) {
    throw new InvalidArgumentError(
      `--project "${projectId}" is not a Google Cloud project id (lowercase letters, digits, hyphens).`,
    );
  }
  if (!/^[a-z][a-z0-9-]*$/.test(argv.location)) {
    throw new InvalidArgumentError(`--location "${argv.location}" is not a Cloud Tasks location, e.g. us-central1.`);
  }
  // Against emulators only: never let google-auth probe a GCE metadata server for credentials.
  if (datastoreHost && tasksHost) env.METADATA_SERVER_DETECTION ??= 'none';
  const namespace = argv.namespace ?? env.DATASTORE_NAMESPACE ?? undefined;
  /** The stops of the background checks that the emulators answer. */
  const checks: (() => void)[] = [];
  let datastore: Datastore;
  if (datastoreHost) {
    const { host, port } = hostPort(datastoreHost, '--datastore-emulator-host');
    exitUnlessReachable('Datastore emulator', host, port, '--datastore-emulator-host');
    datastore = new Datastore({
      projectId,
      apiEndpoint: `${host}:${port}`,
      sslCreds: googleGax('@google-cloud/datastore').grpc.credentials.createInsecure(),
      ...EMULATOR_AUTH_OPTIONS,
      ...(namespace ? { namespace } : {}),
    });
    checks.push(checkDatastoreAnswers(datastore, host, port));
  } else {
    datastore = new Datastore({ projectId, ...(namespace ? { namespace } : {}) });
  }
  let tasks: CloudTasksClient;
  if (tasksHost) {
    const { host, port } = hostPort(tasksHost, '--tasks-emulator-host');
    exitUnlessReachable('Cloud Tasks emulator', host, port, '--tasks-emulator-host');
    tasks = new CloudTasksClient(emulatorTasksClientOptions(host, port));
    checks.push(checkTasksAnswers(tasks, tasks.locationPath(projectId, argv.location), host, port));
  } else {
    tasks = new CloudTasksClient({ projectId });
  }
  const emulators = [
    datastoreHost ? `Datastore emulator ${datastoreHost}` : undefined,
    tasksHost ? `Cloud Tasks emulator ${tasksHost}` : undefined,
  ].filter(Boolean);
  const describe = `project ${projectId}${emulators.length ? ` (${emulators.join(', ')})` : ''}, ${namespace ? `namespace "${namespace}"` : 'default namespace'}`;
  return {
    projectId,
    location: argv.location,
    namespace,
    datastore,
    tasks,
    describe,
    async close() {
      for (const stop of checks) stop();
      await tasks.close().catch(() => undefined);
    },
  };
}
