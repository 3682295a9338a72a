/** The counters a sweep reports (scanned, deleted by reason, re-driven, kept, errors; their types are in types.ts, beside the events that carry them) and how to add them up. */

import { KEEP_REASONS, type DeleteReason, type KeepReason, type SweepStats } from '../types.js';

export { KEEP_REASONS };
export type { DeleteReason, KeepReason, SweepStats };

/** A zeroed {@link SweepStats}. */
export function emptyStats(): SweepStats {
  return {
    scanned: 0,
    deleted: { done: 0, failed: 0, retried: 0, leaked: 0, expired: 0, transientKind: 0 },
    redriven: 0,
    kept: 0,
    keptBy: Object.fromEntries(KEEP_REASONS.map((reason) => [reason, 0])) as Record<KeepReason, number>,
    errors: 0,
  };
}

/** Counts one kept entity (in `kept` and in `keptBy`). */
export function countKept(stats: SweepStats, reason: KeepReason): void {
  stats.kept++;
  stats.keptBy[reason]++;
}

/** Adds `b` into `a` (mutates and returns `a`). */
export function addStats(a: SweepStats, b: SweepStats): SweepStats {
  a.scanned += b.scanned;
  for (const reason of Object.keys(a.deleted) as DeleteReason[]) a.deleted[reason] += b.deleted[reason] ?? 0;
  a.redriven += b.redriven;
  a.kept += b.kept;
  // Stats stored by earlier versions (sweep run records) have no breakdown.
  for (const reason of KEEP_REASONS) a.keptBy[reason] += b.keptBy?.[reason] ?? 0;
  a.errors += b.errors;
  return a;
}

/** Total deletions over all reasons. */
export function totalDeleted(stats: SweepStats): number {
  return Object.values(stats.deleted).reduce((sum, n) => sum + n, 0);
}
