/** `deferred dev`: the local stack (Datastore or Firestore emulator + Cloud Tasks emulator) with a sample worker and a periodic sweep, until Ctrl-C. */
import { randomBytes } from 'node:crypto';
import type { Argv, CommandModule } from 'yargs';
import { InvalidArgumentError, PermanentTaskFailure } from '../../errors/index.js';
import { startLocalStack, type DatastoreBackend } from '../../local-stack/index.js';
import { startWorker } from '../../local-stack/worker.js';
import { parseDuration } from '../../util/duration.js';
import { COMMAND_SUMMARIES } from '../command-summaries.js';
import { checkPort } from '../port-flag.js';

interface DevArgs {
  backend: DatastoreBackend;
  port: number;
  'tasks-port': number;
  project: string;
  'sweep-every': string;
  json: boolean;
}

/** `label  value` lines with the values in one column. */
function aligned(rows: [string, string][]): string[] {
  const width = Math.max(...rows.map(([label]) => label.length));
  return rows.map(([label, value]) => `  ${label.padEnd(width)}  ${value}`);
}

/** A value as the shell reads it back: bare when it is safe, else in single quotes. */
function shellQuote(value: string): string {
  return /^[\w@%+=:,./-]+$/.test(value) ? value : `'${value.replace(/'/g, "'\\''")}'`;
}

export const devCommand: CommandModule<object, DevArgs> = {
  ...COMMAND_SUMMARIES.dev,
  builder: (yargs: Argv) =>
    yargs
      .option('backend', {
        choices: ['datastore', 'firestore'] as const,
        default: 'datastore' as const,
        describe: 'Datastore emulator, or the Firestore emulator in Datastore mode',
      })
      .option('port', { type: 'number', default: 8080, describe: 'worker HTTP port on 127.0.0.1 (0 = a free port)' })
      .option('tasks-port', {
        type: 'number',
        default: 8123,
        describe: 'Cloud Tasks emulator port, serving gRPC and REST alike (0 = a free port)',
      })
      .option('project', { type: 'string', default: 'demo-deferred', describe: 'project id the emulators answer for' })
      .option('sweep-every', {
        type: 'string',
        default: '15m',
        describe: 'fan out a distributed sweep this often, like cron.yaml (0 = never)',
      })
      .option('json', { type: 'boolean', default: false, describe: 'print the endpoints as one JSON line' })
      .example('$0 dev --backend firestore --port 0', 'Firestore emulator, worker on a free port')
      .check((argv) => {
        checkPort(argv.port, '--port');
        checkPort(argv['tasks-port'], '--tasks-port');
        parseDuration(String(argv['sweep-every']), '--sweep-every');
        if (!/^[a-z0-9][a-z0-9-]*$/.test(String(argv.project))) {
          throw new InvalidArgumentError(
            `--project "${String(argv.project)}" is not a project id (lowercase letters, digits, hyphens).`,
          );
        }
        return true;
      }) as unknown as Argv<DevArgs>,
  handler: async (argv) => {
    process.env.METADATA_SERVER_DETECTION ??= 'none';
    const inUse = (error: unknown, flag: string, value: number) =>
      /EADDRINUSE|address already in use|No address added/i.test(String((error as Error).message ?? error))
        ? new Error(`${flag} ${value} is in use: pass another ${flag} (0 picks a free one).`, { cause: error })
        : error;
    const stack = await startLocalStack({
      backend: argv.backend,
      projectId: argv.project,
      tasks: { autoCreateQueues: true, port: argv['tasks-port'] },
    }).catch((error: unknown) => {
      throw inUse(error, '--tasks-port', argv['tasks-port']);
    });
    let worker: Awaited<ReturnType<typeof startWorker>> | undefined;
    let timer: NodeJS.Timeout | undefined;
    const stopped = new Promise<NodeJS.Signals>((resolve) => {
      process.once('SIGINT', () => resolve('SIGINT'));
      process.once('SIGTERM', () => resolve('SIGTERM'));
    });
    try {
      worker = await startWorker(stack, { port: argv.port, config: { defaults: { retention: '1h' } } }).catch(
        (error: unknown) => {
          throw inUse(error, '--port', argv.port);
        },
      );
      const { deferred } = worker;
      const hello = deferred.task('hello', (name: string) => console.log(`[worker] hello, ${name}`));
      const report = deferred.task('bigReport', (rows: Buffer) =>
        console.log(`[worker] report of ${rows.length} bytes`),
      );
      let failures = 0;
      const flaky = deferred.task('flaky', () => {
        if (failures++ === 0) throw new Error('first attempt fails on purpose; Cloud Tasks retries it');
        console.log('[worker] flaky succeeded on a retry');
      });
      let broken = true;
      const charge = deferred.task('charge', (account: string, cents: number) => {
        // Fails for good the first time (a failure record for `deferred failed`); a retry from the ledger succeeds.
        if (broken) {
          broken = false;
          throw new PermanentTaskFailure(`payment provider rejected ${account}: card expired`);
        }
        console.log(`[worker] charged ${account} ${cents} cents on a retry`);
      });
      // What the other commands need: the emulators, and for retry the worker's secret and URL.
      const env = {
        ...stack.env,
        DEFERRED_SECRET: worker.secret,
        DEFERRED_HANDLER_URL: worker.handlerUrl,
      };
      const info = {
        backend: argv.backend,
        projectId: stack.projectId,
        env,
        worker: worker.handlerUrl,
        sweep: `${worker.handlerUrl}/sweep`,
        tasks: deferred.taskNames(),
      };
      if (argv.json) process.stdout.write(`${JSON.stringify(info)}\n`);
      else {
        process.stdout.write(
          [
            'Local stack running (Ctrl-C to stop):',
            ...aligned([
              [
                argv.backend === 'datastore' ? 'Datastore emulator' : 'Firestore emulator (Datastore mode)',
                stack.env.DATASTORE_EMULATOR_HOST!,
              ],
              ['Cloud Tasks emulator', stack.env.CLOUD_TASKS_EMULATOR_HOST!],
              ['Worker', `${worker.handlerUrl}  (tasks: ${info.tasks.join(', ')})`],
            ]),
            '',
            'From another shell (in your project, where cloud-deferred is installed):',
            `  export ${Object.entries(env)
              .map(([k, v]) => `${k}=${shellQuote(v)}`)
              .join(' ')}`,
            '  npx deferred stats',
            '  npx deferred failed',
            '  npx deferred retry --task charge',
            '  npx deferred sweep --older-than 0 --dry-run',
            '',
          ].join('\n'),
        );
      }
      await hello.defer('local stack');
      await report.defer(randomBytes(300_000));
      await flaky.defer();
      await charge.defer('acct-42', 1999);
      const everyMs = parseDuration(argv['sweep-every'], '--sweep-every');
      if (everyMs > 0) {
        timer = setInterval(
          () => void worker?.sweeper.fanOut().catch((e: Error) => console.error(`[sweep] ${e.message}`)),
          everyMs,
        );
      }
      const signal = await stopped;
      if (!argv.json) process.stdout.write(`\n${signal}: stopping the local stack...\n`);
    } finally {
      if (timer) clearInterval(timer);
      // No new deliveries, then let the ones in flight write their state, then stop the Datastore emulator.
      await stack.tasksEmulator.stop();
      await worker?.close();
      await stack.stop();
    }
    process.exit(0); // a foreground command: do not wait for stray timers of the clients
  },
};
