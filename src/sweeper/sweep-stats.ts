/** The counters a sweep reports (scanned, deleted by reason, re-driven, kept, errors) and how to add them up. */

/** Why an entity was deleted. */
export type DeleteReason = 'done' | 'failed' | 'leaked' | 'expired' | 'transientKind';

/** What one sweep (a shard, a segment of a shard, or a whole run) saw and did. In a dry run: what it would have done. */
export interface SweepStats {
  /** Entities read (task entities in the shard's age range, plus expired entities of other underscore kinds). */
  scanned: number;
  /**
   * Entities deleted, by reason (`transientKind`: another underscore-prefixed kind past its `expireAt`). Every reason
   * but `done` counts what this sweep removed: its deletes are transactions that re-read the entity, so one that
   * another sweep deleted first is not counted. `done` counts the deletes this sweep committed: done entities go in
   * plain batched commits without a re-read (twice the reclaim rate), and Datastore's answer to a delete does not say
   * whether the entity was still there, so when two sweeps cover the same shard at once both may count the same
   * entity. Summed over concurrent sweeps, `done` can exceed what was reclaimed; a single sweep's count is exact.
   */
  deleted: Record<DeleteReason, number>;
  /** Committed transactional tasks whose Cloud Task was lost and was created again. */
  redriven: number;
  /** Entities left in place (still needed, not yet reclaimable, or changed underneath the sweep). */
  kept: number;
  /** Operations that failed (Cloud Tasks look-ups, re-drives, commits); their entities are left for the next sweep. */
  errors: number;
}

/** A zeroed {@link SweepStats}. */
export function emptyStats(): SweepStats {
  return {
    scanned: 0,
    deleted: { done: 0, failed: 0, leaked: 0, expired: 0, transientKind: 0 },
    redriven: 0,
    kept: 0,
    errors: 0,
  };
}

/** Adds `b` into `a` (mutates and returns `a`). */
export function addStats(a: SweepStats, b: SweepStats): SweepStats {
  a.scanned += b.scanned;
  for (const reason of Object.keys(a.deleted) as DeleteReason[]) a.deleted[reason] += b.deleted[reason];
  a.redriven += b.redriven;
  a.kept += b.kept;
  a.errors += b.errors;
  return a;
}

/** Total deletions over all reasons. */
export function totalDeleted(stats: SweepStats): number {
  return Object.values(stats.deleted).reduce((sum, n) => sum + n, 0);
}
