/** Deciding a page of one shard: the decision table per entity, the Cloud Tasks look-ups it asks for, and the re-drives it decides. */
import type { Datastore, Key } from '@google-cloud/datastore';
import { keyOf } from '../store/datastore.js';
import { cloudTaskExists, redriveTask } from './cloud-tasks.js';
import { afterLookup, classify, snapshotOf, type DecisionContext, type TaskSnapshot } from './decide.js';
import type { ShardReport } from './shard-report.js';
import type { ResolvedSweep, SweepLimiters } from './sweep-options.js';
import type { DeleteReason } from './sweep-stats.js';

/** An entity to delete: its key, what it looked like when judged, and why. */
export interface Doomed {
  readonly key: Key;
  readonly snapshot: TaskSnapshot;
  readonly reason: DeleteReason;
}

/** What deciding needs: the sweep, the decision context, the shared look-up limiter, and the report. */
export interface DecideEnv {
  readonly sweep: ResolvedSweep;
  readonly ctx: DecisionContext;
  readonly limiters: SweepLimiters;
  readonly report: ShardReport;
}

/**
 * Decides every entity of a page of `_DeferredTask` entities: keeps what must stay, looks up the Cloud Task of the
 * unfinished ones past their ETA + grace (in parallel, within the look-up limit), re-drives a lost transactional
 * task, and returns what is to be deleted (the deletes themselves are the delete part's).
 */
export async function decideTaskPage(entities: Record<string | symbol, unknown>[], env: DecideEnv): Promise<Doomed[]> {
  const { sweep, ctx, report } = env;
  const doomed: Doomed[] = [];
  const lookups: Doomed[] = [];
  for (const entity of entities) {
    report.scanned(1);
    const key = keyOf(sweep.datastore, entity);
    const snapshot = snapshotOf(entity);
    const verdict = classify(snapshot, ctx);
    if (verdict.action === 'keep') report.kept(verdict.reason);
    else if (verdict.action === 'delete') doomed.push({ key, snapshot, reason: verdict.reason });
    else lookups.push({ key, snapshot, reason: 'leaked' });
  }
  // The bar moves within a shard: once the page is judged, and again once its look-ups (the slow part) are answered.
  report.progress();
  if (lookups.length === 0) return doomed;
  await Promise.all(lookups.map((item) => env.limiters.lookup(() => decideAfterLookup(item, env, doomed))));
  report.progress();
  return doomed;
}

/** Looks up one entity's Cloud Task and acts on the answer: keep, doom (leaked), or re-drive. */
async function decideAfterLookup(item: Doomed, env: DecideEnv, doomed: Doomed[]): Promise<void> {
  const { sweep, report } = env;
  sweep.signal?.throwIfAborted();
  let exists: boolean;
  try {
    exists = await cloudTaskExists(sweep.tasks, item.snapshot.cloudTaskName);
  } catch (error) {
    report.lookupFailed(item.key, item.snapshot, error);
    return;
  }
  const verdict = afterLookup(item.snapshot, exists);
  if (verdict.action === 'keep') report.kept(verdict.reason);
  else if (verdict.action === 'delete') doomed.push(item);
  else if (sweep.dryRun) report.wouldRedrive();
  else {
    try {
      report.redriven(item.key, item.snapshot, await redriveTask(sweep.tasks, item.snapshot.cloudTaskRequest));
    } catch (error) {
      report.redriveFailed(item.key, item.snapshot, error);
    }
  }
}

/** Every key of a page of another underscore kind past its `expireAt` is doomed (the guard re-checks `expireAt`). */
export function decideKindPage(keys: Key[], report: ShardReport): Doomed[] {
  report.scanned(keys.length);
  return keys.map((key) => ({ key, snapshot: snapshotOf({}), reason: 'transientKind' }));
}

/** The key of each row of a keys-only page. */
export function keysOf(datastore: Datastore, rows: Record<string | symbol, unknown>[]): Key[] {
  return rows.map((row) => keyOf(datastore, row));
}
