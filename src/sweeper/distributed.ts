/** Distributed sweeping: the sweep endpoint fans out one task per shard of every namespace the runtime writes to, named per run; each shard task sweeps within a budget and continues itself; run records add up the shards. */
import { createHash } from 'node:crypto';
import type { Datastore, Key } from '@google-cloud/datastore';
import pLimit from 'p-limit';
import { runtimeConfigSource, runtimeEvents } from '../runtime/services.js';
import { InvalidArgumentError } from '../errors/invalid-argument.js';
import { DEFAULT_SHARDS, SHARD_COUNT, SWEEP_RUN_KIND, shardOf } from '../store/schema.js';
import { optionalWholeNumber } from '../util/whole-number.js';
import { inTransaction } from '../store/in-transaction.js';
import type { Deferred, Duration, TaskHandle, TimeSource } from '../types.js';
import { parseDuration } from '../util/duration.js';
import type { SweeperTasksClient } from './cloud-tasks.js';
import { log as write } from '../core/logger.js';
import type { LogEntry, Logger } from '../types.js';
import { SWEEP_LOGGER, limitersFor, resolveSweepOptions, type SweepOptions } from './sweep-options.js';
import { sweepEngine } from './on-demand.js';
import { addStats, emptyStats, type SweepStats } from './sweep-stats.js';

/** Most shard tasks a fan-out creates at once. */
const FAN_OUT_CONCURRENCY = 32;

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

/** Arguments of one shard task (one segment of one shard's sweep, in one namespace, in one run). */
export interface ShardTaskArgs {
  runId: string;
  /** The namespace swept; absent: the runtime's own. */
  namespace?: string;
  shard: number;
  /** Shards of this namespace in the run. */
  shards: number;
  /** Segment number within the shard: 0 first, then one more per continuation. */
  seq: number;
  cursor: string | null;
}

/** One namespace of a distributed sweep run and its shard count. */
export interface RunNamespace {
  /** The namespace (`''`: the default one). */
  namespace: string;
  /** Shard tasks of this namespace in the run. */
  shards: number;
}

/** What a fan-out did. */
export interface FanOutResult {
  runId: string;
  /** Shard tasks of the run, over every namespace. */
  shards: number;
  /** The namespaces of the run and their shard counts, the runtime's own first (`''`: the default namespace). */
  namespaces: RunNamespace[];
  /** Shard tasks created by this request. */
  created: number;
  /** Shard tasks that already existed (a doubled request for the same run). */
  existing: number;
}

