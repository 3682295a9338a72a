/** Recurring jobs: a function run on an interval or a cron schedule by one self-scheduling chain of tasks, with a status record. */
import { randomBytes } from 'node:crypto';
import type { Datastore, Key } from '@google-cloud/datastore';
import { requireRuntimeConfig } from '../runtime/services.js';
import { InvalidArgumentError } from '../errors/invalid-argument.js';
import type { Deferred, TaskHandle } from '../types.js';
import { inTransaction } from '../store/in-transaction.js';
import { RECURRING_JOB_KIND, type RecurringJobRecord } from './records.js';
import { parseSchedule, type ScheduleSpec } from './schedule.js';

/**
 * Options of {@link defineRecurringJob}: a schedule plus where its ticks go.
 *
 * @example
 * const nightly = defineRecurringJob(deferred, 'nightlyReport', { cron: '0 3 * * *', timeZone: 'Europe/Paris' }, async () => {
 *   const n = await buildReport();
 *   return `${n} rows`; // stored as lastRunMessage
 * });
 * await nightly.ensure(); // at start-up: creates the record (enabled) and its chain if there is none
 */
export type RecurringJobOptions = ScheduleSpec & {
  /** Queue of the job's ticks. @default the instance's queue */
  readonly queue?: string;
  /**
   * Whether `ensure()` creates the job enabled. Later changes go through `enable()` / `disable()` (or the CLI).
   * @default true
   */
  readonly enabled?: boolean;
};

/** A defined recurring job. */
export interface RecurringJob {
  readonly name: string;
  /** Creates the record and starts its chain when there is none; re-enqueues the current tick (idempotently) otherwise. */
  ensure(): Promise<RecurringJobRecord>;
  /** Enables the job. Already enabled: nothing changes (no second chain). Otherwise a new chain starts. */
  enable(): Promise<RecurringJobRecord>;
  /** Disables the job: the pending tick of its chain notices and stops. */
  disable(): Promise<RecurringJobRecord>;
  /** Runs the job once now, outside its schedule (recorded like any run). */
  runNow(): Promise<void>;
  /** The record, or null before `ensure()`. */
  status(): Promise<RecurringJobRecord | null>;
}

/** Name of the internal task that runs recurring job `name`. */
export const recurringTaskName = (name: string) => `_deferred.recurring.${name}`;

/** The chain id of runs started by `runNow()`; such runs never schedule a successor. */
const MANUAL = 'manual';

export function recurringJobKey(datastore: Datastore, name: string): Key {
  return datastore.key([RECURRING_JOB_KIND, name]);
}

const UNINDEXED = ['lastRunMessage', 'schedule', 'scheduleSpec', 'chain'];

/** Disables a recurring job by its record alone (the CLI needs no code of the job): its pending tick will stop. */
export async function disableRecurringJob(datastore: Datastore, name: string): Promise<RecurringJobRecord> {
  return inTransaction(datastore, async (tx) => {
    const key = recurringJobKey(datastore, name);
    const [r] = await tx.get(key);
    const existing = r as RecurringJobRecord | undefined;
    if (!existing)
      throw new InvalidArgumentError(`recurring job "${name}" has no record: define it and call ensure() first.`);
    const record: RecurringJobRecord = { ...existing, enabled: false, nextDue: null };
    tx.save({ key, data: record, excludeFromIndexes: UNINDEXED });
    return record;
  });
}

/**
 * Defines a recurring job on a deferred instance and registers its tick task (`_deferred.recurring.<name>`). Exactly
 * one chain of ticks runs per job: each tick carries its chain id and due time, and does nothing unless the record
 * still names that chain and that due time. A run's outcome (and any error message) is stored on the record.
 * Runs are at-least-once: a tick retried after its function finished but before its outcome was recorded runs again.
 */
