/** The shape of the transient entities cloud-deferred writes (`_DeferredTask` and its chunks), shared by the runtime and the sweeper. */
import type { WholeNumberRange } from '../util/whole-number.js';
import type { AttemptRecord } from '../types.js';

export type { AttemptRecord };

/** Kind of the entity that backs a task: its payload (when spilled or transactional) and its state machine. */
export const TASK_KIND = '_DeferredTask';
/** Kind of the child entities that hold a payload's chunks when it does not fit in one entity. Parent: the task entity. */
export const CHUNK_KIND = '_DeferredTaskChunk';
/** Kind of the record of one distributed sweep run (adds up its shards). Transient too: it carries `expireAt`. */
export const SWEEP_RUN_KIND = '_DeferredSweepRun';
/**
 * Kind of the registry of namespaces: one entity per namespace, besides the runtime's own, in which the runtime writes
 * task entities (a transactional defer into a tenant's entity group). Kept in the runtime's own namespace.
 */
export const NAMESPACE_KIND = '_DeferredNamespace';
/**
 * Kind of the attempt log of an inline task that failed and will be retried (its earlier attempts' outcomes, folded into
 * the failure record if it fails for good). Transient: it carries `expireAt` and is swept by age.
 */
export const ATTEMPTS_KIND = '_DeferredAttempts';
/** Every kind this package creates starts with this prefix; the sweeper also sweeps other such kinds that carry `expireAt`. */
export const TRANSIENT_PREFIX = '_';

/** Default retention of a finished record (done or failed) when its task gives none: 7 days. */
export const DEFAULT_RETENTION_MS = 7 * 86_400_000;
/** Default number of sweeper shards. */
export const DEFAULT_SHARDS = 16;
/** Most bytes of (compressed) payload stored in one entity or chunk: below Datastore's 1 MiB entity limit with room for the other properties. */
export const CHUNK_BYTES = 900 * 1024;

/**
 * The state machine of an entity-backed task. Changes happen in Datastore transactions:
 * `pending` -> `running` (with a lease) -> `done` | `failed`; a failed attempt that will be retried goes back to `pending`.
 * A `failed` record (of any task, inline ones too) becomes `retried` when it is replayed from the failure ledger; it is
 * finished like `done` and `failed`, and swept after its retention.
 */
export type TaskState = 'pending' | 'running' | 'done' | 'failed' | 'retried';

/** The states in which a record never runs again: swept once their retention has passed. */
export const FINISHED_STATES: readonly TaskState[] = ['done', 'failed', 'retried'];

/** Attempts a record keeps: the last 20. */
export const HISTORY_LIMIT = 20;
/** Characters of an error message kept per attempt. */
export const ERROR_CHARS = 500;
/** Characters of a stack kept per attempt. */
export const STACK_CHARS = 1500;
/** Characters of `lastError` kept (an entity is at most 1 MiB, and a huge message must not make the record unwritable). */
export const LAST_ERROR_CHARS = 4000;

/**
 * Properties of a `_DeferredTask` entity. Indexed: `state`, `ageKey`, `expireAt` (and, on failed records, the failure
 * ledger's `failedKey` and `failedTaskId`). Everything else is written with `excludeFromIndexes`.
 */
