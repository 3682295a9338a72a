/** Distributed sweeping: the sweep endpoint fans out one task per shard, named per run; each shard task sweeps within a budget and continues itself; a run record adds up the shards. */
import type { Datastore } from '@google-cloud/datastore';
import { runtimeConfigSource } from '../runtime/services.js';
import { InvalidArgumentError } from '../errors/invalid-argument.js';
import { DEFAULT_SHARDS, SHARD_COUNT, SWEEP_RUN_KIND, shardOf } from '../store/schema.js';
import { optionalWholeNumber } from '../util/whole-number.js';
import { inTransaction } from '../store/in-transaction.js';
import type { Deferred, Duration, TaskHandle, TimeSource } from '../types.js';
import { parseDuration } from '../util/duration.js';
import type { SweeperTasksClient } from './cloud-tasks.js';
import { log as write } from '../core/logger.js';
import type { LogEntry, Logger } from '../types.js';
import { SWEEP_LOGGER, type SweepOptions } from './sweep-options.js';
import { sweepShard } from './sweep-shard.js';
import { highestShardInUse } from './sweep-all.js';
import { addStats, emptyStats, type SweepStats } from './sweep-stats.js';

/** Registered name of the internal shard task. */
export const SHARD_TASK_NAME = 'deferred.sweepShard';

/** Options of {@link installSweeper}: where shard tasks go, how runs are bucketed, and the sweep's own options. */
export interface DistributedSweepOptions extends Omit<
  SweepOptions,
  'datastore' | 'tasks' | 'now' | 'onProgress' | 'signal' | 'dryRun' | 'log'
> {
  /** Datastore client to sweep. @default the runtime's */
  datastore?: Datastore;
  /** Cloud Tasks client for look-ups and re-drives. @default the runtime's */
  tasks?: SweeperTasksClient;
  /**
   * The schedule's period: requests within one period belong to the same run (the run id is the period's start), so a
   * doubled cron request fans out once.
   * @default '15m'
   */
  interval?: Duration;
  /** Work one shard task does before it re-enqueues itself with its cursor. @default '2m' */
  budget?: Duration;
  /** Queue of the shard tasks. @default the runtime's default queue */
  queue?: string;
  /** How long run records are kept (their `expireAt`; the sweep deletes them by age). @default '7d' */
  runRetention?: Duration;
  /** Time source (run buckets, the sweep's "now"). @default the runtime's clock, else the system clock */
  clock?: TimeSource;
  /** Receives the structured log entries of the fan-out and the shard tasks. @default as `sweep()`'s: JSON lines, INFO and above */
  log?: Logger;
}

/** Arguments of one shard task (one segment of one shard's sweep in one run). */
export interface ShardTaskArgs {
  runId: string;
  shard: number;
  shards: number;
  /** Segment number within the shard: 0 first, then one more per continuation. */
  seq: number;
  cursor: string | null;
}

/** What a fan-out did. */
export interface FanOutResult {
  runId: string;
  shards: number;
  /** Shard tasks created by this request. */
  created: number;
  /** Shard tasks that already existed (a doubled request for the same run). */
  existing: number;
}

/** A `_DeferredSweepRun` record, decoded. */
export interface SweepRunRecord {
  runId: string;
  startedAt: Date;
  shards: number;
  status: 'running' | 'done';
  shardsDone: number[];
  /** Stats per segment, keyed `<shard>.<seq>`. */
  segments: Record<string, SweepStats>;
  totals: SweepStats;
  finishedAt: Date | null;
  expireAt: Date;
}

/** What {@link installSweeper} returns. */
export interface InstalledSweeper {
  /** The registered shard task. */
  readonly shardTask: TaskHandle<[ShardTaskArgs]>;
  /** Starts (or joins) the run of the period containing `nowMs`: what the sweep endpoint does. */
  fanOut(nowMs?: number): Promise<FanOutResult>;
  /** Reads a run record. */
  readRun(runId: string): Promise<SweepRunRecord | undefined>;
}