export function defineRecurringJob(
  deferred: Deferred,
  name: string,
  options: RecurringJobOptions,
  run: () => unknown,
): RecurringJob {
  // Read when the job needs it (the default instance resolves its configuration on first use).
  const configOf = () => requireRuntimeConfig(deferred, `defineRecurringJob(deferred, ${JSON.stringify(name)}, ...)`)();
  if (typeof run !== 'function') {
    throw new InvalidArgumentError(`recurring job "${name}": pass the function to run as the fourth argument.`);
  }
  const schedule = parseSchedule(name, options);
  const scheduleSpec = JSON.stringify(
    'every' in options ? { every: options.every } : { cron: options.cron, timeZone: options.timeZone ?? 'UTC' },
  );
  const idPart = name.replace(/[^A-Za-z0-9_-]/g, '-').slice(0, 100);

  const tick: TaskHandle<[string, number]> = deferred.task(recurringTaskName(name), (chain: string, dueMs: number) =>
    runTick(chain, dueMs),
  );

  const store = () => configOf().datastore;
  const now = () => configOf().clock.now();
  const key = () => recurringJobKey(store(), name);

  /** Enqueues the tick of (chain, due) under a name derived from both: enqueueing it twice is harmless. */
  const enqueueTick = async (chain: string, dueMs: number) => {
    await tick
      .with({
        name: `recurring-${idPart}-${chain}-${dueMs}`,
        ifExists: 'ignore',
        eta: dueMs,
        ...(options.queue ? { queue: options.queue } : {}),
      })
      .defer(chain, dueMs);
  };

  const read = async (): Promise<RecurringJobRecord | null> => {
    const [record] = await store().get(key());
    return (record as RecurringJobRecord | undefined) ?? null;
  };

  async function runTick(chain: string, dueMs: number): Promise<void> {
    const datastore = store();
    // Claim the run: only the live chain's tick for the current due time runs (or a manual run).
    const claimed = await inTransaction(datastore, async (tx) => {
      const [r] = await tx.get(key());
      const record = r as RecurringJobRecord | undefined;
      if (!record) return { run: false, record };
      if (chain !== MANUAL) {
        if (!record.enabled || record.chain !== chain) return { run: false, record };
        const due = record.nextDue?.getTime() ?? null;
        if (due !== dueMs) return { run: false, record };
      }
      tx.save({
        key: key(),
        data: { ...record, status: 'running', lastRunStarted: new Date(now()) },
        excludeFromIndexes: UNINDEXED,
      });
      return { run: true, record };
    });
    if (!claimed.run) {
      // A retry of a tick whose successor was scheduled but maybe never enqueued (crash after the commit): re-enqueue.
      const record = claimed.record;
      if (record?.enabled && record.chain === chain && record.nextDue && record.nextDue.getTime() > dueMs) {
        await enqueueTick(chain, record.nextDue.getTime());
      }
      return;
    }

    let succeeded = true;
    let message: string;
    try {
      const result = await run();
      message = result === undefined || result === null ? 'ok' : String(result);
    } catch (error) {
      succeeded = false;
      message = (error as Error)?.message ?? String(error);
    }

    const next = await inTransaction(datastore, async (tx) => {
      const [r] = await tx.get(key());
      const record = r as RecurringJobRecord | undefined;
      if (!record) return null;
      const finished = now();
      const live = chain !== MANUAL && record.enabled && record.chain === chain;
      const nextDue = live ? schedule.next(finished, dueMs) : record.nextDue ? record.nextDue.getTime() : null;
      tx.save({
        key: key(),
        data: {
          ...record,
          status: 'idle',
          lastRunFinished: new Date(finished),
          lastRunSucceeded: succeeded,
          lastRunMessage: message.slice(0, 1500),
          runs: (record.runs ?? 0) + 1,
          nextDue: record.enabled && nextDue !== null ? new Date(nextDue) : null,
        },
        excludeFromIndexes: UNINDEXED,
      });
      return live ? nextDue : null;
    });
    if (next !== null) await enqueueTick(chain, next);
  }

  /**
   * Starts a new chain (in the record's transaction) and enqueues its first tick. An enabled job keeps its chain,
   * unless its schedule changed (a deploy with a new cron): then the new chain replaces the old one, which stops.
   */
  const startChain = async (enabledOnCreate: boolean): Promise<RecurringJobRecord> => {
    const datastore = store();
    const result = await inTransaction(datastore, async (tx) => {
      const [r] = await tx.get(key());
      const existing = r as RecurringJobRecord | undefined;
      if (existing?.enabled && existing.scheduleSpec === scheduleSpec) return existing;
      const record: RecurringJobRecord = {
        type: 'recurring',
        enabled: enabledOnCreate,
        status: 'idle',
        schedule: schedule.description,
        scheduleSpec,
        queue: options.queue ?? configOf().queue,
        chain: randomBytes(6).toString('hex'),
        nextDue: enabledOnCreate ? new Date(schedule.next(now(), null)) : null,
        lastRunStarted: existing?.lastRunStarted ?? null,
        lastRunFinished: existing?.lastRunFinished ?? null,
        lastRunSucceeded: existing?.lastRunSucceeded ?? null,
        lastRunMessage: existing?.lastRunMessage ?? null,
        runs: existing?.runs ?? 0,
      };
      tx.save({ key: key(), data: record, excludeFromIndexes: UNINDEXED });
      return record;
    });
    if (result.enabled && result.nextDue) await enqueueTick(result.chain, result.nextDue.getTime());
    return result;
  };

  return {
    name,
    async ensure() {
      const existing = await read();
      if (!existing) return startChain(options.enabled ?? true);
      if (existing.enabled && existing.scheduleSpec !== scheduleSpec) return startChain(true);
      if (existing.enabled && existing.nextDue) await enqueueTick(existing.chain, existing.nextDue.getTime());
      return existing;
    },
    enable: () => startChain(true),
    async disable() {
      return inTransaction(store(), async (tx) => {
        const [r] = await tx.get(key());
        const existing = r as RecurringJobRecord | undefined;
        if (!existing)
          throw new InvalidArgumentError(`recurring job "${name}" has no record yet: call ensure() first.`);
        const record: RecurringJobRecord = { ...existing, enabled: false, nextDue: null };
        tx.save({ key: key(), data: record, excludeFromIndexes: UNINDEXED });
        return record;
      });
    },
    async runNow() {
      await tick.with({ name: `recurring-${idPart}-${MANUAL}-${now()}`, ifExists: 'ignore' }).defer(MANUAL, now());
    },
    status: read,
  };
}
