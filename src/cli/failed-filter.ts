/** The flags that select failed tasks (`--task`, `--queue`, `--since`, `--until`, `--grep`), shared by `failed list`, `retry` and `discard`. */
import type { Argv } from 'yargs';
import { InvalidArgumentError } from '../errors/index.js';
import type { FailedTaskFilter } from '../types.js';
import { parseDuration } from '../util/duration.js';

/** Parsed filter flags. */
export interface FilterArgs {
  task: string[];
  queue: string[];
  since?: string;
  until?: string;
  grep?: string;
}

/** Adds the filter flags to a command (group "Select:"). */
export function withFilterFlags<T>(yargs: Argv<T>): Argv<T & FilterArgs> {
  return yargs
    .option('task', {
      type: 'string',
      array: true,
      default: [] as string[],
      group: 'Select:',
      describe: 'only records of this registered task name (repeatable)',
    })
    .option('queue', {
      type: 'string',
      array: true,
      default: [] as string[],
      group: 'Select:',
      describe: 'only records of this queue id (repeatable)',
    })
    .option('since', {
      type: 'string',
      group: 'Select:',
      describe: 'only tasks that failed within this long (e.g. 1h, 2d) or since this time (e.g. 2026-01-10T12:00Z)',
    })
    .option('until', {
      type: 'string',
      group: 'Select:',
      describe: 'only tasks that failed before this long ago, or before this time',
    })
    .option('grep', {
      type: 'string',
      group: 'Select:',
      describe: 'only records whose last error contains this text (case-insensitive)',
    })
    .check((argv) => {
      for (const flag of ['since', 'until'] as const) {
        const value = (argv as Record<string, unknown>)[flag];
        if (value !== undefined) pointInTime(String(value), `--${flag}`, Date.now());
      }
      return true;
    }) as Argv<T & FilterArgs>;
}

/** `1h` (that long ago) or an absolute time (`2026-01-10T12:00Z`), as epoch milliseconds. */
export function pointInTime(value: string, flag: string, nowMs: number): number {
  try {
    return nowMs - parseDuration(value, flag);
  } catch (error) {
    const ms = /^\d{4}-\d{2}-\d{2}/.test(value) ? Date.parse(value) : Number.NaN;
    if (Number.isFinite(ms)) return ms;
    if (error instanceof InvalidArgumentError) {
      throw new InvalidArgumentError(
        `${flag}: "${value}" is neither a duration (e.g. "90s", "1h", "2d": that long ago) nor a time (e.g. "2026-01-10T12:00:00Z").`,
      );
    }
    throw error;
  }
}

/** True when any filter flag is given (the command then works on every matching record: a bulk action). */
export function hasFilter(argv: FilterArgs): boolean {
  return argv.task.length > 0 || argv.queue.length > 0 || Boolean(argv.since || argv.until || argv.grep);
}

/** The API filter of the flags. */
export function filterOf(argv: FilterArgs, namespace: string | undefined, nowMs = Date.now()): FailedTaskFilter {
  return {
    ...(argv.task.length ? { task: argv.task } : {}),
    ...(argv.queue.length ? { queue: argv.queue } : {}),
    ...(argv.since ? { since: pointInTime(argv.since, '--since', nowMs) } : {}),
    ...(argv.until ? { until: pointInTime(argv.until, '--until', nowMs) } : {}),
    ...(argv.grep ? { grep: argv.grep } : {}),
    ...(namespace ? { namespace } : {}),
  };
}

/** The flags as words, for messages: `task sendReport, since 1h`. */
export function describeFilter(argv: FilterArgs): string {
  const parts = [
    argv.task.length ? `task ${argv.task.join(' or ')}` : '',
    argv.queue.length ? `queue ${argv.queue.join(' or ')}` : '',
    argv.since ? `since ${argv.since}` : '',
    argv.until ? `until ${argv.until}` : '',
    argv.grep ? `error containing "${argv.grep}"` : '',
  ].filter(Boolean);
  return parts.join(', ');
}
