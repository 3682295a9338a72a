/** One step of a mapper job: map batches of a query within a time budget, committing each batch with the shard's cursor, exactly once. */
import type { Datastore, Key, Query } from '@google-cloud/datastore';
import { inTransaction } from '../store/in-transaction.js';
import {
  applyPendingWrites,
  applyWrites,
  encodePendingWrites,
  pendingKey,
  type PendingWrites,
} from './pending-writes.js';
import {
  MAPPER_JOB_KIND,
  MAPPER_SHARD_KIND,
  MAX_KEPT_MESSAGES,
  type MapperJobRecord,
  type MapperShardRecord,
} from './records.js';

/** An entity as the query returns it (properties plus the key under `datastore.KEY`). */
export type QueriedEntity = Record<string | symbol, unknown>;

/** What the map function may do besides reading its entity: writes and deletes, committed with the batch. */
export interface MapperContext {
  readonly jobId: string;
  readonly shard: number;
  /** Queues an upsert, committed atomically with the batch's progress. */
  put(entity: { key: Key; data: unknown; excludeFromIndexes?: string[] }): void;
  /** Queues a delete, committed atomically with the batch's progress. */
  delete(key: Key): void;
}

/** What a step needs from the mapper's definition. */
export interface MapperStepDefinition {
  readonly name: string;
  /** The query of one shard. Must be deterministic: each step re-runs it from the stored cursor. */
  query(datastore: Datastore, shard: number): Query;
  map(entity: QueriedEntity, ctx: MapperContext): void | Promise<void>;
  readonly batchSize: number;
  readonly stepBudgetMs: number;
  readonly maxBatchesPerStep: number;
  readonly maxFailures: number;
}

/** Collaborators of a step: storage, time and how to continue. */
export interface MapperStepDeps {
  readonly datastore: Datastore;
  readonly now: () => number;
  /** Enqueues step `step` of `shard`, under a name derived from the job, shard and step (so it is idempotent). */
  enqueueStep(shard: number, step: number): Promise<void>;
  /** Called once, by the step that ends the job (success or failure). */
  finished(record: MapperJobRecord): Promise<void>;
  /** Test hook: runs after a batch's commit, before its writes are applied (a throw here simulates a crash). */
  afterCommit?: (batch: { shard: number; step: number; batch: number }) => void | Promise<void>;
}

/** How a step ended. */
export type MapperStepOutcome =
  | 'continued' // budget spent, next step enqueued
  | 'shard-done'
  | 'job-succeeded'
  | 'job-failed'
  | 'stale' // a duplicate or out-of-date delivery: did nothing
  | 'redriven'; // the step had already advanced; its successor was (re-)enqueued

export function jobKey(datastore: Datastore, jobId: string): Key {
  return datastore.key([MAPPER_JOB_KIND, jobId]);
}

export function shardKey(datastore: Datastore, jobId: string, shard: number): Key {
  return datastore.key([MAPPER_JOB_KIND, jobId, MAPPER_SHARD_KIND, shard + 1]);
}

class StaleStep extends Error {}

/**
 * Runs step `step` of one shard.
 *
 * Exactly-once, per batch: the map function's writes are computed from the batch, then ONE transaction on the job's
 * entity group (job record, shard record, pending-write chunks) checks that the shard is still at the cursor the batch
 * started from, advances the cursor and records the writes as "pending"; only then are the writes applied, as plain
 * idempotent upserts and deletes. A step that crashes after the commit re-applies the same pending writes when it is
 * retried (the same values again, so no entity is updated twice), and never maps the batch again. This keeps the
 * mapped entities out of the transaction, whose entity-group limit (25 on Datastore) a batch would exceed.
 * At the end of the budget the shard's step number advances and the next step is enqueued.
 */
