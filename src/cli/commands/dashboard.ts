/** `deferred dashboard`: the dashboard on loopback behind a random access token, until Ctrl-C. */
import { randomBytes } from 'node:crypto';
import type { Argv, CommandModule } from 'yargs';
import { emulatorTasksClientOptions, parseHostPort } from '../../clients/tasks-client.js';
import { createDeferred } from '../../runtime/deferred-runtime.js';
import { InvalidArgumentError } from '../../errors/index.js';
import { SHARD_COUNT } from '../../store/schema.js';
import { parseDuration } from '../../util/duration.js';
import { wholeNumber } from '../../util/whole-number.js';
import { appRuntime, withAppFlags, type AppArgs } from '../app-runtime.js';
import { connect, withConnection, type ConnectionArgs } from '../connection.js';
import { COMMAND_SUMMARIES } from '../command-summaries.js';
import { checkPort } from '../port-flag.js';

interface DashboardArgs extends ConnectionArgs, AppArgs {
  host: string;
  port: number;
  'read-only': boolean;
  queue: string[];
  shards?: number;
  refresh: string;
  json: boolean;
}

export const dashboardCommand: CommandModule<object, DashboardArgs> = {
  ...COMMAND_SUMMARIES.dashboard,
  builder: (yargs: Argv) =>
    withAppFlags(withConnection(yargs))
      .option('host', {
        type: 'string',
        default: '127.0.0.1',
        describe: 'loopback address to listen on (127.0.0.1, ::1, localhost)',
      })
      .option('port', { type: 'number', default: 0, describe: 'port (0 = a free one)' })
      .option('read-only', { type: 'boolean', default: false, describe: 'show everything, change nothing' })
      .option('queue', {
        type: 'string',
        array: true,
        default: [] as string[],
        describe: 'show only this queue (repeatable; default: every queue of the location)',
      })
      .option('shards', {
        type: 'number',
        describe: 'sweeper shards the entities are written with (1-9999) [default: 16]',
      })
      .option('refresh', {
        type: 'string',
        default: '10s',
        describe: 'how often the page refreshes (counts: every 30s at most)',
      })
      .option('json', { type: 'boolean', default: false, describe: 'print the URL as one JSON line' })
      .example('$0 dashboard', 'open the printed URL in a browser on this machine')
      .example('DEFERRED_SECRET=... $0 dashboard --handler-url https://app/_deferred', 'with Enable, Run now and Retry')
      .check((argv) => {
        checkPort(argv.port, '--port');
        if (!['127.0.0.1', '::1', 'localhost'].includes(String(argv.host))) {
          throw new InvalidArgumentError(
            `--host must be a loopback address (127.0.0.1, ::1 or localhost), got "${String(argv.host)}": to serve the dashboard to others, mount createDashboard() in your app behind its own authorization.`,
          );
        }
        if (argv.shards !== undefined) wholeNumber(argv.shards, '--shards', SHARD_COUNT);
        const refresh = parseDuration(String(argv.refresh), '--refresh');
        if (refresh < 500 || !Number.isInteger(refresh))
          throw new InvalidArgumentError(
            `--refresh must be a whole number of milliseconds of at least 500 (or a duration such as 10s), got "${String(argv.refresh)}".`,
          );
        for (const q of argv.queue as string[]) {
          if (!/^[A-Za-z0-9-]{1,100}$/.test(q))
            throw new InvalidArgumentError(`--queue "${q}" is not a queue id (letters, digits, hyphens).`);
        }
        return true;
      }) as unknown as Argv<DashboardArgs>,
  handler: async (argv) => {
    const connection = connect(argv);
    const { v2beta3 } = await import('@google-cloud/tasks');
    const tasksHost = argv['tasks-emulator-host'] ?? process.env.CLOUD_TASKS_EMULATOR_HOST;
    const parsed = tasksHost ? parseHostPort(tasksHost) : undefined;
    const tasksBeta = parsed
      ? new v2beta3.CloudTasksClient(emulatorTasksClientOptions(parsed.host, parsed.port))
      : new v2beta3.CloudTasksClient({ projectId: connection.projectId });
    const secret = argv.secret ?? process.env.DEFERRED_SECRET;
    const handlerUrl = argv['handler-url'] ?? process.env.DEFERRED_HANDLER_URL;
    // A runtime over the connection: the failure ledger (list, discard) and, with the app's secret and where it serves
    // tasks, the changes that create Cloud Tasks (Enable, Run now, Retry), signed and addressed (OIDC too) as the app's.
    const createTasks = Boolean(secret && (handlerUrl || argv['app-engine']));
    const deferred = createTasks
      ? appRuntime(connection, argv)
      : createDeferred({
          projectId: connection.projectId,
          location: connection.location,
          secret: randomBytes(24).toString('base64url'), // signs nothing: no change that creates a task is offered
          datastore: connection.datastore,
          tasks: connection.tasks,
        });
    const { serveDashboard } = await import('../../dashboard/index.js');
    const served = await serveDashboard({
      host: argv.host,
      port: argv.port,
      deferred,
      createTasks,
      datastore: connection.datastore,
      tasks: connection.tasks,
      tasksBeta,
      projectId: connection.projectId,
      location: connection.location,
      ...(connection.namespace ? { namespace: connection.namespace } : {}),
      ...(argv.queue.length ? { queues: argv.queue } : {}),
      ...(argv.shards === undefined ? {} : { shards: argv.shards }),
      readOnly: argv['read-only'],
      refreshMs: parseDuration(argv.refresh, '--refresh'),
    });
    if (argv.json) process.stdout.write(`${JSON.stringify({ url: served.url, origin: served.origin })}\n`);
    else {
      process.stdout.write(
        [
          `Dashboard of ${connection.describe}${argv['read-only'] ? ' (read-only)' : ''}:`,
          '',
          `    ${served.url}`,
          '',
          createTasks
            ? ''
            : "Enable, Run now and Retry need the app's --secret and --handler-url or --app-engine (or DEFERRED_SECRET, DEFERRED_HANDLER_URL), and --oidc-service-account when the app checks OIDC tokens.",
          'Open the URL on this machine; the token in it is the only way in. Ctrl-C to stop.',
          '',
        ]
          .filter((line, i, all) => line !== '' || all[i - 1] !== '')
          .join('\n'),
      );
    }
    await new Promise<void>((resolve) => {
      process.once('SIGINT', () => resolve());
      process.once('SIGTERM', () => resolve());
    });
    await served.close();
    await Promise.allSettled([connection.close(), tasksBeta.close()]);
    process.exit(0);
  },
};
