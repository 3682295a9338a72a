/** The opaque continuation cursor of a shard sweep: which phase it is in, the query's fixed bounds, and the Datastore cursor. */
import { InvalidArgumentError } from '../errors/invalid-argument.js';

/** Where a shard sweep stopped. The bounds are fixed for the whole sweep so the Datastore cursor stays valid. */
export interface ShardPosition {
  /**
   * 2: the task phases scan age keys (a projection on `ageKey`). Cursors of earlier releases (1: their task phases
   * read whole entities) are taken up at the start of their phase, as their Datastore cursor belongs to another query.
   */
  v: 2;
  /** Age cut-off of the task-entity range query (epoch ms): entities created before it are scanned. */
  cutoffMs: number;
  /** `expireAt` bound of the other-kinds queries (epoch ms). */
  expireBeforeMs: number;
  /**
   * Finished entities are read when their retention has passed (`finishedAt + retentionMs`) before this (epoch ms);
   * null: all finished entities (the sweep overrides retention, so an entity's own due time does not bound it). Absent
   * in cursors of earlier releases: the sweep's now.
   */
  dueBeforeMs?: number | null;
  /**
   * `tasks`: the age keys of `_DeferredTask` entities from the oldest unfinished one (finished ones written by earlier
   * releases are among them, by creation) up to the finished ones due now; `finished`: the finished ones, by the end of
   * their retention, when `tasks` stopped at unfinished entities younger than the cut-off; `kinds`: other underscore
   * kinds, one after the other.
   */
  phase: 'tasks' | 'finished' | 'kinds';
  /** In phase `kinds`: the kind being swept. */
  kind?: string;
  /** Datastore query cursor to start from; absent at the start of a phase or kind. */
  start?: string;
}

/** Encodes a position as a URL-safe string. */
export function encodeCursor(position: ShardPosition): string {
  return Buffer.from(JSON.stringify(position)).toString('base64url');
}

/** Decodes a cursor made by {@link encodeCursor}; throws InvalidArgumentError when it is not one. */
export function decodeCursor(cursor: string): ShardPosition {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    parsed = undefined;
  }
  const p = parsed as (Omit<Partial<ShardPosition>, 'v'> & { v?: unknown }) | undefined;
  if (
    !p ||
    (p.v !== 1 && p.v !== 2) ||
    typeof p.cutoffMs !== 'number' ||
    typeof p.expireBeforeMs !== 'number' ||
    (p.phase !== 'tasks' && p.phase !== 'finished' && p.phase !== 'kinds') ||
    (p.dueBeforeMs !== undefined && p.dueBeforeMs !== null && typeof p.dueBeforeMs !== 'number') ||
    (p.kind !== undefined && typeof p.kind !== 'string') ||
    (p.start !== undefined && typeof p.start !== 'string')
  ) {
    throw new InvalidArgumentError(
      'sweep cursor is not one a shard sweep returned; pass the `cursor` of a previous sweepShard() result, or null to start over.',
    );
  }
  if (p.v === 1) {
    p.v = 2;
    if (p.phase !== 'kinds') delete p.start;
  }
  return p as ShardPosition;
}
