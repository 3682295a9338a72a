/** The overview's counts of task entities: by state, by age, what the sweeper is behind by, chunks and other transient kinds, from index-only queries. */
import { highestShardInUse } from '../sweeper/sweep-namespaces.js';
import { kindsToSweep } from '../sweeper/kinds.js';
import { CHUNK_KIND, TASK_KIND, ageKey, finishedAgeKey, parseAgeKey } from '../store/schema.js';
import { Reader, type ReadCost } from './reads.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** States counted (a state nothing is in counts 0 and costs one read). */
export const COUNTED_STATES = ['pending', 'running', 'done', 'failed', 'retried'] as const;

/** Age buckets of unfinished entities (since created). */
export const UNFINISHED_BUCKETS = ['< 1h', '1h - 1d', '1d - 7d', '>= 7d'] as const;
/** Buckets of finished entities: still retained, or reclaimable since (the end of their retention). */
export const FINISHED_BUCKETS = ['retained', 'due < 1h', 'due 1h - 1d', 'due >= 1d'] as const;

/** What {@link countTasks} found. */
export interface TaskCounts {
  /** The sweep's "now" of these counts (ISO). */
  at: string;
  total: number;
  byState: Record<string, number>;
  /** Pending and running entities (and finished ones written by versions before due-time age keys) by age. */
  unfinished: {
    total: number;
    byAge: Record<(typeof UNFINISHED_BUCKETS)[number], number>;
    oldestCreated: string | null;
  };
  /** Done and failed entities: kept for their retention, or due for the sweeper since. */
  finished: { total: number; byAge: Record<(typeof FINISHED_BUCKETS)[number], number> };
  /**
   * How long the oldest entity the sweeper may delete without asking Cloud Tasks has been reclaimable (a finished one
   * past its retention, or any past its `expireAt`); 0 when there is none.
   */
  behindByMs: number;
  /** When the oldest reclaimable entity became reclaimable (ISO), or null. */
  oldestReclaimable: string | null;
  /** Task entities past `expireAt`. */
  expired: number;
  chunks: number;
  /** Other underscore kinds: entities, and how many are past `expireAt`. */
  kinds: Record<string, { entities: number; expired: number }>;
  /** Shards counted (the configured count, or more when entities use more). */
  shards: number;
  /** What these counts cost in Datastore. */
  cost: ReadCost;
}

interface ShardCounts {
  unfinished: number;
  older: [number, number, number]; // created before now - 1h, 1d, 7d
  oldestCreatedMs: number | null;
  finished: number;
  due: [number, number, number]; // due before now, now - 1h, now - 1d
  oldestDueMs: number | null;
}

/** `"0007|F"`: above every unfinished age key of shard 7 and below its finished ones (digits sort before `F`). */
const unfinishedEnd = (shard: number) => `${String(shard).padStart(4, '0')}|F`;

async function countShard(reader: Reader, shard: number, nowMs: number): Promise<ShardCounts> {
  const range = (low: string, high: string) => [reader.where('ageKey', '>=', low), reader.where('ageKey', '<', high)];
  const lowU = ageKey(shard, 0);
  const lowF = finishedAgeKey(shard, 0);
  const highF = finishedAgeKey(shard, 10 ** 15 - 1);
  const [firstU, firstF] = await Promise.all([
    reader.first(TASK_KIND, 'ageKey', range(lowU, unfinishedEnd(shard))),
    reader.first(TASK_KIND, 'ageKey', range(lowF, highF)),
  ]);
  const oldestCreatedMs = typeof firstU === 'string' ? (parseAgeKey(firstU)?.ms ?? null) : null;
  const oldestDueMs = typeof firstF === 'string' ? (parseAgeKey(firstF)?.ms ?? null) : null;
  // Only ranges that can hold something are counted: a healthy shard costs its two first-key reads and two totals.
  const olderThan = (cutMs: number) =>
    oldestCreatedMs !== null && oldestCreatedMs < cutMs
      ? reader.count(TASK_KIND, range(lowU, ageKey(shard, cutMs)))
      : Promise.resolve(0);
  const dueBefore = (cutMs: number) =>
    oldestDueMs !== null && oldestDueMs < cutMs
      ? reader.count(TASK_KIND, range(lowF, finishedAgeKey(shard, cutMs)))
      : Promise.resolve(0);
  const [unfinished, o1h, o1d, o7d, finished, d0, d1h, d1d] = await Promise.all([
    oldestCreatedMs === null ? 0 : reader.count(TASK_KIND, range(lowU, unfinishedEnd(shard))),
    olderThan(nowMs - HOUR),
    olderThan(nowMs - DAY),
    olderThan(nowMs - 7 * DAY),
    oldestDueMs === null ? 0 : reader.count(TASK_KIND, range(lowF, highF)),
    dueBefore(nowMs),
    dueBefore(nowMs - HOUR),
    dueBefore(nowMs - DAY),
  ]);
  return {
    unfinished,
    older: [o1h, o1d, o7d],
    oldestCreatedMs,
    finished,
    due: [d0, d1h, d1d],
    oldestDueMs,
  };
}

