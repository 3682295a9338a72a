/** Sweeping one shard, in parts: scan its ranges page by page (shard-scan), decide each entity from its key or read it (shard-keys, shard-decide), delete what is doomed (shard-delete), report what happened (shard-report), and stop at the budget with a cursor. */
import { ageKey, finishedAgeKeyRange } from '../store/schema.js';
import { decodeCursor, encodeCursor, type ShardPosition } from './cursor.js';
import { snapshotOf, stillDeletable, type DecisionContext } from './decide.js';
import { kindsToSweep, shardOfKind } from './kinds.js';
import { decideKindPage, keysOf, type DecideEnv, type Doomed } from './shard-decide.js';
import { deleteDoomed, type Guard } from './shard-delete.js';
import { decideKeyPage, readAndDecide } from './shard-keys.js';
import { ShardReport } from './shard-report.js';
import { Budget, expiredKindQuery, keyPageSize, scanPages, taskKeyQuery } from './shard-scan.js';
import {
  limitersFor,
  resolveShardTarget,
  resolveSweepOptions,
  type ResolvedSweep,
  type ShardTarget,
  type SweepLimiters,
  type SweepShardOptions,
} from './sweep-options.js';
import type { SweepStats } from './sweep-stats.js';
import { tracedSweep } from './sweep-trace.js';

/** What {@link sweepShard} returns: its counts, and a cursor when the budget ran out before the shard was done. */
export interface SweepShardResult {
  stats: SweepStats;
  /** Pass back as `cursor` to continue; null when the shard is finished. */
  cursor: string | null;
}

/**
 * Sweeps one shard: scans the age keys of its `_DeferredTask` entities (a keys-and-age-keys range query, paged): the
 * unfinished ones created before `now - olderThanMs`, then the finished ones whose retention has ended. Done entities
 * are decided from their keys; the others are read and decided against the table, then the other underscore kinds
 * assigned to this shard are swept by `expireAt`. Stops after `budgetMs` and returns a cursor to continue. Safe to run
 * concurrently with task execution and with other sweeps: only done entities (which never change again) are deleted
 * without a re-read; every other delete is guarded by a transaction that re-reads the entity.
 */
export async function sweepShard(options: SweepShardOptions): Promise<SweepShardResult> {
  const sweep = resolveSweepOptions(options);
  return runShard(sweep, resolveShardTarget(options), limitersFor(sweep));
}

/** Where a shard sweep starts when it is given no cursor. */
function startPosition(sweep: ResolvedSweep): ShardPosition {
  const retentionOverridden = sweep.retention?.doneMs !== undefined || sweep.retention?.failedMs !== undefined;
  return {
    v: 2,
    cutoffMs: sweep.nowMs - sweep.olderThanMs,
    // Retention overridden by this sweep: an entity's own due time does not bound what may go, so read them all.
    dueBeforeMs: retentionOverridden ? null : sweep.nowMs,
    expireBeforeMs: sweep.nowMs,
    phase: 'tasks',
  };
}

/**
 * Sweeps one shard with options already resolved and limiters shared with the other shards of the sweep (`sweep()`
 * resolves once and calls this per shard). `kinds`: the other underscore kinds, when the caller found them already.
 */
export function runShard(
  sweep: ResolvedSweep,
  target: ShardTarget,
  limiters: SweepLimiters,
  kinds?: readonly string[],
): Promise<SweepShardResult> {
  return tracedSweep(
    'sweep shard',
    { 'deferred.sweep.shard': target.shard, 'deferred.sweep.continued': target.cursor !== null },
    () => scanShard(sweep, target, limiters, kinds),
    (result) => ({ 'deferred.sweep.paused': result.cursor !== null }),
  );
}

