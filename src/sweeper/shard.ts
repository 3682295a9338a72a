/** Sweeping one shard: one range query on the shard-prefixed age key, the decision table per entity, guarded batched deletes, re-drives, a cursor. */
import { performance } from 'node:perf_hooks';
import type { Datastore, Key } from '@google-cloud/datastore';
import { andFilter, keyOf, propertyFilter } from '../store/datastore.js';
import pLimit, { type LimitFunction } from 'p-limit';
import { InvalidArgumentError } from '../errors/invalid-argument.js';
import { DEFAULT_SHARDS, TASK_KIND, ageKeyRange, finishedAgeKeyRange } from '../store/schema.js';
import { cloudTaskExists, redriveTask, type SweeperTasksClient } from './cloud-tasks.js';
import { decodeCursor, encodeCursor, type ShardPosition } from './cursor.js';
import {
  afterLookup,
  classify,
  snapshotOf,
  stillDeletable,
  type DecisionContext,
  type RetentionRules,
  type TaskSnapshot,
} from './decide.js';
import {
  deleteGuardedSplitting,
  deleteImmutable,
  planBatches,
  planPlainBatches,
  type DeleteCandidate,
  type GuardedDeleteLimits,
} from './guarded-delete.js';
import { keyPath } from '../store/keys.js';
import { chunkKeys } from '../store/task-entity.js';
import { kindsToSweep, shardOfKind } from './kinds.js';
import { jsonLogger, log } from '../core/logger.js';
import type { LogEntry, Logger } from '../types.js';
import { emptyStats, type DeleteReason, type SweepStats } from './sweep-stats.js';

/** The sweep's default logger: JSON lines, INFO and above, marked as the sweeper's. */
export const SWEEP_LOGGER: Logger = jsonLogger({
  minSeverity: 'INFO',
  fields: { component: 'cloud-deferred/sweeper' },
});

/** Default grace past a task's ETA before a missing Cloud Task counts as gone: 10 minutes. */
export const DEFAULT_GRACE_MS = 10 * 60_000;

/** Options shared by {@link sweepShard} and `sweep()`. */
export interface SweepOptions {
  /** The Datastore client (its namespace is used unless `namespace` is given). */
  datastore: Datastore;
  /** The official Cloud Tasks client (only `getTask` and `createTask` are used). */
  tasks: SweeperTasksClient;
  /** Namespace to sweep. @default the client's namespace */
  namespace?: string;
  /**
   * Number of shards entities are written with; also decides which shard sweeps each other underscore kind.
   * @default 16
   */
  shards?: number;
  /** The sweep's "now" (fixed for the whole sweep, which only makes it more conservative). @default new Date() */
  now?: Date;
  /**
   * Only entities created longer ago than this are scanned (the range query's cut-off), in milliseconds.
   * @default graceMs
   */
  olderThanMs?: number;
  /**
   * How long past its ETA an unfinished task may be missing from Cloud Tasks before it counts as gone (an enqueue in
   * flight, clock skew), in milliseconds.
   * @default 600000 (10 minutes)
   */
  graceMs?: number;
  /** Per-state retention overrides for finished entities. @default each entity's own `retentionMs` */
  retention?: RetentionRules;
  /** Decide and count, but change nothing (no delete, no re-drive). @default false */
  dryRun?: boolean;
  /** Most concurrent Cloud Tasks look-ups and re-drives. @default 16 */
  concurrency?: number;
  /** Most concurrent guarded delete transactions. @default 4 */
  commitConcurrency?: number;
  /** Task entities read per query page (entities carry payloads of up to ~900 KB). @default 100 */
  pageSize?: number;
  /**
   * Most pages of task entities held at once across the shards of one `sweep()`: with `pageSize`, this bounds memory
   * (done entities carry no payload; pending, running and failed ones do).
   * @default 4
   */
  pageConcurrency?: number;
  /** Other underscore-prefixed kinds to sweep by `expireAt`, in addition to discovered ones. @default [] */
  kinds?: readonly string[];
  /** Find other underscore kinds with a `__kind__` query where the store answers it. @default true */
  discoverKinds?: boolean;
  /** Limits of one guarded delete transaction. @default 500 mutations, 25 entity groups */
  limits?: GuardedDeleteLimits;
  /**
   * Receives the sweep's structured log entries (the runtime's {@link Logger}: Cloud Logging severities).
   * @default JSON lines, INFO and above, with `component: 'cloud-deferred/sweeper'` (stdout; stderr from WARNING)
   */
  log?: Logger;
  /** Called after each page with the shard's running totals, and with `done` once the shard is finished (the CLI's progress bar). */
  onProgress?: (progress: { shard: number; stats: SweepStats; done: boolean }) => void;
  /** Stops the sweep between operations; the promise then rejects with the signal's reason. */
  signal?: AbortSignal;
}