export interface DeferredTaskEntity {
  /** Where the task is in its life; see {@link TaskState}. */
  state: TaskState;
  /** Registered task name (the function that runs). */
  task: string;
  /** Cloud Tasks queue id (short). */
  queue: string;
  /**
   * Full Cloud Task resource name (`projects/.../queues/.../tasks/...`). Chosen before the task is created, so the
   * sweeper can look the task up even when its creation was lost.
   */
  cloudTaskName: string;
  /** The CreateTask request, as JSON, so the sweeper can re-drive a committed transactional task whose enqueue was lost. */
  cloudTaskRequest: string;
  /** Written in the caller's transaction (the entity is then the outbox of its Cloud Task). */
  transactional: boolean;
  /** When the entity was written. */
  created: Date;
  /** When the task is first due (created + delay, or the given eta). */
  eta: Date;
  /** Runs started so far (incremented when a delivery moves the entity to `running`). */
  attempts: number;
  /** While `running`: until when the current run owns the entity. A later delivery may take over after it. */
  leaseUntil: Date | null;
  /** Message of the last failure, if any. */
  lastError: string | null;
  /** When the task reached `done` or `failed`. */
  finishedAt: Date | null;
  /** How long a finished entity is kept (milliseconds after `finishedAt`) before the sweeper deletes it. */
  retentionMs: number;
  /**
   * Sweeper shard, 0 <= shard < shard count at write time. Not indexed (nothing queries it; the shard is the
   * age key's prefix, and that is what the sweep's range queries use), which saves two index entries per write.
   */
  shard: number;
  /**
   * Shard-prefixed age key, see {@link ageKey}: one range query per shard finds entities older than a cut-off. Finished
   * entities are keyed by when they may be swept ({@link finishedAgeKey}); `done` ones also say so ({@link doneAgeKey}).
   */
  ageKey: string;
  /** Hard age limit: past it the sweeper deletes the entity whatever its state (also usable as a Firestore TTL field). */
  expireAt: Date;
  /** Compressed payload when it fits in this entity; empty when it is chunked. */
  payload: Buffer;
  /** Number of `_DeferredTaskChunk` children holding the payload (0 when it is inline in `payload`). */
  chunks: number;
  /** Compression of `payload` / the chunks: `gzip`, `br` (Brotli), `zstd`, or `identity` (stored as they are). */
  encoding: 'gzip' | 'br' | 'zstd' | 'identity';
  /** Size of the uncompressed payload in bytes. */
  payloadBytes: number;
  /** The last attempts' outcomes, oldest first (stored as JSON, not indexed). Absent on entities of earlier versions. */
  history?: readonly AttemptRecord[];
  /** When `retried`: the full name of the Cloud Task that replays it. */
  retriedAs?: string | null;
  /** When `retried`: when it was replayed (its retention runs from then). */
  retriedAt?: Date | null;
  /** When `retried`: the key of the `_DeferredTask` entity that carries the replay, in the form `inspect` accepts. */
  retriedEntity?: string | null;
}

/** Properties of a `_DeferredTaskChunk` entity (key: child of its task entity, numeric id = 1-based index). */
export interface DeferredTaskChunkEntity {
  /** One piece of the compressed payload. Not indexed. */
  data: Buffer;
  /**
   * Its task entity's `expireAt`, for a Firestore TTL policy on this kind (TTL deletes no descendants). Not indexed:
   * the sweeper deletes chunks with their task entity and never queries them. Absent on chunks written by earlier versions.
   */
  expireAt: Date;
}

/**
 * Indexed properties of a `_DeferredTask`; the others go into `excludeFromIndexes`. `failedKey` and `failedTaskId` are
 * the failure ledger's index (see failed-index.ts): written only on `failed` (and, for `failedTaskId`, `retried`)
 * records, derived from the record when it is written.
 */
export const INDEXED_TASK_PROPERTIES = ['state', 'ageKey', 'expireAt', 'failedKey', 'failedTaskId'] as const;

const SHARD_DIGITS = 4;
const TIME_DIGITS = 15;

/** Most shards: an age key holds the shard in 4 digits. */
export const MAX_SHARDS = 10 ** SHARD_DIGITS - 1;
/** The range every shard count must be in (writers' `shards`, the sweep's, the distributed sweeper's, `--shards`). */
export const SHARD_COUNT: WholeNumberRange = { min: 1, max: MAX_SHARDS };

/** `"<shard, 4 digits>|<marker><ms, 15 digits>"`: the common form of both kinds of age key. */
function formatAgeKey(shard: number, marker: '' | 'F|', ms: number): string {
  return `${String(shard).padStart(SHARD_DIGITS, '0')}|${marker}${String(Math.max(0, Math.floor(ms))).padStart(TIME_DIGITS, '0')}`;
}

/** The shard-prefixed age key: `"0007|001764000000000"` = shard 7, created at that epoch millisecond. Sorts by shard, then age. */
export function ageKey(shard: number, createdMs: number): string {
  return formatAgeKey(shard, '', createdMs);
}