/** A `_DeferredSweepRun` record, decoded. */
export interface SweepRunRecord {
  runId: string;
  startedAt: Date;
  /** Shard tasks of the run, over every namespace. */
  shards: number;
  /** The namespaces of the run and their shard counts, the runtime's own first (`''`: the default namespace). */
  namespaces: RunNamespace[];
  status: 'running' | 'done';
  /** The shards finished: `"<shard>"` in the runtime's own namespace, `"<namespace>/<shard>"` in others. */
  shardsDone: string[];
  /** Stats per segment, keyed `<shard>.<seq>` (`<namespace>/<shard>.<seq>` in other namespaces). */
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
 * A segment in another namespace than the runtime's carries a hash of the namespace (`-n<hash>`), since a namespace
 * may hold characters a task id cannot.
 */
export function segmentTaskId(runId: string, shard: number, seq: number, namespace?: string): string {
  if (namespace === undefined) {
    const hash = shardOf(`${runId}/${shard}/${seq}`, 0x7fffffff).toString(16).padStart(8, '0');
    return `${hash}-sweep-${runId}-s${shard}-${seq}`;
  }
  const ns = namespaceHash(namespace);
  const hash = shardOf(`${runId}/${ns}/${shard}/${seq}`, 0x7fffffff).toString(16).padStart(8, '0');
  return `${hash}-sweep-${runId}-n${ns}-s${shard}-${seq}`;
}

/** The hash that names a namespace in task ids and run records (a namespace may hold characters they cannot). */
function namespaceHash(namespace: string): string {
  return createHash('sha256').update(namespace).digest('hex').slice(0, 12);
}

/**
 * One namespace's part of a run, as stored: a `_DeferredSweepRun` entity in the runtime's own namespace, named after
 * the run (`<run id>` for the runtime's own namespace, `<run id>-n<namespace hash>` for another), so that the shard
 * tasks of different namespaces never write the same entity. The runtime's own part also holds the run's plan.
 */
interface RunPart {
  runId: string;
  /** The namespace this part counts. */
  namespace: string;
  startedAt: Date;
  /** Shards of this namespace in the run. */
  shards: number;
  /** Only in the runtime's own part: every namespace of the run and its shard count, its own first. */
  plan: RunNamespace[] | null;
  status: 'running' | 'done';
  shardsDone: number[];
  /** Stats per segment, keyed `<shard>.<seq>`. */
  segments: Record<string, SweepStats>;
  totals: SweepStats;
  finishedAt: Date | null;
  expireAt: Date;
}

function decodePart(entity: Record<string, unknown>, home: string): RunPart {
  return {
    runId: String(entity.runId),
    // Records written before runs covered several namespaces are the runtime's own part.
    namespace: typeof entity.namespace === 'string' ? entity.namespace : home,
    startedAt: entity.startedAt as Date,
    shards: Number(entity.shards),
    plan: typeof entity.plan === 'string' ? (JSON.parse(entity.plan) as RunNamespace[]) : null,
    status: entity.status === 'done' ? 'done' : 'running',
    shardsDone: (JSON.parse(String(entity.shardsDone ?? '[]')) as (number | string)[]).map(Number),
    segments: JSON.parse(String(entity.segments ?? '{}')) as Record<string, SweepStats>,
    totals: JSON.parse(String(entity.totals ?? 'null')) ?? emptyStats(),
    finishedAt: (entity.finishedAt as Date | null) ?? null,
    expireAt: entity.expireAt as Date,
  };
}

function encodePart(part: RunPart) {
  const indexed = new Set(['expireAt', 'status']);
  const data: Record<string, unknown> = {
    runId: part.runId,
    namespace: part.namespace,
    startedAt: part.startedAt,
    shards: part.shards,
    ...(part.plan ? { plan: JSON.stringify(part.plan) } : {}),
    status: part.status,
    shardsDone: JSON.stringify(part.shardsDone),
    segments: JSON.stringify(part.segments),
    totals: JSON.stringify(part.totals),
    finishedAt: part.finishedAt,
    expireAt: part.expireAt,
  };
  return Object.entries(data).map(([name, value]) => ({ name, value, excludeFromIndexes: !indexed.has(name) }));
}

/** The key of one part of a run: in the runtime's own namespace `home`, named after the run (and the part's namespace when it is another). */
function runPartKey(datastore: Datastore, home: string, runId: string, namespace?: string): Key {
  return datastore.key({
    namespace: home || undefined,
    path: [SWEEP_RUN_KIND, namespace === undefined ? runId : `${runId}-n${namespaceHash(namespace)}`],
  });
}

/**
 * Whole runs from a page of `_DeferredSweepRun` entities of `home` (the runtime's namespace; the dashboard reads the
 * newest by `expireAt`): the first `limit` runs whose own part is in the page, in the page's order, each with the parts
 * of its other namespaces, taken from the page or, when it does not hold them, looked up by key (in one call).
 * Answers the runs and how many entities were looked up.
 */
export async function runsOfPage(
  datastore: Datastore,
  home: string,
  entities: readonly Record<string, unknown>[],
  limit: number,
): Promise<{ runs: SweepRunRecord[]; lookedUp: number }> {
  const parts = entities.map((entity) => decodePart(entity, home));
  const own = parts.filter((part) => part.namespace === home).slice(0, limit);
  const found = new Map(parts.filter((part) => part.namespace !== home).map((p) => [`${p.runId}/${p.namespace}`, p]));
  const missing = own.flatMap((run) =>
    (run.plan ?? [])
      .filter(({ namespace }) => namespace !== home && !found.has(`${run.runId}/${namespace}`))
      .map(({ namespace }) => ({ runId: run.runId, namespace })),
  );
  if (missing.length > 0) {
    const [looked] = await datastore.get(missing.map((m) => runPartKey(datastore, home, m.runId, m.namespace)));
    for (const part of (looked as Record<string, unknown>[]).map((e) => decodePart(e, home))) {
      found.set(`${part.runId}/${part.namespace}`, part);
    }
  }
  const runs = own.map((run) => {
    const others = new Map<string, RunPart | undefined>();
    for (const { namespace } of run.plan ?? []) {
      if (namespace !== home) others.set(namespace, found.get(`${run.runId}/${namespace}`));
    }
    return runOf(run, others);
  });
  return { runs, lookedUp: missing.length };
}

/** The run as a whole, from its parts (a part not written yet: none of its shards done). */
function runOf(home: RunPart, others: Map<string, RunPart | undefined>): SweepRunRecord {
  // Records written before runs covered several namespaces carry no plan: the runtime's own namespace only.
  const plan = home.plan ?? [{ namespace: home.namespace, shards: home.shards }];
  const parts = [home, ...[...others.values()].filter((p): p is RunPart => p !== undefined)];
  const label = (part: RunPart, unit: string | number) => (part === home ? String(unit) : `${part.namespace}/${unit}`);
  const done = plan.every(({ namespace }) =>
    namespace === home.namespace ? home.status === 'done' : others.get(namespace)?.status === 'done',
  );
  return {
    runId: home.runId,
    startedAt: home.startedAt,
    shards: plan.reduce((sum, n) => sum + n.shards, 0),
    namespaces: plan,
    status: done ? 'done' : 'running',
    shardsDone: parts.flatMap((part) => part.shardsDone.map((shard) => label(part, shard))),
    segments: Object.fromEntries(
      parts.flatMap((part) => Object.entries(part.segments).map(([key, stats]) => [label(part, key), stats])),
    ),
    totals: parts.reduce((total, part) => addStats(total, part.totals), emptyStats()),
    finishedAt: done ? new Date(Math.max(...parts.map((part) => part.finishedAt?.getTime() ?? 0))) : null,
    expireAt: home.expireAt,
  };
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
  const home = () => namespace() ?? '';
  /** The key of one namespace's part of a run (absent namespace: the runtime's own). */
  const runKey = (runId: string, ns?: string) => runPartKey(datastore(), home(), runId, ns);
  const taskOptions = (name: string) => ({
    name,
    ifExists: 'ignore' as const,
    ...(options.queue ? { queue: options.queue } : {}),
  });

  const newPart = (runId: string, ns: string, count: number, plan: RunNamespace[] | null, nowMs: number): RunPart => ({
    runId,
    namespace: ns,
    startedAt: new Date(nowMs),
    shards: count,
    plan,
    status: 'running',
    shardsDone: [],
    segments: {},
    totals: emptyStats(),
    finishedAt: null,
    expireAt: new Date(nowMs + runRetentionMs),
  });

  const readRun = async (runId: string): Promise<SweepRunRecord | undefined> => {
    const [entity] = await datastore().get(runKey(runId));
    if (!entity) return undefined;
    const own = decodePart(entity, home());
    const others = new Map<string, RunPart | undefined>();
    const elsewhere = (own.plan ?? []).map((n) => n.namespace).filter((ns) => ns !== own.namespace);
    for (let i = 0; i < elsewhere.length; i += 1000) {
      const batch = elsewhere.slice(i, i + 1000);
      const [found] = await datastore().get(batch.map((ns) => runKey(runId, ns)));
      const parts = (found as Record<string, unknown>[]).map((e) => decodePart(e, home()));
      const byNamespace = new Map(parts.map((part) => [part.namespace, part]));
      for (const ns of batch) others.set(ns, byNamespace.get(ns));
    }
    return runOf(own, others);
  };

  const recordSegment = async (args: ShardTaskArgs, stats: SweepStats, finished: boolean) => {
    const nowMs = clock().now();
    const part = await inTransaction(
      datastore(),
      async (tx) => {
        const key = runKey(args.runId, args.namespace);
        const [entity] = await tx.get(key);
        const record = entity
          ? decodePart(entity, home())
          : newPart(args.runId, args.namespace ?? home(), args.shards, null, nowMs);
        record.segments[`${args.shard}.${args.seq}`] = stats;
        if (finished && !record.shardsDone.includes(args.shard)) record.shardsDone.push(args.shard);
        record.shardsDone.sort((a, b) => a - b);
        record.totals = Object.values(record.segments).reduce((total, s) => addStats(total, s), emptyStats());
        if (record.status !== 'done' && record.shardsDone.length >= record.shards) {
          record.status = 'done';
          record.finishedAt = new Date(nowMs);
        }
        tx.save({ key, data: encodePart(record) });
        return record;
      },
      10,
    );
    if (part.status !== 'done' || !finished || part.finishedAt?.getTime() !== nowMs) return;
    // This segment finished its namespace's part: the run is done once every part is.
    const run = await readRun(args.runId);
    if (run?.status === 'done') {
      runtimeEvents(deferred)?.emit('sweepFinished', {
        runId: run.runId,
        shards: run.shards,
        stats: run.totals,
        elapsedMs: Math.max(0, nowMs - run.startedAt.getTime()),
      });
      log({
        severity: 'INFO',
        message: `sweep run ${run.runId} finished: ${run.shards} shards in ${run.namespaces.length} namespace${run.namespaces.length === 1 ? '' : 's'}`,
        event: 'run-done',
        runId: run.runId,
        stats: run.totals,
        segments: Object.keys(run.segments).length,
      });
    }
  };

  const shardTask: TaskHandle<[ShardTaskArgs]> = deferred.task(SHARD_TASK_NAME, async (args: ShardTaskArgs) => {
    // In another namespace than the runtime's own only task entities are swept (other kinds live in its own).
    const sweep = resolveSweepOptions({
      ...options,
      datastore: datastore(),
      tasks: tasks(),
      namespace: args.namespace ?? namespace(),
      shards: args.shards,
      now: new Date(clock().now()),
      log: logger,
    });
    const { runShard } = await sweepEngine();
    const result = await runShard(
      sweep,
      { shard: args.shard, cursor: args.cursor, budgetMs },
      limitersFor(sweep),
      args.namespace === undefined ? undefined : [],
    );
    await recordSegment(args, result.stats, result.cursor === null);
    log({
      severity: 'INFO',
      message: `sweep run ${args.runId}, shard ${args.namespace === undefined ? '' : `${args.namespace}/`}${args.shard}, segment ${args.seq}: ${result.cursor ? 'continuing' : 'finished'}`,
      event: 'segment-done',
      runId: args.runId,
      namespace: args.namespace,
      shard: args.shard,
      seq: args.seq,
      stats: result.stats,
      continues: result.cursor !== null,
    });
    if (result.cursor) {
      const next: ShardTaskArgs = { ...args, seq: args.seq + 1, cursor: result.cursor };
      await shardTask.with(taskOptions(segmentTaskId(args.runId, args.shard, next.seq, args.namespace))).defer(next);
    }
    return result.stats;
  });

  const fanOut = async (nowMs = clock().now()): Promise<FanOutResult> => {
    const runId = runIdFor(nowMs, intervalMs);
    // The runtime's own namespace and every namespace it writes task entities to (its registry), shards in use.
    const { planNamespaces } = await sweepEngine();
    const plans = (
      await planNamespaces(datastore(), {
        home: home(),
        shards,
        namespaces: options.namespaces,
        discover: options.discoverNamespaces,
        nowMs,
        log: logger,
      })
    )
      .filter((p) => p.shards > 0)
      .map((p): RunNamespace => ({ namespace: p.namespace, shards: p.shards }));
    // A doubled or retried request joins the run as first planned, whatever was swept since.
    const plan = await inTransaction(datastore(), async (tx) => {
      const [entity] = await tx.get(runKey(runId));
      if (entity) {
        const own = decodePart(entity, home());
        return own.plan ?? [{ namespace: own.namespace, shards: own.shards }];
      }
      const homeShards = plans.find((p) => p.namespace === home())?.shards ?? shards;
      tx.save({ key: runKey(runId), data: encodePart(newPart(runId, home(), homeShards, plans, nowMs)) });
      return plans;
    });
    const segments = plan.flatMap(({ namespace: ns, shards: count }) =>
      Array.from({ length: count }, (_, shard): ShardTaskArgs => ({
        runId,
        ...(ns === home() ? {} : { namespace: ns }),
        shard,
        shards: count,
        seq: 0,
        cursor: null,
      })),
    );
    const limit = pLimit(FAN_OUT_CONCURRENCY);
    const deferrals = await Promise.all(
      segments.map((args) =>
        limit(() => shardTask.with(taskOptions(segmentTaskId(runId, args.shard, 0, args.namespace))).defer(args)),
      ),
    );
    const created = deferrals.filter((d) => d.status !== 'existing').length;
    const result: FanOutResult = {
      runId,
      shards: segments.length,
      namespaces: plan,
      created,
      existing: segments.length - created,
    };
    log({
      severity: 'INFO',
      message: created ? `sweep run ${runId}: fanned out ${created} shard tasks` : `sweep run ${runId} already started`,
      event: 'fan-out',
      ...result,
      namespaces: plan.length,
    });
    return result;
  };

  deferred.onSweep(async () => fanOut());
  return { shardTask, fanOut, readRun };
}
