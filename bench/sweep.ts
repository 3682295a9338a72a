/** Figure `sweep`: entities reclaimed per second by sweep(), against a keys-only range query per shard and batched deletes of the same entities. */
import { Datastore, PropertyFilter, and } from '@google-cloud/datastore';
import pLimit from 'p-limit';
import { finishedAgeKeyRange, TASK_KIND } from '../src/store/schema.js';
import { silentLogger } from '../src/core/logger.js';
import { sweep } from '../src/sweeper/index.js';
import type { Figure, FigureContext } from './lib/figure.js';
import { measured, pairedRuns, ratioRow, type Slice } from './lib/paired.js';
import { seedFinishedTasks, SWEEP_NOW } from './lib/seed.js';

const SHARDS = 16;
/** The sweeper's default commit concurrency; the baseline gets the same. */
const COMMIT_CONCURRENCY = 4;

/**
 * The raw limit of reclaiming: for each shard, page through a keys-only range query on the finished entities' age key
 * (due before the cut-off) and delete each page in one commit (500 keys), with as many commits in flight as the sweeper allows. No checks: this is what a sweep
 * would cost if it needed none.
 */
export async function rawSweep(datastore: Datastore, namespace: string, shards: number, cutoffMs: number) {
  const commitLimit = pLimit(COMMIT_CONCURRENCY);
  let deleted = 0;
  await Promise.all(
    Array.from({ length: shards }, async (_, shard) => {
      const { lower, upper } = finishedAgeKeyRange(shard, cutoffMs);
      const deletes: Promise<unknown>[] = [];
      let start: string | undefined;
      for (;;) {
        let query = datastore
          .createQuery(namespace, TASK_KIND)
          .filter(and([new PropertyFilter('ageKey', '>=', lower), new PropertyFilter('ageKey', '<', upper)]))
          .select('__key__')
          .limit(500);
        if (start) query = query.start(start);
        const [rows, info] = await datastore.runQuery(query);
        if (rows.length) {
          const keys = rows.map((row) => row[Datastore.KEY]);
          deletes.push(commitLimit(() => datastore.delete(keys)));
          deleted += keys.length;
        }
        if (rows.length < 500 || info.moreResults === 'NO_MORE_RESULTS' || !info.endCursor) break;
        start = info.endCursor;
      }
      await Promise.all(deletes);
    }),
  );
  return deleted;
}

/** How many task entities are left in a namespace (keys-only). */
export async function remaining(datastore: Datastore, namespace: string): Promise<number> {
  const [rows] = await datastore.runQuery(datastore.createQuery(namespace, TASK_KIND).select('__key__').limit(1000));
  return rows.length;
}

/** Seeds `count` finished entities in a fresh namespace (untimed), reclaims them with `side` (timed), checks none is left. */
export async function reclaimSlice(
  ctx: FigureContext,
  side: 'ours' | 'baseline',
  count: number,
  shards: number,
  label = 'sweep',
): Promise<Slice> {
  const namespace = ctx.stack.namespace(label);
  const datastore = ctx.stack.datastore(namespace);
  const queuePath = `projects/${ctx.stack.projectId}/locations/${ctx.stack.location}/queues/bench`;
  await seedFinishedTasks(datastore, count, { shards, nowMs: SWEEP_NOW, queuePath });
  const { ms, cpu, result } = await measured(ctx.stack, async () => {
    if (side === 'baseline') return rawSweep(datastore, namespace, shards, SWEEP_NOW);
    const { stats } = await sweep({
      datastore,
      tasks: ctx.stack.tasks,
      namespace,
      shards,
      now: new Date(SWEEP_NOW),
      log: silentLogger,
    });
    if (stats.errors > 0) throw new Error(`sweep reported ${stats.errors} errors`);
    return stats.deleted.done;
  });
  const left = await remaining(datastore, namespace);
  if (result !== count || left !== 0) {
    throw new Error(`${side} reclaimed ${result} of ${count} entities, ${left} left`);
  }
  return { count, ms, cpu };
}

export const sweepFigure: Figure = {
  name: 'sweep',
  description: `sweep() of finished entities over ${SHARDS} shards vs keys-only range query + batched delete (entities/s)`,
  async run(ctx) {
    // 200 entities per shard: enough that the fixed queries of a sweep (registry, kinds) weigh no more than in a real one.
    const count = ctx.smoke ? 100 : 3200;
    const samples = await pairedRuns(
      ctx,
      'sweep',
      'entities/s',
      {
        ours: () => reclaimSlice(ctx, 'ours', count, SHARDS),
        baseline: () => reclaimSlice(ctx, 'baseline', count, SHARDS),
      },
      { slices: 2 },
    );
    return [
      ratioRow(
        'sweep',
        'entities/s',
        samples,
        { op: '>=', value: 0.7 },
        {
          details: { entitiesPerSlice: count, shards: SHARDS, commitConcurrency: COMMIT_CONCURRENCY },
        },
      ),
    ];
  },
};
