/** The `deferred emulator tasks` command: runs the Cloud Tasks emulator in the foreground until interrupted. */
import type { Argv, CommandModule } from 'yargs';
import { InvalidArgumentError } from '../../errors/index.js';
import { startTasksEmulator } from '../../tasks-emulator/index.js';
import { parseDuration } from '../../util/duration.js';
import { COMMAND_SUMMARIES } from '../command-summaries.js';
import { checkPort } from '../port-flag.js';

interface TasksArgs {
  port: number;
  host: string;
  'auto-create-queues': boolean;
  tombstone?: string;
  'queue-tombstone'?: string;
  /** Earlier names of `tombstone` / `queue-tombstone` (they always took durations), still read. */
  'tombstone-ms'?: string;
  'queue-tombstone-ms'?: string;
  'app-engine-url'?: string;
  'oidc-port': number;
  'oidc-issuer'?: string;
  queue: string[];
  json: boolean;
}

/**
 * A tombstone flag's milliseconds, given under its name or its earlier one (`--tombstone-ms`: it always took
 * durations, despite its name); undefined when neither is given, an error when both are.
 */
function durationFlag(argv: Partial<TasksArgs>, flag: 'tombstone' | 'queue-tombstone'): number | undefined {
  const earlier = `${flag}-ms` as const;
  if (argv[flag] !== undefined && argv[earlier] !== undefined) {
    throw new InvalidArgumentError(`give --${flag} or its earlier name --${earlier}, not both.`);
  }
  if (argv[earlier] !== undefined) return parseDuration(String(argv[earlier]), `--${earlier}`);
  return argv[flag] === undefined ? undefined : parseDuration(String(argv[flag]), `--${flag}`);
}

const tasksCommand: CommandModule<object, TasksArgs> = {
  command: 'tasks',
  describe:
    'Run the Cloud Tasks emulator until Ctrl-C: gRPC and REST (HTTP/1.1 JSON) on one port, API versions v2 and v2beta3, ' +
    'for @google-cloud/tasks (gRPC or fallback: "rest"), firebase-admin (CLOUD_TASKS_EMULATOR_HOST), gcloud and curl',
  builder: (yargs: Argv) =>
    yargs
      .option('port', {
        type: 'number',
        default: 8123,
        describe: 'the API port, serving gRPC (HTTP/2) and REST (HTTP/1.1) alike (0 = a free port)',
      })
      .option('host', {
        type: 'string',
        default: '127.0.0.1',
        describe: 'interface for the API port and the OIDC server',
      })
      .option('auto-create-queues', {
        type: 'boolean',
        default: false,
        describe: 'create a queue with default settings the first time a task names it (else NOT_FOUND, as in Cloud)',
      })
      .option('tombstone', {
        type: 'string',
        describe:
          'how long a completed or deleted task name stays reserved (CreateTask gives ALREADY_EXISTS), e.g. 1h, 10m, or milliseconds (default: 1h)',
      })
      .option('queue-tombstone', {
        type: 'string',
        describe: 'how long a deleted queue name stays reserved, e.g. 7d (default: --tombstone)',
      })
      .option('tombstone-ms', { type: 'string', hidden: true })
      .option('queue-tombstone-ms', { type: 'string', hidden: true })
      .option('app-engine-url', {
        type: 'string',
        describe: 'base URL App Engine targets are sent to, e.g. http://127.0.0.1:8080 (without it they are refused)',
      })
      .option('oidc-port', {
        type: 'number',
        default: 0,
        describe: 'HTTP port serving the JWKS and OpenID configuration of OIDC tokens (0 = a free port)',
      })
      .option('oidc-issuer', {
        type: 'string',
        describe: 'the iss claim of OIDC tokens (default: the OIDC server origin, e.g. http://127.0.0.1:PORT)',
      })
      .option('queue', {
        type: 'string',
        array: true,
        default: [] as string[],
        describe: 'create this queue at start, e.g. projects/my-app/locations/us-central1/queues/default (repeatable)',
      })
      .option('json', {
        type: 'boolean',
        default: false,
        describe: 'print the endpoints as one JSON line instead of text',
      })
      .example('$0 emulator tasks --auto-create-queues', 'on 8123; a queue is made when a task first names it')
      .example('$0 emulator tasks --port 0 --json', 'on a free port; the endpoints as JSON')
      .check((argv) => {
        for (const flag of ['port', 'oidc-port'] as const) {
          checkPort(argv[flag], `--${flag}`);
        }
        for (const flag of ['tombstone', 'queue-tombstone'] as const) durationFlag(argv, flag);
        if (argv['app-engine-url'] !== undefined && !/^https?:\/\/[^/]/.test(argv['app-engine-url'])) {
          throw new InvalidArgumentError(`--app-engine-url must be an http(s) URL, got "${argv['app-engine-url']}".`);
        }
        return true;
      }) as unknown as Argv<TasksArgs>,
  handler: async (argv) => {
    const emulator = await startTasksEmulator({
      host: argv.host,
      port: argv.port,
      autoCreateQueues: argv['auto-create-queues'],
      tombstoneMs: durationFlag(argv, 'tombstone'),
      queueTombstoneMs: durationFlag(argv, 'queue-tombstone'),
      appEngineBaseUrl: argv['app-engine-url'],
      oidcPort: argv['oidc-port'],
      oidcIssuer: argv['oidc-issuer'],
    });
    if (argv.queue.length > 0) {
      const client = emulator.createClient();
      try {
        for (const name of argv.queue) {
          const parent = name.split('/queues/')[0] ?? '';
          await client.createQueue({ parent, queue: { name } });
        }
      } catch (error) {
        await client.close();
        await emulator.stop();
        throw new Error(`--queue: ${(error as { details?: string }).details ?? String(error)}`, { cause: error });
      }
      await client.close();
    }
    const { endpoint } = emulator;
    if (argv.json) {
      process.stdout.write(
        JSON.stringify({ host: emulator.host, port: emulator.port, endpoint, oidc: emulator.oidc }) + '\n',
      );
    } else {
      process.stdout.write(
        [
          `Cloud Tasks emulator listening on ${endpoint}: gRPC and REST (http://${endpoint}/v2/..., /v2beta3/...), no TLS, no credentials.`,
          `OIDC issuer ${emulator.oidc.issuer}, JWKS ${emulator.oidc.jwksUri}, PEM certificates ${emulator.oidc.pemCertsUri}`,
          `gRPC:  CLOUD_TASKS_EMULATOR_HOST=${endpoint} and createTasksClient() from cloud-deferred, or new CloudTasksClient(emulatorTasksClientOptions('${emulator.host}', ${emulator.port}))`,
          `REST:  new CloudTasksClient({ fallback: 'rest', apiEndpoint: '${emulator.host}', port: ${emulator.port}, protocol: 'http', authClient: new PassThroughClient() })`,
          `firebase-admin:  CLOUD_TASKS_EMULATOR_HOST=${endpoint}`,
          `gcloud:  gcloud config set api_endpoint_overrides/cloudtasks http://${endpoint}/ && gcloud config set auth/disable_credentials true`,
          'Press Ctrl-C to stop.',
          '',
        ].join('\n'),
      );
    }
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
    await emulator.stop();
  },
};

/** `deferred emulator <kind>`: local stand-ins for Google services. */
export const emulatorCommand: CommandModule<object, object> = {
  ...COMMAND_SUMMARIES.emulator,
  builder: (yargs: Argv) => yargs.command(tasksCommand).demandCommand(1, 'Name an emulator: tasks.'),
  handler: () => undefined,
};
