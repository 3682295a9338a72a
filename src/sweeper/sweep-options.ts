/** The sweep's options: what a caller passes (`SweepOptions`, `SweepShardOptions`), checked and defaulted once into a {@link ResolvedSweep}. */
import type { Datastore } from '@google-cloud/datastore';
import pLimit, { type LimitFunction } from 'p-limit';
import { jsonLogger, log } from '../core/logger.js';
import { InvalidArgumentError } from '../errors/invalid-argument.js';
import { DEFAULT_SHARDS, SHARD_COUNT } from '../store/schema.js';
import type { LogEntry, Logger } from '../types.js';
import { optionalWholeNumber } from '../util/whole-number.js';
import type { SweeperTasksClient } from './cloud-tasks.js';
import type { RetentionRules } from './decide.js';
import type { GuardedDeleteLimits } from './guarded-delete.js';
import type { SweepStats } from './sweep-stats.js';

/** The sweep's default logger: JSON lines, INFO and above, marked as the sweeper's. */
export const SWEEP_LOGGER: Logger = jsonLogger({
  minSeverity: 'INFO',
  fields: { component: 'cloud-deferred/sweeper' },
});

/** Default grace past a task's ETA before a missing Cloud Task counts as gone: 10 minutes. */
export const DEFAULT_GRACE_MS = 10 * 60_000;

/** Options shared by `sweepShard()` and `sweep()`. */
export interface SweepOptions {
  /** The Datastore client (its namespace is used unless `namespace` is given). */
  datastore: Datastore;
  /** The official Cloud Tasks client (only `getTask` and `createTask` are used). */
  tasks: SweeperTasksClient;
  /**
   * The runtime's own namespace. `sweep()` and the distributed sweep cover it and every namespace in its registry (the
   * namespaces the runtime writes task entities to: tenants' entity groups of transactional defers); `sweepShard()`
   * sweeps this namespace only.
   * @default the client's namespace
   */
  namespace?: string;
  /** More namespaces `sweep()` and the distributed sweep cover (their task entities). @default [] */
  namespaces?: readonly string[];
  /**
   * `sweep()` and the distributed sweep also cover every namespace a `__namespace__` query lists, where the store
   * answers one (Datastore, Firestore in Datastore mode and the Datastore emulator do; the Firestore emulator does
   * not): once after upgrading, for task entities written in other namespaces before the registry existed. It covers
   * every namespace of the database, other applications' too.
   * @default false
   */
  discoverNamespaces?: boolean;
  /**
   * Number of shards entities are written with; also decides which shard sweeps each other underscore kind.
   * @default 16
   */
  shards?: number;
  /** The sweep's "now" (fixed for the whole sweep, which only makes it more conservative). @default new Date() */
  now?: Date;
  /**
   * Only entities created longer ago than this are scanned (the range query's cut-off), in milliseconds.
   * @default graceMs
   */
  olderThanMs?: number;
  /**
   * How long past its ETA an unfinished task may be missing from Cloud Tasks before it counts as gone (an enqueue in
   * flight, clock skew), in milliseconds.
   * @default 600000 (10 minutes)
   */
  graceMs?: number;
  /** Per-state retention overrides for finished entities. @default each entity's own `retentionMs` */
  retention?: RetentionRules;
  /** Decide and count, but change nothing (no delete, no re-drive). @default false */
  dryRun?: boolean;
  /** Most concurrent Cloud Tasks look-ups and re-drives. @default 16 */
  concurrency?: number;
  /** Most concurrent guarded delete transactions. @default 4 */
  commitConcurrency?: number;
  /**
   * Task entities read at a time (entities carry payloads of up to ~900 KB). The scan's pages hold 5 times as many age
   * keys, at most 500.
   * @default 100
   */
  pageSize?: number;
  /**
   * Most pages of task entities held at once across the shards of one `sweep()`: with `pageSize`, this bounds memory
   * (done entities carry no payload; pending, running and failed ones do).
   * @default 4
   */
  pageConcurrency?: number;
  /** Other underscore-prefixed kinds to sweep by `expireAt`, in addition to discovered ones. @default [] */
  kinds?: readonly string[];
  /** Find other underscore kinds with a `__kind__` query where the store answers it. @default true */
  discoverKinds?: boolean;
  /** Limits of one guarded delete transaction. @default 500 mutations, 25 entity groups */
  limits?: GuardedDeleteLimits;
  /**
   * Receives the sweep's structured log entries (the runtime's {@link Logger}: Cloud Logging severities).
   * @default JSON lines, INFO and above, with `component: 'cloud-deferred/sweeper'` (stdout; stderr from WARNING)
   */
  log?: Logger;
  /**
   * Called as a shard goes (once each page is judged, after its Cloud Tasks look-ups, after each page) with the
   * shard's running totals (and its namespace, `''` for the default one), and with `done` once the shard is finished
   * (the CLI's progress bar).
   */
  onProgress?: (progress: { namespace: string; shard: number; stats: SweepStats; done: boolean }) => void;
  /** Stops the sweep between operations; the promise then rejects with the signal's reason. */
  signal?: AbortSignal;
}