/**
 * Counts the namespace's task entities with COUNT aggregations and single-entry projections on single-property
 * indexes (no composite index, no payload read). Ages come from the shard-prefixed `ageKey`, one range per shard.
 */
export async function countTasks(
  reader: Reader,
  options: { nowMs: number; shards: number; kinds?: readonly string[] },
): Promise<TaskCounts> {
  const { nowMs } = options;
  const highest = await highestShardInUse(reader.datastore, reader.namespace);
  reader.cost.queries++;
  reader.cost.billedReads++;
  const shards = Math.max(options.shards, highest + 1);
  const expiredFilter = () => [reader.where('expireAt', '<=', new Date(nowMs))];
  const [perShard, stateCounts, total, expired, firstExpire, chunks, kindNames] = await Promise.all([
    Promise.all(Array.from({ length: shards }, (_, shard) => countShard(reader, shard, nowMs))),
    Promise.all(COUNTED_STATES.map((state) => reader.count(TASK_KIND, [reader.where('state', '=', state)]))),
    reader.count(TASK_KIND),
    reader.count(TASK_KIND, expiredFilter()),
    reader.first(TASK_KIND, 'expireAt'),
    reader.count(CHUNK_KIND),
    kindsToSweep(reader.datastore, { namespace: reader.namespace, kinds: options.kinds }).then((kinds) => {
      reader.cost.queries++;
      reader.cost.billedReads++;
      return kinds;
    }),
  ]);
  const kinds: TaskCounts['kinds'] = {};
  await Promise.all(
    kindNames.map(async (kind) => {
      const [entities, expiredOfKind] = await Promise.all([reader.count(kind), reader.count(kind, expiredFilter())]);
      if (entities > 0 || options.kinds?.includes(kind)) kinds[kind] = { entities, expired: expiredOfKind };
    }),
  );
  const sum = (pick: (s: ShardCounts) => number) => perShard.reduce((n, s) => n + pick(s), 0);
  const older = [0, 1, 2].map((i) => sum((s) => s.older[i]!));
  const due = [0, 1, 2].map((i) => sum((s) => s.due[i]!));
  const unfinished = sum((s) => s.unfinished);
  const finished = sum((s) => s.finished);
  const min = (values: (number | null)[]) =>
    values.reduce<number | null>((m, v) => (v === null ? m : m === null ? v : Math.min(m, v)), null);
  const oldestCreatedMs = min(perShard.map((s) => s.oldestCreatedMs));
  const oldestDueMs = min(perShard.map((s) => s.oldestDueMs));
  const firstExpireMs = firstExpire instanceof Date ? firstExpire.getTime() : null;
  const reclaimableSince = min([
    oldestDueMs !== null && oldestDueMs <= nowMs ? oldestDueMs : null,
    firstExpireMs !== null && firstExpireMs <= nowMs ? firstExpireMs : null,
  ]);
  const byState: Record<string, number> = {};
  COUNTED_STATES.forEach((state, i) => {
    byState[state] = stateCounts[i]!;
  });
  return {
    at: new Date(nowMs).toISOString(),
    total,
    byState,
    unfinished: {
      total: unfinished,
      byAge: {
        '< 1h': unfinished - older[0]!,
        '1h - 1d': older[0]! - older[1]!,
        '1d - 7d': older[1]! - older[2]!,
        '>= 7d': older[2]!,
      },
      oldestCreated: oldestCreatedMs === null ? null : new Date(oldestCreatedMs).toISOString(),
    },
    finished: {
      total: finished,
      byAge: {
        retained: finished - due[0]!,
        'due < 1h': due[0]! - due[1]!,
        'due 1h - 1d': due[1]! - due[2]!,
        'due >= 1d': due[2]!,
      },
    },
    behindByMs: reclaimableSince === null ? 0 : nowMs - reclaimableSince,
    oldestReclaimable: reclaimableSince === null ? null : new Date(reclaimableSince).toISOString(),
    expired,
    chunks,
    kinds,
    shards,
    cost: { ...reader.cost },
  };
}
