/** Mappers: run a function over a Datastore query in batches inside tasks, continued with cursors, with a job record anyone can read. */
import { randomBytes } from 'node:crypto';
import type { Datastore, Query } from '@google-cloud/datastore';
import { requireRuntimeConfig } from '../runtime/services.js';
import { wholeNumber } from '../util/whole-number.js';
import { InvalidArgumentError } from '../errors/invalid-argument.js';
import type { Deferred, Duration, TaskHandle } from '../types.js';
import { parseDuration } from '../util/duration.js';
import {
  createMapperJob,
  jobKey,
  runMapperStep,
  type MapperContext,
  type MapperStepDefinition,
  type QueriedEntity,
} from './mapper-step.js';
import type { MapperJobRecord } from './records.js';

/**
 * Options of {@link defineMapper}.
 *
 * @example
 * const touchUsers = defineMapper(deferred, 'touchUsers', {
 *   query: (datastore) => datastore.createQuery('User'),
 *   map: (user, ctx) => ctx.put({ key: user[Datastore.KEY], data: { ...user, touched: true } }),
 *   onComplete: reportDone, // a task taking (summary: MapperJobSummary)
 * });
 * const jobId = await touchUsers.start();
 */
export interface MapperOptions {
  /**
   * The query to map over; for a sharded mapper, the query of shard `shard` (0 <= shard < shards), e.g. a key range.
   * Must be deterministic: every step runs it again from the stored cursor. Order by `__key__` (the default) or by a
   * property the map function does not change.
   */
  readonly query: (datastore: Datastore, shard: number) => Query;
  /**
   * Called once per entity. Writes through `ctx.put` / `ctx.delete` are batched and applied exactly once per entity,
   * even when a step is retried. A throw counts as that entity's failure (the job goes on, up to `maxFailures`).
   */
  readonly map: (entity: QueriedEntity, ctx: MapperContext) => void | Promise<void>;
  /**
   * Entities per batch (one query page, one commit of progress). Limits: 1-1000.
   * @default 100
   */
  readonly batchSize?: number;
  /**
   * How long one step (one task) maps before it hands over to the next step. Keep it well under the queue's dispatch
   * deadline (10 min by default).
   * @default '1m'
   */
  readonly stepBudget?: Duration;
  /**
   * Most batches per step, whatever the budget (useful to keep steps short and predictable).
   * @default Infinity
   */
  readonly maxBatchesPerStep?: number;
  /**
   * Entities that may fail to map before the job fails. `0` fails the job on the first failure.
   * @default 0
   */
  readonly maxFailures?: number;
  /**
   * Independent chains, each over `query(datastore, shard)`; the job ends when all have.
   * @default 1
   */
  readonly shards?: number;
  /** A task deferred once when the job ends (succeeded or failed), with its {@link MapperJobSummary}. */
  readonly onComplete?: TaskHandle<[MapperJobSummary]>;
  /** Queue of the step tasks. @default the instance's queue */
  readonly queue?: string;
}

/** What `onComplete` receives and `status()` returns. */
export interface MapperJobSummary {
  readonly jobId: string;
  readonly mapper: string;
  readonly status: MapperJobRecord['status'];
  readonly processed: number;
  readonly failed: number;
  readonly failures: readonly string[];
  readonly message: string;
  readonly startedAt: Date;
  readonly finishedAt: Date | null;
}

/** A defined mapper. */
export interface Mapper {
  readonly name: string;
  /**
   * Starts a job: writes its record, then enqueues the first step of every shard. Returns the job id.
   * @param options.jobId a chosen id (1-100 letters, digits, `-`, `_`); starting an existing id throws.
   */
  start(options?: { readonly jobId?: string }): Promise<string>;
  /** The job's record, or null when there is none. */
  status(jobId: string): Promise<MapperJobSummary | null>;
}

const JOB_ID = /^[A-Za-z0-9_-]{1,100}$/;

function summary(jobId: string, record: MapperJobRecord): MapperJobSummary {
  return {
    jobId,
    mapper: record.mapper,
    status: record.status,
    processed: record.processed,
    failed: record.failed,
    failures: record.failures ?? [],
    message: record.message,
    startedAt: record.startedAt,
    finishedAt: record.finishedAt,
  };
}

