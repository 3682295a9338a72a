/** The persistent records of long-running work: mapper jobs (with one record per shard) and recurring jobs. Ordinary kinds, never swept. */

/** Kind of a mapper job's record; key name = job id. */
export const MAPPER_JOB_KIND = 'DeferredMapperJob';
/** Kind of one shard of a mapper job; child of the job record, numeric id = shard index + 1. */
export const MAPPER_SHARD_KIND = 'DeferredMapperShard';
/** Kind of the chunks of a shard's last batch of writes, kept so a retried step can re-apply them; child of the shard record. */
export const MAPPER_PENDING_KIND = 'DeferredMapperPending';
/** Kind of a recurring job's record; key name = job name. */
export const RECURRING_JOB_KIND = 'DeferredRecurringJob';

/** Most failure messages kept on a record (the count keeps going). */
export const MAX_KEPT_MESSAGES = 20;

/** Where a mapper job is. */
export type MapperJobStatus = 'running' | 'succeeded' | 'failed';

/** A mapper job's record: what `deferred jobs show` prints. */
export interface MapperJobRecord {
  /** Always `mapper`. */
  type: 'mapper';
  /** Registered mapper name. */
  mapper: string;
  status: MapperJobStatus;
  shards: number;
  shardsDone: number;
  /** Entities mapped successfully, over all shards. */
  processed: number;
  /** Entities whose map function threw, over all shards. */
  failed: number;
  /** The first {@link MAX_KEPT_MESSAGES} failure messages (`<key>: <message>`). */
  failures: string[];
  startedAt: Date;
  finishedAt: Date | null;
  /** Why the job ended as it did (or what it is doing). */
  message: string;
}

/** One shard's progress: the cursor and step number its chain continues from. */
export interface MapperShardRecord {
  status: 'running' | 'done';
  /** Number of the step that is due to run next (1-based); a delivery of any other step is stale. */
  step: number;
  /** Query cursor to continue from; null at the start. */
  cursor: string | null;
  processed: number;
  failed: number;
  /** Number of `DeferredMapperPending` children holding the last batch's writes (re-applied by a retried step). */
  pendingChunks: number;
  updatedAt: Date;
}

/** A recurring job's record: what `deferred jobs list` prints. */
export interface RecurringJobRecord {
  type: 'recurring';
  enabled: boolean;
  /** `idle` between runs, `running` during one. */
  status: 'idle' | 'running';
  /** Human-readable schedule (`every 1h`, `cron 0 3 * * * (UTC)`). */
  schedule: string;
  /** The schedule as JSON (`{"every":"1h"}` or `{"cron":"0 3 * * *","timeZone":"UTC"}`), so the CLI can enable the job. */
  scheduleSpec: string;
  /** Queue of the job's ticks. */
  queue: string;
  /** Id of the one live chain of scheduled ticks; a tick carrying another id is stale and stops. */
  chain: string;
  /** When the next run is due; null when disabled. */
  nextDue: Date | null;
  lastRunStarted: Date | null;
  lastRunFinished: Date | null;
  lastRunSucceeded: boolean | null;
  lastRunMessage: string | null;
  runs: number;
}