async function scanShard(
  sweep: ResolvedSweep,
  target: ShardTarget,
  limiters: SweepLimiters,
  kinds?: readonly string[],
): Promise<SweepShardResult> {
  const { shard } = target;
  const report = new ShardReport(sweep, shard);
  const budget = new Budget(target.budgetMs);
  const position = target.cursor ? decodeCursor(target.cursor) : startPosition(sweep);
  const ctx: DecisionContext = { nowMs: sweep.nowMs, graceMs: sweep.graceMs, retention: sweep.retention };
  const env: DecideEnv = { sweep, ctx, limiters, report };
  const progress = () => report.progress();
  const paused = (): SweepShardResult => {
    report.paused(position, target.budgetMs);
    return { stats: report.stats, cursor: encodeCursor(position) };
  };
  /** Moves the position to the next phase (or kind); false when the budget ran out on the way. */
  const nextPhase = (phase: ShardPosition['phase']): boolean => {
    position.phase = phase;
    delete position.start;
    progress();
    return !budget.spent();
  };

  // Task entities: decided against the table; a guarded delete re-judges the entity as re-read.
  const stillDoomed =
    (item: Doomed): Guard =>
    (fresh) =>
      stillDeletable(item.snapshot, snapshotOf(fresh), item.reason, ctx);
  /** One page of age keys: delete what the keys decide, read and decide the rest; true when only young keys follow. */
  const keyPage = async (rows: Record<string | symbol, unknown>[]): Promise<boolean> => {
    const page = decideKeyPage(rows, env, position.cutoffMs);
    report.progress();
    await Promise.all([
      deleteDoomed(page.doomed, stillDoomed, env),
      readAndDecide(page.toRead, env).then((doomed) => deleteDoomed(doomed, stillDoomed, env)),
    ]);
    young = page.endsYoung && rows.length === keyPageSize(sweep);
    return young;
  };
  let young = false;
  const scanKeys = (range: { lower: string; upper: string }) =>
    scanPages(sweep, () => taskKeyQuery(sweep, range), keyPageSize(sweep), position, budget, keyPage, progress);
  const dueBefore = position.dueBeforeMs === undefined ? position.expireBeforeMs : position.dueBeforeMs;
  const finished = finishedAgeKeyRange(shard, dueBefore);

  // Phase 1: the shard's age keys from its oldest unfinished one up to its finished ones due now: one range query,
  // which holds the finished range too unless it meets unfinished entities younger than the cut-off (skipped).
  if (position.phase === 'tasks') {
    if (!(await scanKeys({ lower: ageKey(shard, 0), upper: finished.upper }))) return paused();
    if (!nextPhase(young ? 'finished' : 'kinds')) return paused();
  }

  // Phase 2: after the young unfinished ones, the finished ones whose retention has passed (their age key says when).
  if (position.phase === 'finished') {
    if (!(await scanKeys(finished))) return paused();
    if (!nextPhase('kinds')) return paused();
  }

  // Phase 3: other underscore kinds assigned to this shard, by expireAt (the guard re-checks it).
  const found =
    kinds ??
    (await kindsToSweep(sweep.datastore, {
      namespace: sweep.namespace,
      kinds: sweep.kinds,
      discover: sweep.discoverKinds,
      log: sweep.logger,
    }));
  const expired: Guard = (fresh) => {
    const at = fresh.expireAt;
    return at instanceof Date && at.getTime() <= ctx.nowMs;
  };
  const kindPage = async (rows: Record<string | symbol, unknown>[]) =>
    deleteDoomed(decideKindPage(keysOf(sweep.datastore, rows), report), () => expired, env);
  const mine = found.filter((kind) => shardOfKind(kind, sweep.shards) === shard % sweep.shards && shard < sweep.shards);
  for (const kind of mine) {
    if (position.kind !== undefined && kind < position.kind) continue;
    if (position.kind !== kind) {
      position.kind = kind;
      delete position.start;
    }
    const query = () => expiredKindQuery(sweep, kind, position.expireBeforeMs);
    if (!(await scanPages(sweep, query, sweep.pageSize, position, budget, kindPage, progress))) return paused();
  }

  report.finished();
  return { stats: report.stats, cursor: null };
}
