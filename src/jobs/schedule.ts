/** Recurring schedules: a fixed interval or a cron expression, and the next due time after a given moment. */
import { createRequire } from 'node:module';
import type { CronExpressionParser as CronParser } from 'cron-parser';
import { InvalidArgumentError } from '../errors/invalid-argument.js';
import { formatDuration, parseDuration } from '../util/duration.js';

/** When a recurring job runs: every fixed interval, or on a cron expression (5 or 6 fields) in a time zone. */
export type ScheduleSpec =
  | { readonly every: string | number }
  | { readonly cron: string; /** IANA time zone. @default 'UTC' */ readonly timeZone?: string };

/** A validated schedule. */
export interface Schedule {
  /** Human-readable form stored on the job record, e.g. `every 1h` or `cron 0 3 * * * (UTC)`. */
  readonly description: string;
  /** The first due time strictly after `afterMs`, given the previous due time (null for the first run). */
  next(afterMs: number, previousDueMs: number | null): number;
}

/** Smallest interval accepted: shorter ones would turn a job into a busy loop of tasks. */
export const MIN_INTERVAL_MS = 1000;

let cronParser: typeof CronParser | undefined;

/**
 * cron-parser, loaded by the first cron schedule (it is CommonJS, so `require` loads it synchronously): importing
 * it costs 20-30 ms of start-up, which apps whose jobs run on intervals, or that only use mappers, do not pay.
 */
function cron(): typeof CronParser {
  cronParser ??= (createRequire(import.meta.url)('cron-parser') as typeof import('cron-parser')).CronExpressionParser;
  return cronParser;
}

/**
 * Validates a schedule spec.
 * @throws InvalidArgumentError naming the job and what is wrong with its schedule.
 */
export function parseSchedule(job: string, spec: ScheduleSpec): Schedule {
  if ('every' in spec) {
    const every = parseDuration(spec.every, `recurring job "${job}": every`);
    if (every < MIN_INTERVAL_MS) {
      throw new InvalidArgumentError(`recurring job "${job}": every must be at least 1s, got ${spec.every}.`);
    }
    return {
      description: `every ${formatDuration(every)}`,
      next(afterMs, previousDueMs) {
        if (previousDueMs === null) return afterMs + every;
        // Keep the cadence of the chain; skip slots missed while the job was late or disabled.
        const missed = Math.max(0, Math.floor((afterMs - previousDueMs) / every));
        return previousDueMs + (missed + 1) * every;
      },
    };
  }
  const timeZone = spec.timeZone ?? 'UTC';
  const parse = (currentDate: number) => cron().parse(spec.cron, { currentDate: new Date(currentDate), tz: timeZone });
  try {
    parse(Date.now()).next();
  } catch (error) {
    throw new InvalidArgumentError(
      `recurring job "${job}": cron "${spec.cron}" is not valid (${(error as Error).message}); write 5 fields like "0 3 * * *" or 6 with seconds.`,
    );
  }
  return {
    description: `cron ${spec.cron} (${timeZone})`,
    next(afterMs) {
      return parse(afterMs).next().getTime();
    },
  };
}
