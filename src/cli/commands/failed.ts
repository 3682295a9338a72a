/** `deferred failed [list]` (the failure ledger as a table, newest first, of one namespace or all the runtime's) and `deferred failed show <key>` (one record, as `inspect`). */
import type { Datastore } from '@google-cloud/datastore';
import type { Argv, CommandModule } from 'yargs';
import { listFailedTasks, namespacesWithFailures, otherRegisteredNamespaces } from '../../failures/list-failed.js';
import type { FailedTaskFilter, FailedTaskSummary } from '../../types.js';
import { connect, withConnection, type Connection, type ConnectionArgs } from '../connection.js';
import { describeFilter, filterOf, hasFilter, withFilterFlags, type FilterArgs } from '../failed-filter.js';
import { oneLine, table, when } from '../render.js';
import { inspectBuilder, runInspect, type InspectArgs } from './inspect.js';
import { COMMAND_SUMMARIES } from '../command-summaries.js';
import { namespaceName } from '../../store/namespace-registry.js';
import { wholeNumber } from '../../util/whole-number.js';

interface ListArgs extends ConnectionArgs, FilterArgs {
  limit: number;
  json: boolean;
  'all-namespaces': boolean;
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
  return `\nAlso failed tasks in namespace(s) ${names}, where this runtime writes task entities: list them with deferred failed --namespace <namespace>, or all at once with deferred failed --all-namespaces.\n`;
}

/** Up to `limit` records matching `filter`, newest first: pages until the limit is met (a narrow filter may need several). */
async function collect(
  datastore: Datastore,
  filter: FailedTaskFilter,
  limit: number,
): Promise<{ tasks: FailedTaskSummary[]; cursor: string | null }> {
  const tasks: FailedTaskSummary[] = [];
  let cursor: string | null = null;
  do {
    const page: Awaited<ReturnType<typeof listFailedTasks>> = await listFailedTasks(datastore, filter, {
      limit: limit - tasks.length,
      cursor,
    });
    tasks.push(...page.tasks);
    cursor = page.cursor;
  } while (cursor && tasks.length < limit);
  return { tasks, cursor };
}

/** The width left for the last-error column of a table of `tasks`, on this terminal. */
function errorWidthFor(tasks: readonly FailedTaskSummary[]): number {
  const columns = process.stdout.isTTY ? process.stdout.columns || 120 : 160;
  const fixed = 20 + 2 + Math.max(...tasks.map((t) => t.task.length + t.queue.length + t.key.length)) + 8 + 12;
  return Math.max(24, Math.min(80, columns - fixed));
}

/**
 * `--all-namespaces`: the runtime's namespace, then each other one it writes task entities to that holds matching
 * records (the registry's first 20), a table each with `--limit` records at most. Each namespace is listed once, and
 * one without matching records is left out.
 */
async function listAllNamespaces(argv: ListArgs, connection: Connection): Promise<void> {
  const home = connection.namespace ?? '';
  const others = await otherRegisteredNamespaces(connection.datastore, home);
  const listed = await Promise.all(
    [home, ...others].map(async (namespace) => ({
      namespace,
      // The namespace given whole: '' is the default namespace, not the connection's.
      ...(await collect(connection.datastore, { ...filterOf(argv, undefined), namespace }, argv.limit)),
    })),
  );
  const sections = listed.filter((section, i) => i === 0 || section.tasks.length > 0);
  if (argv.json) return print(`${JSON.stringify({ namespaces: sections })}\n`);
  const narrowed = hasFilter(argv) ? ` (${describeFilter(argv)})` : '';
  const found = sections.filter((section) => section.tasks.length > 0);
  if (found.length === 0) {
    return print(
      `No failed tasks in ${connection.describe}${narrowed}, nor in the namespaces it writes task entities to.\n`,
    );
  }
  print(`Failed tasks in ${connection.describe} and the namespaces it writes task entities to${narrowed}:\n`);
  let count = 0;
  for (const { namespace, tasks, cursor } of found) {
    count += tasks.length;
    print(`\n${namespaceName(namespace)}, newest first:\n\n`);
    print(failedTable(tasks, errorWidthFor(tasks)));
    if (cursor) print(`(${tasks.length} shown; there are more: raise --limit, or narrow the filter)\n`);
  }
  print(
    `\n${count} failed task(s) in ${found.length} namespace(s). Details: deferred failed show <key> --namespace <namespace>; replay: deferred retry <key> --namespace <namespace>.\n`,
  );
}

const list: CommandModule<object, ListArgs> = {
  command: ['list', '$0'],
  describe: 'List failed tasks, newest first: when, task, queue, attempts, last error, key',
  builder: (yargs: Argv) =>
    withFilterFlags(withConnection(yargs))
      .option('limit', { type: 'number', default: 20, describe: 'most records to show (1-1000; per namespace)' })
      .option('json', {
        type: 'boolean',
        default: false,
        describe: 'print {tasks, cursor} as one JSON object ({namespaces: [{namespace, tasks, cursor}]} with -A)',
      })
      .option('all-namespaces', {
        alias: 'A',
        type: 'boolean',
        default: false,
        describe:
          "also list the other namespaces the runtime writes task entities to (tenants' entity groups of transactional tasks), a table each",
      })
      .example('$0 failed', 'the 20 newest failures')
      .example('$0 failed --task sendReport --since 1h --grep timeout', 'narrowed down')
      .example('$0 failed -A', "the runtime's namespace and every other one holding failures")
      .check((argv) => {
        wholeNumber(argv.limit, '--limit', { min: 1, max: 1000 });
        return true;
      }) as unknown as Argv<ListArgs>,
  handler: async (argv) => {
    const connection = connect(argv);
    try {
      if (argv['all-namespaces']) return await listAllNamespaces(argv, connection);
      const filter = filterOf(argv, connection.namespace);
      const { tasks, cursor } = await collect(connection.datastore, filter, argv.limit);
      if (argv.json) return print(`${JSON.stringify({ tasks, cursor })}\n`);
      const narrowed = hasFilter(argv) ? ` (${describeFilter(argv)})` : '';
      const elsewhere = await namespacesWithFailures(connection.datastore, filter);
      if (tasks.length === 0) {
        return print(`No failed tasks in ${connection.describe}${narrowed}.\n${elsewhereLine(elsewhere)}`);
      }
      print(`Failed tasks in ${connection.describe}${narrowed}, newest first:\n\n`);
      print(failedTable(tasks, errorWidthFor(tasks)));
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
  builder: (yargs: Argv) =>
    inspectBuilder(yargs).example(
      '$0 failed show failed.default.1234567890123456789',
      'a record by the key deferred failed lists',
    ),
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
