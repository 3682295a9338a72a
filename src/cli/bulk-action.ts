/** What `deferred retry` and `deferred discard` share: their flags, the selection (keys, or a filter), the confirmation of a bulk action, the exit code. */
import type { Argv } from 'yargs';
import { InvalidArgumentError } from '../errors/index.js';
import { matchingFailedTasks } from '../failures/list-failed.js';
import type { DiscardResult, FailedTaskSummary, RetryResult } from '../types.js';
import { toTaskKey } from '../store/key-text.js';
import { failedTable } from './commands/failed.js';
import { confirm } from './confirm.js';
import { withConnection, type Connection, type ConnectionArgs } from './connection.js';
import { filterOf, hasFilter, withFilterFlags, type FilterArgs } from './failed-filter.js';

/** Parsed flags of retry and discard. */
export interface ActionArgs extends ConnectionArgs, FilterArgs {
  keys: string[];
  'dry-run': boolean;
  yes: boolean;
  json: boolean;
}

export const print = (text: string) => void process.stdout.write(text);

/** The common flags of retry and discard. */
export function actionBuilder(yargs: Argv, verb: string): Argv<ActionArgs> {
  return withFilterFlags(withConnection(yargs))
    .positional('keys', {
      type: 'string',
      array: true,
      describe: `the records to ${verb}, as deferred failed lists them (or select them with --task, --since, ...)`,
    })
    .option('dry-run', {
      type: 'boolean',
      default: false,
      describe: `show what would be ${verb === 'retry' ? 'retried' : 'discarded'}, change nothing`,
    })
    .option('yes', {
      alias: 'y',
      type: 'boolean',
      default: false,
      describe: 'do not ask before a bulk action (for scripts)',
    })
    .option('json', { type: 'boolean', default: false, describe: 'print the results as one JSON object' })
    .check((argv) => {
      const keys = (argv.keys as string[] | undefined) ?? [];
      const filtered = hasFilter(argv as unknown as FilterArgs);
      if (keys.length === 0 && !filtered) {
        throw new InvalidArgumentError(
          `name the records to ${verb} (deferred ${verb} <key>...), or select them with --task, --queue, --since, --until or --grep.`,
        );
      }
      if (keys.length > 0 && filtered) {
        throw new InvalidArgumentError(
          `give either keys or selection flags (--task, --since, ...) to ${verb}, not both.`,
        );
      }
      return true;
    }) as unknown as Argv<ActionArgs>;
}

/** The records to act on: the keys given, or every record the filter matches (listed so the user sees them first). */
export async function selected(
  connection: Connection,
  argv: ActionArgs,
): Promise<{ keys: string[]; listed: FailedTaskSummary[] | null }> {
  if (!hasFilter(argv)) {
    for (const key of argv.keys) toTaskKey(connection.datastore, key, connection.namespace); // bad keys: exit 2 now
    return { keys: argv.keys, listed: null };
  }
  const listed: FailedTaskSummary[] = [];
  for await (const failed of matchingFailedTasks(connection.datastore, filterOf(argv, connection.namespace))) {
    listed.push(failed);
  }
  return { keys: listed.map((t) => t.key), listed };
}

/** Shows the selection and asks, for a bulk action; true when it may go ahead. */
export async function approve(
  argv: ActionArgs,
  verb: string,
  count: number,
  listed: FailedTaskSummary[] | null,
): Promise<boolean> {
  const bulk = listed !== null || count > 1;
  if (!bulk || argv['dry-run']) return true;
  if (listed && !argv.json && !argv.yes) print(`${failedTable(listed)}\n`);
  const what = `${verb === 'retry' ? 'Retrying' : 'Discarding'} ${count} failed task(s)`;
  const ok = await confirm(`${verb === 'retry' ? 'Retry' : 'Discard'} ${count} failed task(s)?`, {
    yes: argv.yes,
    what,
  });
  if (!ok) process.stderr.write(`deferred: nothing ${verb === 'retry' ? 'retried' : 'discarded'}.\n`);
  else if (!argv.yes) process.stderr.write('\n');
  return ok;
}

/** Exit 1 when a named record was missing or could not be handled, or a replay's task could not be created. */
export function failedAny(results: readonly (RetryResult | DiscardResult)[]): boolean {
  return results.some(
    (r) =>
      r.status === 'error' ||
      r.status === 'missing' ||
      r.status === 'not-failed' ||
      (r.status === 'retried' && !(r as RetryResult).enqueued),
  );
}