/** Options of `sweepShard()`. */
export interface SweepShardOptions extends SweepOptions {
  /** The shard to sweep, 0 <= shard. */
  shard: number;
  /** Continue where a previous call stopped (its `cursor`); null or absent to start. */
  cursor?: string | null;
  /** Stop after this many milliseconds of work (checked after each page) and return a cursor. @default Infinity */
  budgetMs?: number;
}

/** A sweep's options, checked and with every default applied: what every part of the sweep reads. */
export interface ResolvedSweep {
  readonly datastore: Datastore;
  readonly tasks: SweeperTasksClient;
  /** The namespace swept (undefined: the default namespace). */
  readonly namespace: string | undefined;
  readonly shards: number;
  readonly nowMs: number;
  readonly graceMs: number;
  readonly olderThanMs: number;
  readonly retention: RetentionRules | undefined;
  readonly dryRun: boolean;
  readonly concurrency: number;
  readonly commitConcurrency: number;
  readonly pageSize: number;
  readonly pageConcurrency: number;
  readonly kinds: readonly string[];
  readonly discoverKinds: boolean;
  readonly limits: GuardedDeleteLimits | undefined;
  readonly logger: Logger;
  /** Writes one entry to `logger` (a failing logger never fails the sweep). */
  readonly log: (entry: LogEntry) => void;
  readonly onProgress: SweepOptions['onProgress'];
  readonly signal: AbortSignal | undefined;
}

function nonNegativeMs(value: number | undefined, fallback: number, what: string): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value < 0) {
    throw new InvalidArgumentError(`${what} must be a non-negative number of milliseconds, got ${value}.`);
  }
  return value;
}

/** Checks a sweep's options and applies the defaults, once (`sweep()` hands the result to each shard). */
export function resolveSweepOptions(options: SweepOptions): ResolvedSweep {
  const graceMs = nonNegativeMs(options.graceMs, DEFAULT_GRACE_MS, 'graceMs');
  const logger = options.log ?? SWEEP_LOGGER;
  return {
    datastore: options.datastore,
    tasks: options.tasks,
    namespace: options.namespace ?? options.datastore.namespace,
    shards: optionalWholeNumber(options.shards, DEFAULT_SHARDS, 'shards', SHARD_COUNT),
    nowMs: (options.now ?? new Date()).getTime(),
    graceMs,
    olderThanMs: nonNegativeMs(options.olderThanMs, graceMs, 'olderThanMs'),
    retention: options.retention,
    dryRun: options.dryRun === true,
    concurrency: optionalWholeNumber(options.concurrency, 16, 'concurrency', { min: 1 }),
    commitConcurrency: optionalWholeNumber(options.commitConcurrency, 4, 'commitConcurrency', { min: 1 }),
    pageSize: optionalWholeNumber(options.pageSize, 100, 'pageSize', { min: 1 }),
    pageConcurrency: optionalWholeNumber(options.pageConcurrency, 4, 'pageConcurrency', { min: 1 }),
    kinds: options.kinds ?? [],
    discoverKinds: options.discoverKinds !== false,
    limits: options.limits,
    logger,
    log: (entry) => log(logger, entry),
    onProgress: options.onProgress,
    signal: options.signal,
  };
}

/** Which shard to sweep, from where, for how long. */
export interface ShardTarget {
  readonly shard: number;
  readonly cursor: string | null;
  readonly budgetMs: number;
}

/** Checks the shard-specific options of `sweepShard()`. */
export function resolveShardTarget(options: SweepShardOptions): ShardTarget {
  const shard = optionalWholeNumber(options.shard, 0, 'shard', { min: 0 });
  const budgetMs = options.budgetMs ?? Infinity;
  if (!(budgetMs >= 0)) throw new InvalidArgumentError(`budgetMs must be >= 0, got ${options.budgetMs}.`);
  return { shard, cursor: options.cursor ?? null, budgetMs };
}

/**
 * The sweep's concurrency limits (p-limit): Cloud Tasks look-ups and re-drives, delete commits, and pages of whole
 * entities held at once. One set per `sweep()`, shared by its shards; internal, never an option.
 */
export interface SweepLimiters {
  readonly lookup: LimitFunction;
  readonly commit: LimitFunction;
  readonly page: LimitFunction;
}

/** A fresh set of limiters for one sweep. */
export function limitersFor(sweep: ResolvedSweep): SweepLimiters {
  return {
    lookup: pLimit(sweep.concurrency),
    commit: pLimit(sweep.commitConcurrency),
    page: pLimit(sweep.pageConcurrency),
  };
}
