/** Scanning a shard: its range queries (unfinished and finished task entities by age key, other kinds by `expireAt`), read page by page from a cursor, within a time budget. */
import { performance } from 'node:perf_hooks';
import type { Query } from '@google-cloud/datastore';
import { andFilter, propertyFilter } from '../store/datastore.js';
import { TASK_KIND } from '../store/schema.js';
import type { ShardPosition } from './cursor.js';
import type { ResolvedSweep } from './sweep-options.js';

/** A shard sweep's time budget, counted from its start. */
export class Budget {
  private readonly started = performance.now();
  constructor(readonly ms: number) {}
  spent(): boolean {
    return performance.now() - this.started >= this.ms;
  }
}

/** The query of one shard's `_DeferredTask` entities whose age key is in `[lower, upper)` (whole entities). */
export function taskRangeQuery(sweep: ResolvedSweep, range: { lower: string; upper: string }): Query {
  const { datastore } = sweep;
  return datastore
    .createQuery(sweep.namespace ?? '', TASK_KIND)
    .filter(
      andFilter(datastore, [
        propertyFilter(datastore, 'ageKey', '>=', range.lower),
        propertyFilter(datastore, 'ageKey', '<', range.upper),
      ]),
    );
}

/** The keys-only query of the entities of `kind` whose `expireAt` is at or before `expireBeforeMs`. */
export function expiredKindQuery(sweep: ResolvedSweep, kind: string, expireBeforeMs: number): Query {
  const { datastore } = sweep;
  return datastore
    .createQuery(sweep.namespace ?? '', kind)
    .filter(propertyFilter(datastore, 'expireAt', '<=', new Date(expireBeforeMs)))
    .select('__key__');
}

/** Runs `fn` holding one of the sweep's page slots (pages of whole entities), or at once (keys-only pages). */
export type PageHold = <T>(fn: () => Promise<T>) => Promise<T>;

/**
 * The one paging loop of a shard sweep: reads the query `makeQuery` builds, `pageSize` rows a page, from
 * `position.start`, and hands each page to `processPage` (decide and delete) while holding `hold`. After each page
 * the cursor moves on and progress is reported. Returns `true` when the query is exhausted, `false` when the budget
 * ran out first (`position.start` then says where to continue).
 */
export async function scanPages(
  sweep: ResolvedSweep,
  makeQuery: () => Query,
  position: ShardPosition,
  budget: Budget,
  hold: PageHold,
  processPage: (rows: Record<string | symbol, unknown>[]) => Promise<void>,
  progress: () => void,
): Promise<boolean> {
  for (;;) {
    sweep.signal?.throwIfAborted();
    let query = makeQuery().limit(sweep.pageSize);
    if (position.start) query = query.start(position.start);
    const { rows, info } = await hold(async () => {
      const [page, meta] = await sweep.datastore.runQuery(query);
      await processPage(page);
      return { rows: page.length, info: meta };
    });
    const more = rows === sweep.pageSize && info.moreResults !== 'NO_MORE_RESULTS' && info.endCursor;
    if (!more) return true;
    position.start = info.endCursor;
    progress();
    if (budget.spent()) return false;
  }
}
