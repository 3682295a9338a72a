/** The counters a sweep reports (scanned, deleted by reason, re-driven, kept, errors; their types are in types.ts, beside the events that carry them) and how to add them up. */

import type { DeleteReason, SweepStats } from '../types.js';

export type { DeleteReason, SweepStats };

/** A zeroed {@link SweepStats}. */
export function emptyStats(): SweepStats {
  return {
    scanned: 0,
    deleted: { done: 0, failed: 0, retried: 0, leaked: 0, expired: 0, transientKind: 0 },
    redriven: 0,
    kept: 0,
    errors: 0,
  };
}

/** Adds `b` into `a` (mutates and returns `a`). */
export function addStats(a: SweepStats, b: SweepStats): SweepStats {
  a.scanned += b.scanned;
  for (const reason of Object.keys(a.deleted) as DeleteReason[]) a.deleted[reason] += b.deleted[reason] ?? 0;
  a.redriven += b.redriven;
  a.kept += b.kept;
  a.errors += b.errors;
  return a;
}

/** Total deletions over all reasons. */
export function totalDeleted(stats: SweepStats): number {
  return Object.values(stats.deleted).reduce((sum, n) => sum + n, 0);
}
