/** Deleting what a shard's decisions doomed: `done` entities in plain batched commits, everything else in guarded transactions that re-check it. */
import { chunkKeys } from '../store/task-entity.js';
import type { Doomed } from './shard-decide.js';
import type { ShardReport } from './shard-report.js';
import {
  deleteGuardedSplitting,
  deleteImmutable,
  planBatches,
  planPlainBatches,
  type DeleteCandidate,
} from './guarded-delete.js';
import type { ResolvedSweep, SweepLimiters } from './sweep-options.js';

/** The re-check a guarded delete makes on the entity as re-read inside its transaction. */
export type Guard = (fresh: Record<string, unknown>) => boolean;

/**
 * Deletes `doomed` (with their chunks), each under the guard `guardFor` gives it, and tells the report what happened.
 * A dry run counts and changes nothing. `done` entities never change again, so they go in plain commits of up to 500
 * without a re-read; the others in guarded transactions, several in flight within the commit limit.
 */
export async function deleteDoomed(
  doomed: Doomed[],
  guardFor: (item: Doomed) => Guard,
  env: { readonly sweep: ResolvedSweep; readonly limiters: SweepLimiters; readonly report: ShardReport },
): Promise<void> {
  const { sweep, report } = env;
  if (doomed.length === 0) return;
  if (sweep.dryRun) {
    for (const item of doomed) report.wouldDelete(item.reason);
    return;
  }
  const candidates: DeleteCandidate<Doomed>[] = doomed.map((item) => ({
    key: item.key,
    companions: chunkKeys(sweep.datastore, item.key, item.snapshot.chunks),
    tag: item,
    guard: guardFor(item),
  }));
  // A done entity never changes again, whether it goes as done or as expired.
  const isDone = (c: DeleteCandidate<Doomed>) => c.tag.snapshot.state === 'done';
  const immutable = candidates.filter(isDone);
  const guarded = candidates.filter((c) => !isDone(c));
  const work = [
    ...planPlainBatches(immutable, sweep.limits).map(
      (batch) => () => deleteImmutable(sweep.datastore, batch, sweep.limits),
    ),
    ...planBatches(guarded, sweep.limits).map(
      (batch) => () => deleteGuardedSplitting(sweep.datastore, batch, sweep.limits),
    ),
  ];
  await Promise.all(
    work.map((run) =>
      env.limiters.commit(async () => {
        sweep.signal?.throwIfAborted();
        const { outcomes, lastError } = await run();
        const failed: DeleteCandidate<Doomed>['key'][] = [];
        for (const [c, outcome] of outcomes) {
          if (outcome === 'deleted') report.deleted(c.key, c.tag.reason, c.tag.snapshot);
          else if (outcome === 'changed') report.changed(c.key);
          else if (outcome === 'error') failed.push(c.key);
        }
        if (failed.length) report.deleteFailed(failed, lastError);
      }),
    ),
  );
}
