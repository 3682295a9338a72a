/** Sweeping every shard of every namespace the runtime writes to, in this process, in parallel, with shared limits on Cloud Tasks look-ups and commits (the CLI's `deferred sweep`). */
import { kindsToSweep } from './kinds.js';
import { limitersFor, resolveSweepOptions, type ResolvedSweep, type SweepOptions } from './sweep-options.js';
import { tracedSweep } from './sweep-trace.js';
import { planNamespaces } from './sweep-namespaces.js';
import { runShard } from './sweep-shard.js';
import { addStats, emptyStats, type SweepStats } from './sweep-stats.js';

/** What a sweep did in one namespace. */
export interface NamespaceSweep {
  /** The namespace (`''`: the default one). */
  namespace: string;
  /** Shards swept there (none in a namespace that holds no task entity). */
  shards: number;
  stats: SweepStats;
}

/** Result of {@link sweep}: totals, per-shard and per-namespace counts, and how long it took. */
export interface SweepResult {
  stats: SweepStats;
  /** One entry per shard swept, namespace by namespace (the runtime's own first). */
  shards: SweepStats[];
  /** The namespaces swept, the runtime's own first. */
  namespaces: NamespaceSweep[];
  /** Milliseconds the sweep took. */
  elapsedMs: number;
}

/**
 * Sweeps to the end, in parallel in this process, every shard of the runtime's own namespace and of every namespace in
 * its registry (see {@link SweepOptions.namespace}). When task entities exist in shards beyond `shards` (the writers
 * use more shards than the sweep was told), those shards are swept too, with a warning. Other underscore kinds are
 * swept by age in the runtime's own namespace only.
 */
export async function sweep(options: SweepOptions): Promise<SweepResult> {
  const o = resolveSweepOptions(options);
  return tracedSweep(
    'sweep',
    { 'deferred.sweep.dry_run': o.dryRun },
    () => sweepAll(options, o),
    (result) => ({
      'deferred.sweep.shards': result.shards.length,
      'deferred.sweep.namespaces': result.namespaces.length,
      'deferred.sweep.elapsed_ms': result.elapsedMs,
    }),
  );
}

async function sweepAll(options: SweepOptions, o: ResolvedSweep): Promise<SweepResult> {
  const started = Date.now();
  const home = o.namespace ?? '';
  const plans = await planNamespaces(o.datastore, {
    home,
    shards: o.shards,
    namespaces: options.namespaces,
    discover: options.discoverNamespaces,
    nowMs: o.nowMs,
    dryRun: o.dryRun,
    log: o.logger,
  });
  // Found once for all shards; each kind is swept by one shard of the runtime's own namespace.
  const kinds = await kindsToSweep(o.datastore, {
    namespace: home,
    kinds: o.kinds,
    discover: o.discoverKinds,
    log: o.logger,
  });
  const limiters = limitersFor(o); // shared: the limits hold for the whole sweep, not per shard or namespace
  const namespaces = await Promise.all(
    plans.map(async ({ namespace, shards: count }) => {
      const inNamespace = { ...o, namespace: namespace || undefined };
      const perShard = await Promise.all(
        Array.from({ length: count }, (_, shard) =>
          runShard(
            inNamespace,
            { shard, cursor: null, budgetMs: Infinity },
            limiters,
            namespace === home ? kinds : [],
          ).then((r) => r.stats),
        ),
      );
      return { namespace, perShard };
    }),
  );
  const shards = namespaces.flatMap((n) => n.perShard);
  const stats = shards.reduce((total, s) => addStats(total, s), emptyStats());
  const elapsedMs = Date.now() - started;
  o.log({
    severity: 'INFO',
    message: `swept ${shards.length} shards in ${namespaces.length} namespace${namespaces.length === 1 ? '' : 's'}`,
    event: 'sweep-done',
    stats,
    shards: shards.length,
    namespaces: namespaces.map((n) => n.namespace),
    elapsedMs,
    dryRun: o.dryRun || undefined,
  });
  return {
    stats,
    shards,
    namespaces: namespaces.map(({ namespace, perShard }) => ({
      namespace,
      shards: perShard.length,
      stats: perShard.reduce((total, s) => addStats(total, s), emptyStats()),
    })),
    elapsedMs,
  };
}