/** The range of age keys of one shard's unfinished entities created before `cutoffMs`: `lower <= ageKey < upper`. */
export function ageKeyRange(shard: number, cutoffMs: number): { lower: string; upper: string } {
  return { lower: ageKey(shard, 0), upper: ageKey(shard, cutoffMs) };
}

/**
 * The age key of a finished (`done` or `failed`) entity: `"0007|F|001764604800000"` = shard 7, may be swept from that
 * epoch millisecond ({@link finishedDueMs}). `F` sorts after every digit, so a shard's finished keys follow its
 * unfinished ones: the sweep reads a finished entity once it may be deleted, not on every sweep of its retention.
 */
export function finishedAgeKey(shard: number, dueMs: number): string {
  return formatAgeKey(shard, 'F|', dueMs);
}

const wholeMs = (ms: number) => Number.isSafeInteger(ms) && ms >= 0 && ms < 10 ** TIME_DIGITS;

/**
 * The age key of an entity that finished `done` at `finishedMs`, as its completion writes it: the
 * {@link finishedAgeKey} of its due time followed by `"|D"` and its `expireAt`
 * (`"0007|F|001764604800000|D001766592000000"`). A done entity never changes again and holds no payload and no chunks,
 * so the key alone decides it: the sweep deletes it without reading it. Sorts right after the plain finished key of
 * the same due time, so the finished ranges hold both forms. An entity whose retention or `expireAt` is not a valid
 * time gets the plain finished key (the sweep then reads it).
 */
export function doneAgeKey(
  entity: Pick<DeferredTaskEntity, 'shard' | 'retentionMs' | 'expireAt'>,
  finishedMs: number,
): string {
  const dueMs = finishedDueMs(entity, finishedMs);
  const expireAtMs = entity.expireAt.getTime();
  const plain = finishedAgeKey(entity.shard, dueMs);
  const exact = wholeMs(dueMs) && wholeMs(expireAtMs) && entity.retentionMs >= 0;
  return exact ? `${plain}|D${String(expireAtMs).padStart(TIME_DIGITS, '0')}` : plain;
}

/** When an entity finished at `finishedMs` may be swept: at the end of its retention, or at its `expireAt` if sooner. */
export function finishedDueMs(
  entity: Pick<DeferredTaskEntity, 'retentionMs' | 'expireAt'>,
  finishedMs: number,
): number {
  return Math.min(finishedMs + entity.retentionMs, entity.expireAt.getTime());
}

/** The range of one shard's finished keys due before `dueBeforeMs` (null: all of them). */
export function finishedAgeKeyRange(shard: number, dueBeforeMs: number | null): { lower: string; upper: string } {
  return { lower: finishedAgeKey(shard, 0), upper: finishedAgeKey(shard, dueBeforeMs ?? 10 ** TIME_DIGITS - 1) };
}

/** What an age key says about its entity: see {@link parseAgeKey}. */
export interface ParsedAgeKey {
  readonly shard: number;
  readonly finished: boolean;
  /** Created (unfinished), or may be swept from (finished), epoch ms. */
  readonly ms: number;
  /** Set on a {@link doneAgeKey}: the entity is `done`, and this is its `expireAt` (epoch ms). */
  readonly doneExpireAtMs?: number;
}

/** What an age key says: its shard, whether the entity is finished, the time (created, or due when finished), and whether it is done. */
export function parseAgeKey(key: string): ParsedAgeKey | null {
  const match = /^(\d+)\|(?:(F\|)(\d+)(?:\|D(\d+))?|(\d+))$/.exec(key);
  if (!match) return null;
  const shard = Number(match[1]);
  if (match[2] === undefined) return { shard, finished: false, ms: Number(match[5]) };
  const ms = Number(match[3]);
  return match[4] === undefined
    ? { shard, finished: true, ms }
    : { shard, finished: true, ms, doneExpireAtMs: Number(match[4]) };
}

/** Picks a shard for a new entity from its (random) name, so writes spread evenly across shards. */
export function shardOf(name: string, shards: number = DEFAULT_SHARDS): number {
  let hash = 2166136261;
  for (let i = 0; i < name.length; i++) {
    hash ^= name.charCodeAt(i);
    hash = Math.imul(hash, 16777619);
  }
  return (hash >>> 0) % shards;
}
