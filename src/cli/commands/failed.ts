/** `deferred failed [list]` (the failure ledger as a table, newest first) and `deferred failed show <key>` (one record, as `inspect`). */
import type { Argv, CommandModule } from 'yargs';
import { InvalidArgumentError } from '../../errors/index.js';
import { listFailedTasks, namespacesWithFailures } from '../../failures/list-failed.js';
import type { FailedTaskSummary } from '../../types.js';
import { connect, withConnection, type ConnectionArgs } from '../connection.js';
import { describeFilter, filterOf, hasFilter, withFilterFlags, type FilterArgs } from '../failed-filter.js';
import { oneLine, table, when } from '../render.js';
import { inspectBuilder, runInspect, type InspectArgs } from './inspect.js';
import { COMMAND_SUMMARIES } from '../command-summaries.js';

interface ListArgs extends ConnectionArgs, FilterArgs {
  limit: number;
  json: boolean;
}

const print = (text: string) => void process.stdout.write(text);

/** The table of failed tasks: when, task, queue, attempts, last error, key. */
export function failedTable(tasks: readonly FailedTaskSummary[], errorWidth = 60): string {
  return table(
    ['when', 'task', 'queue', 'attempts', 'last error', 'key'],
    tasks.map((t) => [when(t.failedAt), t.task, t.queue, t.attempts, oneLine(t.lastError, errorWidth), t.key]),
    'lllrll',
  );
}

/** The line that says where else failures are, and how to list them (empty when nowhere). */
function elsewhereLine(namespaces: readonly string[]): string {
  if (namespaces.length === 0) return '';
  const names = namespaces.map((namespace) => JSON.stringify(namespace)).join(', ');
  return `\nAlso failed tasks in namespace(s) ${names}, where this runtime writes task entities: list them with deferred failed --namespace <namespace>.\n`;
}

const list: CommandModule<object, ListArgs> = {
  command: ['list', '$0'],
  describe: 'List failed tasks, newest first: when, task, queue, attempts, last error, key',
  builder: (yargs: Argv) =>
    withFilterFlags(withConnection(yargs))
      .option('limit', { type: 'number', default: 20, describe: 'most records to show (1-1000)' })
      .option('json', { type: 'boolean', default: false, describe: 'print {tasks, cursor} as one JSON object' })
      .example('$0 failed', 'the 20 newest failures')
      .example('$0 failed --task sendReport --since 1h --grep timeout', 'narrowed down')
      .check((argv) => {
        const limit = argv.limit as number;
        if (!Number.isInteger(limit) || limit < 1 || limit > 1000) {
          throw new InvalidArgumentError(`--limit must be a whole number from 1 to 1000, got ${String(limit)}.`);
        }
        return true;
      }) as unknown as Argv<ListArgs>,
  handler: async (argv) => {
    const connection = connect(argv);
    try {
      const filter = filterOf(argv, connection.namespace);
      // Pages until the limit is met: a narrow filter may need several bounded pages.
      const tasks: FailedTaskSummary[] = [];
      let cursor: string | null = null;
      do {
        const page: Awaited<ReturnType<typeof listFailedTasks>> = await listFailedTasks(connection.datastore, filter, {
          limit: argv.limit - tasks.length,
          cursor,
        });
        tasks.push(...page.tasks);
        cursor = page.cursor;
      } while (cursor && tasks.length < argv.limit);
      if (argv.json) return print(`${JSON.stringify({ tasks, cursor })}\n`);
      const narrowed = hasFilter(argv) ? ` (${describeFilter(argv)})` : '';
      const elsewhere = await namespacesWithFailures(connection.datastore, filter);
      if (tasks.length === 0) {
        return print(`No failed tasks in ${connection.describe}${narrowed}.\n${elsewhereLine(elsewhere)}`);
      }
      const columns = process.stdout.isTTY ? process.stdout.columns || 120 : 160;
      const fixed = 20 + 2 + Math.max(...tasks.map((t) => t.task.length + t.queue.length + t.key.length)) + 8 + 12;
      print(`Failed tasks in ${connection.describe}${narrowed}, newest first:\n\n`);
      print(failedTable(tasks, Math.max(24, Math.min(80, columns - fixed))));
      print(
        cursor
          ? `\n${tasks.length} shown; there are more: raise --limit, or narrow with --task, --queue, --since, --grep.\n`
          : `\n${tasks.length} failed task(s). Details: deferred failed show <key>; replay: deferred retry <key>.\n`,
      );
      print(elsewhereLine(elsewhere));
    } finally {
      await connection.close();
    }
  },
};

const show: CommandModule<object, InspectArgs> = {
  command: 'show <key>',
  describe: 'Show one failure record: its attempts and their errors, its decoded arguments (the same as inspect)',
  builder: (yargs: Argv) => inspectBuilder(yargs),
  handler: runInspect,
};

export const failedCommand: CommandModule<object, object> = {
  ...COMMAND_SUMMARIES.failed,
  builder: (yargs: Argv) =>
    yargs
      .command(list)
      .command(show)
      .example('$0 failed --since 1d', 'failures of the last day')
      .example('$0 failed show failed.default.1234567890123456789', 'one record with its attempt history'),
  handler: () => undefined,
};