/** Options of {@link sweepShard}. */
export interface SweepShardOptions extends SweepOptions {
  /** The shard to sweep, 0 <= shard. */
  shard: number;
  /** Continue where a previous call stopped (its `cursor`); null or absent to start. */
  cursor?: string | null;
  /** Stop after this many milliseconds of work (checked after each page) and return a cursor. @default Infinity */
  budgetMs?: number;
  /** Share one look-up limiter between shards (set by `sweep()`). */
  lookupLimit?: LimitFunction;
  /** Share one commit limiter between shards (set by `sweep()`). */
  commitLimit?: LimitFunction;
  /** Share one page limiter between shards (set by `sweep()`). */
  pageLimit?: LimitFunction;
}

/** What {@link sweepShard} returns: its counts, and a cursor when the budget ran out before the shard was done. */
export interface SweepShardResult {
  stats: SweepStats;
  /** Pass back as `cursor` to continue; null when the shard is finished. */
  cursor: string | null;
}

function positiveInt(value: number | undefined, fallback: number, what: string, min = 1): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < min) {
    throw new InvalidArgumentError(`${what} must be an integer >= ${min}, got ${value}.`);
  }
  return value;
}

function nonNegative(value: number | undefined, fallback: number, what: string): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value < 0) {
    throw new InvalidArgumentError(`${what} must be a non-negative number of milliseconds, got ${value}.`);
  }
  return value;
}

/** Validated, defaulted sweep options. */
export function resolveSweepOptions(options: SweepOptions) {
  const shards = positiveInt(options.shards, DEFAULT_SHARDS, 'shards');
  if (shards > 9999) throw new InvalidArgumentError(`shards must be at most 9999, got ${shards}.`);
  const graceMs = nonNegative(options.graceMs, DEFAULT_GRACE_MS, 'graceMs');
  const logger = options.log ?? SWEEP_LOGGER;
  return {
    shards,
    graceMs,
    olderThanMs: nonNegative(options.olderThanMs, graceMs, 'olderThanMs'),
    nowMs: (options.now ?? new Date()).getTime(),
    concurrency: positiveInt(options.concurrency, 16, 'concurrency'),
    commitConcurrency: positiveInt(options.commitConcurrency, 4, 'commitConcurrency'),
    pageSize: positiveInt(options.pageSize, 100, 'pageSize'),
    pageConcurrency: positiveInt(options.pageConcurrency, 4, 'pageConcurrency'),
    logger,
    /** Writes one entry to `logger` (a failing logger never fails the sweep). */
    log: (entry: LogEntry) => log(logger, entry),
    dryRun: options.dryRun === true,
    namespace: options.namespace ?? options.datastore.namespace,
  };
}

type Pending = { key: Key; snapshot: TaskSnapshot; reason: DeleteReason };

/**
 * Sweeps one shard: scans the unfinished `_DeferredTask` entities of the shard created before `now - olderThanMs`, then
 * the finished ones whose retention has ended (two range queries on `ageKey`, paged), applies the decision table to
 * each, then sweeps the other underscore kinds assigned to this shard by `expireAt`. Stops after `budgetMs` and returns a cursor to continue. Safe to run concurrently with task
 * execution and with other sweeps: every delete is guarded by a transaction that re-reads the entity.
 */