export async function runMapperStep(
  deps: MapperStepDeps,
  def: MapperStepDefinition,
  jobId: string,
  shard: number,
  step: number,
): Promise<MapperStepOutcome> {
  const { datastore } = deps;
  const jKey = jobKey(datastore, jobId);
  const sKey = shardKey(datastore, jobId, shard);
  const [[job], [shardRecord]] = await Promise.all([datastore.get(jKey), datastore.get(sKey)]);
  const state = shardRecord as MapperShardRecord | undefined;
  if (!job || !state) return 'stale';
  // Writes recorded by the last committed batch may not have been applied (crash): apply them again, idempotently.
  await applyPendingWrites(datastore, sKey, state.pendingChunks ?? 0);
  if ((job as MapperJobRecord).status !== 'running' || state.status === 'done') return 'stale';
  if (state.step === step + 1) {
    await deps.enqueueStep(shard, step + 1); // our successor may have been lost after the commit that advanced us
    return 'redriven';
  }
  if (state.step !== step) return 'stale';

  const deadline = deps.now() + def.stepBudgetMs;
  let cursor = state.cursor;
  let previousChunks = state.pendingChunks ?? 0;
  for (let batch = 1; ; batch++) {
    let query = def.query(datastore, shard).limit(def.batchSize);
    if (cursor) query = query.start(cursor);
    const [entities, info] = await datastore.runQuery(query);
    const writes: PendingWrites = { puts: [], deletes: [] };
    const messages: string[] = [];
    let processed = 0;
    const ctx: MapperContext = {
      jobId,
      shard,
      put: (e) => void writes.puts.push(e),
      delete: (k) => void writes.deletes.push(k),
    };
    for (const entity of entities as QueriedEntity[]) {
      try {
        await def.map(entity, ctx);
        processed++;
      } catch (error) {
        const key = entity[datastore.KEY as unknown as symbol] as Key | undefined;
        messages.push(`${key ? key.path.join('/') : '?'}: ${(error as Error)?.message ?? String(error)}`);
      }
    }
    const exhausted = entities.length < def.batchSize || info.moreResults === 'NO_MORE_RESULTS';
    const nextCursor = info.endCursor ?? cursor;
    const chunks = encodePendingWrites(datastore, writes);

    let outcome: MapperStepOutcome | undefined;
    let finishedRecord: MapperJobRecord | undefined;
    try {
      await inTransaction(datastore, async (tx) => {
        outcome = undefined;
        finishedRecord = undefined;
        const [[j], [s]] = await Promise.all([tx.get(jKey), tx.get(sKey)]);
        const jobNow = j as MapperJobRecord | undefined;
        const shardNow = s as MapperShardRecord | undefined;
        if (
          !jobNow ||
          !shardNow ||
          jobNow.status !== 'running' ||
          shardNow.step !== step ||
          shardNow.cursor !== cursor
        ) {
          throw new StaleStep();
        }
        const now = new Date(deps.now());
        const failed = jobNow.failed + messages.length;
        const updatedJob: MapperJobRecord = {
          ...jobNow,
          processed: jobNow.processed + processed,
          failed,
          failures: [...jobNow.failures, ...messages].slice(0, MAX_KEPT_MESSAGES),
        };
        const updatedShard: MapperShardRecord = {
          ...shardNow,
          cursor: nextCursor,
          processed: shardNow.processed + processed,
          failed: shardNow.failed + messages.length,
          pendingChunks: chunks.length,
          updatedAt: now,
        };
        if (failed > def.maxFailures) {
          updatedJob.status = 'failed';
          updatedJob.finishedAt = now;
          updatedJob.message = `failed: ${failed} entities failed to map, more than maxFailures (${def.maxFailures}); first: ${updatedJob.failures[0] ?? ''}`;
          outcome = 'job-failed';
          finishedRecord = updatedJob;
        } else if (exhausted) {
          updatedShard.status = 'done';
          updatedJob.shardsDone = jobNow.shardsDone + 1;
          if (updatedJob.shardsDone >= updatedJob.shards) {
            updatedJob.status = 'succeeded';
            updatedJob.finishedAt = now;
            updatedJob.message = `succeeded: ${updatedJob.processed} mapped, ${failed} failed`;
            outcome = 'job-succeeded';
            finishedRecord = updatedJob;
          } else {
            outcome = 'shard-done';
          }
        } else {
          updatedJob.message = `running: ${updatedJob.processed} mapped, ${failed} failed`;
        }
        for (let i = chunks.length; i < previousChunks; i++) tx.delete(pendingKey(datastore, sKey, i));
        chunks.forEach((data, i) =>
          tx.save({ key: pendingKey(datastore, sKey, i), data: { data }, excludeFromIndexes: ['data'] }),
        );
        tx.save({ key: jKey, data: updatedJob, excludeFromIndexes: ['failures[]', 'message'] });
        tx.save({ key: sKey, data: updatedShard, excludeFromIndexes: ['cursor'] });
      });
    } catch (error) {
      if (error instanceof StaleStep) return 'stale';
      throw error;
    }
    previousChunks = chunks.length;
    await deps.afterCommit?.({ shard, step, batch });
    await applyWrites(datastore, writes);
    cursor = nextCursor;
    if (outcome) {
      if (finishedRecord) await deps.finished(finishedRecord);
      return outcome;
    }
    if (deps.now() >= deadline || batch >= def.maxBatchesPerStep) break;
  }

  // Budget spent: advance the step number, then enqueue the successor (a retry of this step re-enqueues it, see above).
  const advanced = await inTransaction(datastore, async (tx) => {
    const [s] = await tx.get(sKey);
    const shardNow = s as MapperShardRecord | undefined;
    if (!shardNow || shardNow.step !== step || shardNow.cursor !== cursor) return false;
    tx.save({
      key: sKey,
      data: { ...shardNow, step: step + 1, updatedAt: new Date(deps.now()) },
      excludeFromIndexes: ['cursor'],
    });
    return true;
  });
  if (!advanced) return 'stale';
  await deps.enqueueStep(shard, step + 1);
  return 'continued';
}

/** Creates the job record and its shard records; fails if a job with this id exists. Returns false when it exists. */
export async function createMapperJob(
  datastore: Datastore,
  mapper: string,
  jobId: string,
  shards: number,
  now: number,
): Promise<boolean> {
  return inTransaction(datastore, async (tx) => {
    const [existing] = await tx.get(jobKey(datastore, jobId));
    if (existing) return false;
    const record: MapperJobRecord = {
      type: 'mapper',
      mapper,
      status: 'running',
      shards,
      shardsDone: 0,
      processed: 0,
      failed: 0,
      failures: [],
      startedAt: new Date(now),
      finishedAt: null,
      message: 'running: started',
    };
    tx.save({ key: jobKey(datastore, jobId), data: record, excludeFromIndexes: ['failures[]', 'message'] });
    for (let shard = 0; shard < shards; shard++) {
      const shardRecord: MapperShardRecord = {
        status: 'running',
        step: 1,
        cursor: null,
        processed: 0,
        failed: 0,
        pendingChunks: 0,
        updatedAt: new Date(now),
      };
      tx.save({ key: shardKey(datastore, jobId, shard), data: shardRecord, excludeFromIndexes: ['cursor'] });
    }
    return true;
  });
}
