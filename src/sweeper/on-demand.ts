/** The sweep's entry points as the production entry exports them: the sweeping itself (scans, decisions, guarded deletes, namespace plans) is loaded on the first sweep, not at import, so a worker that only runs tasks never loads it (cold starts count). */
import type { SweepOptions, SweepShardOptions } from './sweep-options.js';
import type { SweepResult } from './sweep-all.js';
import type { SweepShardResult } from './sweep-shard.js';

/**
 * Sweeps to the end, in parallel in this process, every shard of the runtime's own namespace and of every namespace in
 * its registry (see {@link SweepOptions.namespace}). When task entities exist in shards beyond `shards` (the writers
 * use more shards than the sweep was told), those shards are swept too, with a warning. Other underscore kinds are
 * swept by age in the runtime's own namespace only.
 */
export async function sweep(options: SweepOptions): Promise<SweepResult> {
  return (await import('./sweep-all.js')).sweep(options);
}

/**
 * Sweeps one shard: scans the unfinished `_DeferredTask` entities of the shard created before `now - olderThanMs`, then
 * the finished ones whose retention has ended (two range queries on `ageKey`, paged), applies the decision table to
 * each, then sweeps the other underscore kinds assigned to this shard by `expireAt`. Stops after `budgetMs` and
 * returns a cursor to continue. Safe to run concurrently with task execution and with other sweeps: every delete is
 * guarded by a transaction that re-reads the entity.
 */
export async function sweepShard(options: SweepShardOptions): Promise<SweepShardResult> {
  return (await import('./sweep-shard.js')).sweepShard(options);
}

/** What the distributed sweeper runs when a fan-out or a shard task comes: loaded then, once. */
export async function sweepEngine(): Promise<{
  runShard: typeof import('./sweep-shard.js').runShard;
  planNamespaces: typeof import('./sweep-namespaces.js').planNamespaces;
}> {
  const [shard, namespaces] = await Promise.all([import('./sweep-shard.js'), import('./sweep-namespaces.js')]);
  return { runShard: shard.runShard, planNamespaces: namespaces.planNamespaces };
}