/** The run id of the period of length `intervalMs` containing `nowMs`: its start, as `yyyymmdd-hhmmss` (UTC). */
export function runIdFor(nowMs: number, intervalMs: number): string {
  const start = new Date(Math.floor(nowMs / intervalMs) * intervalMs);
  return start
    .toISOString()
    .replace(/\.\d+Z$/, '')
    .replace(/[-:]/g, '')
    .replace('T', '-');
}

/**
 * The Cloud Task id of one segment: deterministic (a retried segment or a doubled fan-out finds its name taken) and
 * starting with a hash, so the ids of one run do not all share a prefix (Cloud Tasks hotspots on sequential names).
 */
export function segmentTaskId(runId: string, shard: number, seq: number): string {
  const hash = shardOf(`${runId}/${shard}/${seq}`, 0x7fffffff).toString(16).padStart(8, '0');
  return `${hash}-sweep-${runId}-s${shard}-${seq}`;
}

function decodeRun(entity: Record<string, unknown>): SweepRunRecord {
  return {
    runId: String(entity.runId),
    startedAt: entity.startedAt as Date,
    shards: Number(entity.shards),
    status: entity.status === 'done' ? 'done' : 'running',
    shardsDone: JSON.parse(String(entity.shardsDone ?? '[]')) as number[],
    segments: JSON.parse(String(entity.segments ?? '{}')) as Record<string, SweepStats>,
    totals: JSON.parse(String(entity.totals ?? 'null')) ?? emptyStats(),
    finishedAt: (entity.finishedAt as Date | null) ?? null,
    expireAt: entity.expireAt as Date,
  };
}

function encodeRun(run: SweepRunRecord) {
  const indexed = new Set(['expireAt', 'status']);
  const data: Record<string, unknown> = {
    runId: run.runId,
    startedAt: run.startedAt,
    shards: run.shards,
    status: run.status,
    shardsDone: JSON.stringify(run.shardsDone),
    segments: JSON.stringify(run.segments),
    totals: JSON.stringify(run.totals),
    finishedAt: run.finishedAt,
    expireAt: run.expireAt,
  };
  return Object.entries(data).map(([name, value]) => ({ name, value, excludeFromIndexes: !indexed.has(name) }));
}

/**
 * Installs the distributed sweeper on a runtime instance: registers the shard task (`deferred.sweepShard`) and routes
 * the runtime's sweep endpoint (`<basePath>/sweep`, what `cron.yaml` or Cloud Scheduler calls) to the fan-out. The
 * runtime authenticates that endpoint: App Engine's cron header when running on App Engine, else an OIDC token or a
 * signed request.
 */