export async function sweepShard(options: SweepShardOptions): Promise<SweepShardResult> {
  const o = resolveSweepOptions(options);
  const { datastore, tasks, signal } = options;
  const shard = positiveInt(options.shard, 0, 'shard', 0);
  const budgetMs = options.budgetMs ?? Infinity;
  if (!(budgetMs >= 0)) throw new InvalidArgumentError(`budgetMs must be >= 0, got ${options.budgetMs}.`);
  const lookupLimit = options.lookupLimit ?? pLimit(o.concurrency);
  const commitLimit = options.commitLimit ?? pLimit(o.commitConcurrency);
  const pageLimit = options.pageLimit ?? pLimit(o.pageConcurrency);
  const started = performance.now();
  const outOfBudget = () => performance.now() - started >= budgetMs;
  const ctx: DecisionContext = { nowMs: o.nowMs, graceMs: o.graceMs, retention: options.retention };
  const stats = emptyStats();
  const where = { shard, namespace: o.namespace || undefined, dryRun: o.dryRun || undefined };
  const position: ShardPosition = options.cursor
    ? decodeCursor(options.cursor)
    : {
        v: 1,
        cutoffMs: o.nowMs - o.olderThanMs,
        // Retention overridden by this sweep: an entity's own due time does not bound what may go, so read them all.
        dueBeforeMs:
          options.retention?.doneMs !== undefined || options.retention?.failedMs !== undefined ? null : o.nowMs,
        expireBeforeMs: o.nowMs,
        phase: 'tasks',
      };
  const progress = (done = false) => options.onProgress?.({ shard, stats: structuredClone(stats), done });
  const checkAbort = () => signal?.throwIfAborted();

  const deleteGuarded = async (
    items: Pending[],
    guardFor: (p: Pending) => (fresh: Record<string, unknown>) => boolean,
  ) => {
    if (items.length === 0) return;
    if (o.dryRun) {
      for (const item of items) stats.deleted[item.reason]++;
      return;
    }
    const candidates: DeleteCandidate<Pending>[] = items.map((item) => ({
      key: item.key,
      companions: chunkKeys(datastore, item.key, item.snapshot.chunks),
      tag: item,
      guard: guardFor(item),
    }));
    // Done entities never change again: plain commits of up to 500. Everything else: guarded transactions.
    const isDone = (c: DeleteCandidate<Pending>) => c.tag.reason === 'done' && c.tag.snapshot.state === 'done';
    const immutable = candidates.filter(isDone);
    const guarded = candidates.filter((c) => !isDone(c));
    const work = [
      ...planPlainBatches(immutable, options.limits).map(
        (batch) => () => deleteImmutable(datastore, batch, options.limits),
      ),
      ...planBatches(guarded, options.limits).map(
        (batch) => () => deleteGuardedSplitting(datastore, batch, options.limits),
      ),
    ];
    await Promise.all(
      work.map((run) =>
        commitLimit(async () => {
          checkAbort();
          const { outcomes, lastError } = await run();
          const failed: string[] = [];
          for (const [c, outcome] of outcomes) {
            const key = keyPath(c.key);
            if (outcome === 'deleted') {
              stats.deleted[c.tag.reason]++;
              const leaked = c.tag.reason === 'leaked';
              o.log({
                severity: leaked ? 'WARNING' : 'DEBUG',
                message: leaked
                  ? `deleted a leaked task entity: its Cloud Task ${c.tag.snapshot.cloudTaskName} is gone (never created because its defer failed, or retries ran out, or it was deleted, purged or lost by the queue) and it never finished`
                  : `deleted (${c.tag.reason})`,
                event: 'deleted',
                ...where,
                key,
                reason: c.tag.reason,
                ...(leaked ? { task: c.tag.snapshot.cloudTaskName, state: c.tag.snapshot.state } : {}),
              });
            } else if (outcome === 'changed') {
              stats.kept++;
              o.log({
                severity: 'DEBUG',
                message: 'kept: changed under the sweep',
                event: 'kept',
                ...where,
                key,
                reason: 'changed',
              });
            } else if (outcome === 'error') {
              stats.errors++;
              failed.push(key);
            }
          }
          if (failed.length) {
            o.log({
              severity: 'WARNING',
              message: `guarded delete failed, left for the next sweep: ${(lastError as Error | undefined)?.message}`,
              event: 'error',
              ...where,
              keys: failed,
            });
          }
        }),
      ),
    );
  };

  const processTaskPage = async (entities: Record<string | symbol, unknown>[]) => {
    const deletions: Pending[] = [];
    const lookups: Pending[] = [];
    for (const entity of entities) {
      stats.scanned++;
      const key = keyOf(datastore, entity);
      const snapshot = snapshotOf(entity);
      const verdict = classify(snapshot, ctx);
      if (verdict.action === 'keep') stats.kept++;
      else if (verdict.action === 'delete') deletions.push({ key, snapshot, reason: verdict.reason });
      else lookups.push({ key, snapshot, reason: 'leaked' });
    }
    await Promise.all(
      lookups.map((item) =>
        lookupLimit(async () => {
          checkAbort();
          let exists: boolean;
          try {
            exists = await cloudTaskExists(tasks, item.snapshot.cloudTaskName);
          } catch (error) {
            stats.errors++;
            o.log({
              severity: 'WARNING',
              message: `Cloud Tasks look-up failed: ${(error as Error).message}`,
              event: 'error',
              ...where,
              key: keyPath(item.key),
              task: item.snapshot.cloudTaskName,
            });
            return;
          }
          const verdict = afterLookup(item.snapshot, exists);
          if (verdict.action === 'keep') stats.kept++;
          else if (verdict.action === 'delete') deletions.push(item);
          else if (o.dryRun) stats.redriven++;
          else {
            try {
              const outcome = await redriveTask(tasks, item.snapshot.cloudTaskRequest);
              if (outcome === 'created') stats.redriven++;
              else stats.kept++;
              o.log({
                severity: outcome === 'created' ? 'INFO' : 'DEBUG',
                message:
                  outcome === 'created'
                    ? 're-drove a lost transactional task'
                    : 'kept: re-drive found the task name taken',
                event: outcome === 'created' ? 'redriven' : 'kept',
                ...where,
                key: keyPath(item.key),
                task: item.snapshot.cloudTaskName,
              });
            } catch (error) {
              stats.errors++;
              o.log({
                severity: 'WARNING',
                message: `re-drive failed: ${(error as Error).message}`,
                event: 'error',
                ...where,
                key: keyPath(item.key),
                task: item.snapshot.cloudTaskName,
              });
            }
          }
        }),
      ),
    );
    await deleteGuarded(
      deletions,
      (item) => (fresh) => stillDeletable(item.snapshot, snapshotOf(fresh), item.reason, ctx),
    );
  };

  const processKindPage = async (keys: Key[]) => {
    stats.scanned += keys.length;
    const expired = (fresh: Record<string, unknown>) => {
      const at = fresh.expireAt;
      return at instanceof Date && at.getTime() <= ctx.nowMs;
    };
    const items: Pending[] = keys.map((key) => ({ key, snapshot: snapshotOf({}), reason: 'transientKind' }));
    await deleteGuarded(items, () => expired);
  };

  const nextCursor = () => {
    progress();
    o.log({
      severity: 'INFO',
      message: `shard ${shard}: budget of ${budgetMs} ms used, continuing from a cursor`,
      event: 'shard-paused',
      ...where,
      phase: position.phase,
      kind: position.kind,
      stats,
    });
    return encodeCursor(position);
  };

  /** Reads one range of this shard's age keys page by page, deciding each entity; false when out of budget. */
  const scanTasks = async (range: { lower: string; upper: string }): Promise<boolean> => {
    for (;;) {
      checkAbort();
      let query = datastore
        .createQuery(o.namespace ?? '', TASK_KIND)
        .filter(
          andFilter(datastore, [
            propertyFilter(datastore, 'ageKey', '>=', range.lower),
            propertyFilter(datastore, 'ageKey', '<', range.upper),
          ]),
        )
        .limit(o.pageSize);
      if (position.start) query = query.start(position.start);
      // A page holds whole entities (payloads up to ~900 KB each) until it is processed: bound pages in flight.
      const { entities, info } = await pageLimit(async () => {
        const [rows, meta] = await datastore.runQuery(query);
        await processTaskPage(rows);
        return { entities: rows, info: meta };
      });
      const more = entities.length === o.pageSize && info.moreResults !== 'NO_MORE_RESULTS' && info.endCursor;
      if (!more) return true;
      position.start = info.endCursor;
      progress();
      if (outOfBudget()) return false;
    }
  };

  // Phase 1: the unfinished task entities of this shard, one range query on the shard-prefixed age key.
  if (position.phase === 'tasks') {
    if (!(await scanTasks(ageKeyRange(shard, position.cutoffMs)))) return { stats, cursor: nextCursor() };
    position.phase = 'finished';
    delete position.start;
    progress();
    if (outOfBudget()) return { stats, cursor: nextCursor() };
  }

  // Phase 2: the finished ones whose retention has passed (their age key says when).
  if (position.phase === 'finished') {
    const dueBefore = position.dueBeforeMs === undefined ? position.expireBeforeMs : position.dueBeforeMs;
    if (!(await scanTasks(finishedAgeKeyRange(shard, dueBefore)))) return { stats, cursor: nextCursor() };
    position.phase = 'kinds';
    delete position.start;
    progress();
    if (outOfBudget()) return { stats, cursor: nextCursor() };
  }

  // Phase 3: other underscore kinds assigned to this shard, by expireAt.
  const kinds = (
    await kindsToSweep(datastore, {
      namespace: o.namespace,
      kinds: options.kinds,
      discover: options.discoverKinds,
      log: o.logger,
    })
  ).filter((kind) => shardOfKind(kind, o.shards) === shard % o.shards && shard < o.shards);
  for (const kind of kinds) {
    if (position.kind !== undefined && kind < position.kind) continue;
    if (position.kind !== kind) {
      position.kind = kind;
      delete position.start;
    }
    for (;;) {
      checkAbort();
      let query = datastore
        .createQuery(o.namespace ?? '', kind)
        .filter(propertyFilter(datastore, 'expireAt', '<=', new Date(position.expireBeforeMs)))
        .select('__key__')
        .limit(500);
      if (position.start) query = query.start(position.start);
      const [rows, info] = await datastore.runQuery(query);
      await processKindPage(rows.map((row) => keyOf(datastore, row)));
      const more = rows.length === 500 && info.moreResults !== 'NO_MORE_RESULTS' && info.endCursor;
      if (!more) break;
      position.start = info.endCursor;
      progress();
      if (outOfBudget()) return { stats, cursor: nextCursor() };
    }
  }

  progress(true);
  o.log({ severity: 'INFO', message: `swept shard ${shard}`, event: 'shard-done', ...where, stats });
  return { stats, cursor: null };
}
