/** Scanning a shard: its range queries (task entities' age keys, other kinds by `expireAt`), read page by page from a cursor, within a time budget. */
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

/**
 * The query of one shard's `_DeferredTask` entities whose age key is in `[lower, upper)`, projected on `ageKey`: keys
 * and age keys only (the filter's own property, so its built-in index answers it; no composite index).
 */
export function taskKeyQuery(sweep: ResolvedSweep, range: { lower: string; upper: string }): Query {
  const { datastore } = sweep;
  return datastore
    .createQuery(sweep.namespace ?? '', TASK_KIND)
    .filter(
      andFilter(datastore, [
        propertyFilter(datastore, 'ageKey', '>=', range.lower),
        propertyFilter(datastore, 'ageKey', '<', range.upper),
      ]),
    )
    .select('ageKey');
}

/** Keys read per page of a keys scan: five pages of entities, at most one commit's worth (500). */
export function keyPageSize(sweep: ResolvedSweep): number {
  return Math.min(500, 5 * sweep.pageSize);
}

/** The keys-only query of the entities of `kind` whose `expireAt` is at or before `expireBeforeMs`. */
export function expiredKindQuery(sweep: ResolvedSweep, kind: string, expireBeforeMs: number): Query {
  const { datastore } = sweep;
  return datastore
    .createQuery(sweep.namespace ?? '', kind)
    .filter(propertyFilter(datastore, 'expireAt', '<=', new Date(expireBeforeMs)))
    .select('__key__');
}

/**
 * The one paging loop of a shard sweep: reads the query `makeQuery` builds, `pageSize` rows a page, from
 * `position.start`, and hands each page to `processPage` (decide and delete). After each page the cursor moves on and
 * progress is reported. Returns `true` when the query is exhausted or `processPage` answered `true` (nothing further
 * in this range is to be read), `false` when the budget ran out first (`position.start` then says where to continue).
 */
export async function scanPages(
  sweep: ResolvedSweep,
  makeQuery: () => Query,
  pageSize: number,
  position: ShardPosition,
  budget: Budget,
  processPage: (rows: Record<string | symbol, unknown>[]) => Promise<boolean | void>,
  progress: () => void,
): Promise<boolean> {
  for (;;) {
    sweep.signal?.throwIfAborted();
    let query = makeQuery().limit(pageSize);
    if (position.start) query = query.start(position.start);
    const [rows, info] = await sweep.datastore.runQuery(query);
    if ((await processPage(rows)) === true) return true;
    const more = rows.length === pageSize && info.moreResults !== 'NO_MORE_RESULTS' && info.endCursor;
    if (!more) return true;
    position.start = info.endCursor;
    progress();
    if (budget.spent()) return false;
  }
}