/** Name of the internal task that runs the steps of mapper `name`. */
export const mapperTaskName = (name: string) => `_deferred.mapper.${name}`;

/**
 * Defines a mapper on a deferred instance: registers its step task (`_deferred.mapper.<name>`), so define it at
 * start-up in the code the handler loads.
 */
export function defineMapper(deferred: Deferred, name: string, options: MapperOptions): Mapper {
  // Read when the job needs it (the default instance resolves its configuration on first use).
  const configOf = () => requireRuntimeConfig(deferred, `defineMapper(deferred, ${JSON.stringify(name)}, ...)`)();
  if (typeof options?.query !== 'function' || typeof options.map !== 'function') {
    throw new InvalidArgumentError(
      `mapper "${name}": give query: (datastore, shard) => Query and map: (entity, ctx) => ...`,
    );
  }
  const maxFailures = wholeNumber(options.maxFailures ?? 0, `mapper "${name}": maxFailures`, { min: 0 });
  const maxBatchesPerStep = options.maxBatchesPerStep ?? Infinity;
  if (!(maxBatchesPerStep >= 1)) {
    throw new InvalidArgumentError(`mapper "${name}": maxBatchesPerStep must be at least 1, got ${maxBatchesPerStep}.`);
  }
  const definition: MapperStepDefinition = {
    name,
    query: options.query,
    map: options.map,
    batchSize: wholeNumber(options.batchSize ?? 100, `mapper "${name}": batchSize`, { min: 1, max: 1000 }),
    stepBudgetMs: parseDuration(options.stepBudget ?? '1m', `mapper "${name}": stepBudget`),
    maxBatchesPerStep,
    maxFailures,
  };
  const shards = wholeNumber(options.shards ?? 1, `mapper "${name}": shards`, { min: 1, max: 1000 });

  const stepTask: TaskHandle<[string, number, number]> = deferred.task(
    mapperTaskName(name),
    async (jobId: string, shard: number, step: number) => {
      await runMapperStep(deps(jobId), definition, jobId, shard, step);
    },
  );

  /** Step names derive from the job, shard and step, so a retried step never forks its job. */
  const enqueueStep = async (jobId: string, shard: number, step: number) => {
    await stepTask
      .with({
        name: `mapper-${jobId}-s${shard}-${step}`,
        ifExists: 'ignore',
        ...(options.queue ? { queue: options.queue } : {}),
      })
      .defer(jobId, shard, step);
  };

  const deps = (jobId: string) => {
    const { datastore, clock } = configOf();
    return {
      datastore,
      now: () => clock.now(),
      enqueueStep: (shard: number, step: number) => enqueueStep(jobId, shard, step),
      finished: async (record: MapperJobRecord) => {
        if (options.onComplete) {
          await options.onComplete
            .with({ name: `mapper-${jobId}-complete`, ifExists: 'ignore' })
            .defer(summary(jobId, record));
        }
      },
    };
  };

  return {
    name,
    async start(startOptions = {}) {
      const jobId =
        startOptions.jobId ?? `${name.replace(/[^A-Za-z0-9_-]/g, '-').slice(0, 60)}-${randomBytes(6).toString('hex')}`;
      if (!JOB_ID.test(jobId)) {
        throw new InvalidArgumentError(
          `jobId ${JSON.stringify(jobId)} is not valid: use 1-100 letters, digits, '-' or '_'.`,
        );
      }
      const { datastore, clock } = configOf();
      if (!(await createMapperJob(datastore, name, jobId, shards, clock.now()))) {
        throw new InvalidArgumentError(
          `mapper job "${jobId}" already exists: choose another jobId, or read it with status().`,
        );
      }
      await Promise.all(Array.from({ length: shards }, (_, shard) => enqueueStep(jobId, shard, 1)));
      return jobId;
    },
    async status(jobId) {
      const { datastore } = configOf();
      const [record] = await datastore.get(jobKey(datastore, jobId));
      return record ? summary(jobId, record as MapperJobRecord) : null;
    },
  };
}
