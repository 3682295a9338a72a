/** Sweeping every shard in this process, in parallel, with shared limits on Cloud Tasks look-ups and commits (the CLI's `deferred sweep`). */
import type { Datastore } from '@google-cloud/datastore';
import { TASK_KIND, parseAgeKey } from '../store/schema.js';
import { kindsToSweep } from './kinds.js';
import { limitersFor, resolveSweepOptions, type SweepOptions } from './sweep-options.js';
import { runShard } from './sweep-shard.js';
import { addStats, emptyStats, type SweepStats } from './sweep-stats.js';

/** Result of {@link sweep}: totals, per-shard counts, and how many shards were swept. */
export interface SweepResult {
  stats: SweepStats;
  shards: SweepStats[];
  /** Milliseconds the sweep took. */
  elapsedMs: number;
}

/**
 * The highest shard number present in the namespace's task entities (one descending query on `ageKey`, which sorts by
 * shard first), or -1 when there are none. Lets a sweep notice entities written with more shards than it was told.
 */
export async function highestShardInUse(datastore: Datastore, namespace?: string): Promise<number> {
  const query = datastore
    .createQuery(namespace ?? datastore.namespace ?? '', TASK_KIND)
    .select('ageKey')
    .order('ageKey', { descending: true })
    .limit(1);
  const [rows] = await datastore.runQuery(query);
  const ageKey = rows[0]?.ageKey;
  return (typeof ageKey === 'string' ? parseAgeKey(ageKey)?.shard : undefined) ?? -1;
}

/**
 * Sweeps all shards to the end, in parallel in this process. When task entities exist in shards beyond `shards` (the
 * writers use more shards than the sweep was told), those shards are swept too, with a warning.
 */
export async function sweep(options: SweepOptions): Promise<SweepResult> {
  const started = Date.now();
  const o = resolveSweepOptions(options);
  const highest = await highestShardInUse(options.datastore, o.namespace);
  const count = Math.max(o.shards, highest + 1);
  if (count > o.shards) {
    o.log({
      severity: 'WARNING',
      message: `task entities exist in shard ${highest}, beyond the ${o.shards} shards configured; sweeping ${count} shards. Configure the sweeper with the writers' shard count.`,
      event: 'shards-extended',
      shards: count,
    });
  }
  // Found once for all shards; each kind is swept by one of them.
  const kinds = await kindsToSweep(options.datastore, {
    namespace: o.namespace,
    kinds: o.kinds,
    discover: o.discoverKinds,
    log: o.logger,
  });
  const limiters = limitersFor(o); // shared: the limits hold for the whole sweep, not per shard
  const perShard = await Promise.all(
    Array.from({ length: count }, (_, shard) =>
      runShard(o, { shard, cursor: null, budgetMs: Infinity }, limiters, kinds).then((r) => r.stats),
    ),
  );
  const stats = perShard.reduce((total, s) => addStats(total, s), emptyStats());
  const elapsedMs = Date.now() - started;
  o.log({
    severity: 'INFO',
    message: `swept ${count} shards`,
    event: 'sweep-done',
    stats,
    shards: count,
    elapsedMs,
    dryRun: o.dryRun || undefined,
  });
  return { stats, shards: perShard, elapsedMs };
}