export function installSweeper(deferred: Deferred, options: DistributedSweepOptions = {}): InstalledSweeper {
  const runtimeConfig = runtimeConfigSource(deferred);
  const datastore = () => {
    const ds = options.datastore ?? runtimeConfig?.().datastore;
    if (!ds)
      throw new InvalidArgumentError('installSweeper: pass `datastore` (the runtime instance does not expose one).');
    return ds;
  };
  const tasks = (): SweeperTasksClient => {
    const client = options.tasks ?? runtimeConfig?.().tasks;
    if (!client)
      throw new InvalidArgumentError('installSweeper: pass `tasks` (the runtime instance does not expose one).');
    return client;
  };
  const clock = (): TimeSource => options.clock ?? runtimeConfig?.().clock ?? { now: () => Date.now() };
  const intervalMs = parseDuration(options.interval ?? '15m', 'interval');
  if (intervalMs <= 0) throw new InvalidArgumentError('interval must be longer than 0, e.g. "15m".');
  const budgetMs = parseDuration(options.budget ?? '2m', 'budget');
  const runRetentionMs = parseDuration(options.runRetention ?? '7d', 'runRetention');
  const shards = optionalWholeNumber(options.shards, DEFAULT_SHARDS, 'shards', SHARD_COUNT);
  const logger = options.log ?? SWEEP_LOGGER;
  const log = (entry: LogEntry) => write(logger, entry);
  const namespace = () => options.namespace ?? datastore().namespace;
  const runKey = (runId: string) =>
    datastore().key({ namespace: namespace() || undefined, path: [SWEEP_RUN_KIND, runId] });
  const taskOptions = (name: string) => ({
    name,
    ifExists: 'ignore' as const,
    ...(options.queue ? { queue: options.queue } : {}),
  });

  const newRun = (runId: string, count: number, nowMs: number): SweepRunRecord => ({
    runId,
    startedAt: new Date(nowMs),
    shards: count,
    status: 'running',
    shardsDone: [],
    segments: {},
    totals: emptyStats(),
    finishedAt: null,
    expireAt: new Date(nowMs + runRetentionMs),
  });

  const readRun = async (runId: string) => {
    const [entity] = await datastore().get(runKey(runId));
    return entity ? decodeRun(entity) : undefined;
  };

  const recordSegment = async (args: ShardTaskArgs, stats: SweepStats, finished: boolean) => {
    const nowMs = clock().now();
    const run = await inTransaction(
      datastore(),
      async (tx) => {
        const [entity] = await tx.get(runKey(args.runId));
        const record = entity ? decodeRun(entity) : newRun(args.runId, args.shards, nowMs);
        record.segments[`${args.shard}.${args.seq}`] = stats;
        if (finished && !record.shardsDone.includes(args.shard)) record.shardsDone.push(args.shard);
        record.shardsDone.sort((a, b) => a - b);
        record.totals = Object.values(record.segments).reduce((total, s) => addStats(total, s), emptyStats());
        if (record.status !== 'done' && record.shardsDone.length >= record.shards) {
          record.status = 'done';
          record.finishedAt = new Date(nowMs);
        }
        tx.save({ key: runKey(args.runId), data: encodeRun(record) });
        return record;
      },
      10,
    );
    if (run.status === 'done' && finished && run.finishedAt?.getTime() === nowMs) {
      log({
        severity: 'INFO',
        message: `sweep run ${run.runId} finished: ${run.shards} shards`,
        event: 'run-done',
        runId: run.runId,
        stats: run.totals,
        segments: Object.keys(run.segments).length,
      });
    }
  };

  const shardTask: TaskHandle<[ShardTaskArgs]> = deferred.task(SHARD_TASK_NAME, async (args: ShardTaskArgs) => {
    const result = await sweepShard({
      ...options,
      datastore: datastore(),
      tasks: tasks(),
      shard: args.shard,
      shards: args.shards,
      cursor: args.cursor,
      budgetMs,
      now: new Date(clock().now()),
      log: logger,
    });
    await recordSegment(args, result.stats, result.cursor === null);
    log({
      severity: 'INFO',
      message: `sweep run ${args.runId}, shard ${args.shard}, segment ${args.seq}: ${result.cursor ? 'continuing' : 'finished'}`,
      event: 'segment-done',
      runId: args.runId,
      shard: args.shard,
      seq: args.seq,
      stats: result.stats,
      continues: result.cursor !== null,
    });
    if (result.cursor) {
      const next: ShardTaskArgs = { ...args, seq: args.seq + 1, cursor: result.cursor };
      await shardTask.with(taskOptions(segmentTaskId(args.runId, args.shard, next.seq))).defer(next);
    }
    return result.stats;
  });

  const fanOut = async (nowMs = clock().now()): Promise<FanOutResult> => {
    const runId = runIdFor(nowMs, intervalMs);
    const highest = await highestShardInUse(datastore(), namespace());
    const count = Math.max(shards, highest + 1);
    await inTransaction(datastore(), async (tx) => {
      const [entity] = await tx.get(runKey(runId));
      if (!entity) tx.save({ key: runKey(runId), data: encodeRun(newRun(runId, count, nowMs)) });
    });
    const deferrals = await Promise.all(
      Array.from({ length: count }, (_, shard) =>
        shardTask
          .with(taskOptions(segmentTaskId(runId, shard, 0)))
          .defer({ runId, shard, shards: count, seq: 0, cursor: null }),
      ),
    );
    const created = deferrals.filter((d) => d.status !== 'existing').length;
    const result = { runId, shards: count, created, existing: count - created };
    log({
      severity: 'INFO',
      message: created ? `sweep run ${runId}: fanned out ${created} shard tasks` : `sweep run ${runId} already started`,
      event: 'fan-out',
      ...result,
    });
    return result;
  };

  deferred.onSweep(async () => fanOut());
  return { shardTask, fanOut, readRun };
}
