/** The sweeper panel: the last distributed sweep runs with their counts, the series for the chart, and a sweep started from the page. */
import { SWEEP_RUN_KIND } from '../store/schema.js';
import { runsOfPage } from '../sweeper/distributed.js';
import { silentLogger } from '../core/logger.js';
import { DEFAULT_GRACE_MS } from '../sweeper/sweep-options.js';
import { totalDeleted, type SweepStats } from '../sweeper/sweep-stats.js';
import { sweep } from '../sweeper/sweep-all.js';
import type { Reader, ReadCost } from './reads.js';
import type { DashboardSource } from './source.js';

/** One sweep run as the page shows it. */
export interface SweepRunView {
  runId: string;
  startedAt: string | null;
  finishedAt: string | null;
  status: 'running' | 'done';
  shards: number;
  /** Namespaces the run swept (the runtime's own, and those it has written task entities to). */
  namespaces: number;
  shardsDone: number;
  segments: number;
  totals: SweepStats;
  deleted: number;
}

/** The last runs, newest first, and what they cost to read. */
export interface SweepRuns {
  runs: SweepRunView[];
  cost: ReadCost;
}

const iso = (value: unknown) => (value instanceof Date ? value.toISOString() : null);

/**
 * The newest `limit` runs of the distributed sweeper (`_DeferredSweepRun`), by their `expireAt` (their start plus the
 * fixed run retention: single-property index, descending), one entity read each, plus one per part of a run in
 * another namespace.
 */
export async function recentSweepRuns(reader: Reader, limit: number): Promise<SweepRuns> {
  const query = reader.query(SWEEP_RUN_KIND).order('expireAt', { descending: true }).limit(limit);
  const rows = await reader.entities(query);
  const page = await runsOfPage(reader.datastore, reader.namespace, rows as Record<string, unknown>[], limit);
  if (page.lookedUp > 0) {
    reader.cost.queries++;
    reader.cost.billedReads += page.lookedUp;
  }
  const runs = page.runs.map((run) => {
    return {
      runId: run.runId,
      startedAt: iso(run.startedAt),
      finishedAt: iso(run.finishedAt),
      status: run.status,
      shards: run.shards,
      namespaces: run.namespaces.length,
      shardsDone: run.shardsDone.length,
      segments: Object.keys(run.segments).length,
      totals: run.totals,
      deleted: totalDeleted(run.totals),
    };
  });
  return { runs, cost: { ...reader.cost } };
}

/** Options of a sweep started from the page. */
export interface SweepNowOptions {
  dryRun: boolean;
  /** Stop after this long (the request waits for it). @default 5 minutes */
  timeoutMs?: number;
}

/** Runs `sweep()` over every shard in this process, as `deferred sweep` does; answers its counts. */
export async function sweepNow(source: DashboardSource, options: SweepNowOptions) {
  const result = await sweep({
    datastore: source.datastore,
    tasks: source.tasks,
    namespace: source.namespace,
    shards: source.shards,
    dryRun: options.dryRun,
    now: new Date(source.clock.now()),
    graceMs: DEFAULT_GRACE_MS,
    log: silentLogger,
    signal: AbortSignal.timeout(options.timeoutMs ?? 5 * 60_000),
  });
  return { dryRun: options.dryRun, stats: result.stats, shards: result.shards.length, elapsedMs: result.elapsedMs };
}
