/** The state machine of entity-backed tasks: pending -> running (lease) -> done | failed, changed in transactions. */
import type { Datastore, Key } from '@google-cloud/datastore';
import { chunkKeys, fromEntity, taskEntityData, withoutKey, type StoredTask } from './task-entity.js';
import { inTransaction, isTransient } from './in-transaction.js';
import { appendHistory, boundedError } from './history.js';
import { doneAgeKey, finishedAgeKey, finishedDueMs, type AttemptRecord, type DeferredTaskEntity } from './schema.js';

/** What a delivery may do with a task entity in its current state. */
export type ClaimDecision =
  /** Run it: the entity becomes `running` with these changes. */
  | { readonly kind: 'run'; readonly next: DeferredTaskEntity }
  /** It already finished; a duplicate delivery runs nothing. */
  | { readonly kind: 'finished'; readonly state: 'done' | 'failed' | 'retried' }
  /** Another delivery holds the lease. */
  | { readonly kind: 'busy'; readonly leaseUntil: Date }
  /** A delivery of a Cloud Task scheduled at the 30-day horizon, before the task's ETA: hop forward, run nothing. */
  | { readonly kind: 'early'; readonly eta: Date }
  /** A delivery before the task's own Cloud Task was due (a replay, or a forced run that nothing vouches for): wait. */
  | { readonly kind: 'notDue'; readonly dueMs: number }
  /** A delivery of another Cloud Task than the one the task now belongs to (the one before a hop, delivered again). */
  | { readonly kind: 'stale'; readonly current: string };

/**
 * When the delivered Cloud Task was due, as the handler knows it. `scheduledMs`: its schedule time. `notBeforeMs`:
 * the time before which no delivery of it is genuine, or null when the delivery is vouched for (an authenticated
 * transport, whose ETA header says when the delivered task was scheduled: a forced run keeps its schedule time).
 */
export interface DeliverySchedule {
  readonly scheduledMs: number;
  readonly notBeforeMs: number | null;
  /** The delivered Cloud Task's id as its headers say, or null when they say nothing (a direct request). */
  readonly taskId?: string | null;
}

/** A Cloud Task scheduled more than this much before the entity's ETA is a horizon hop, not the due delivery. */
export const EARLY_TOLERANCE_MS = 60_000;

/**
 * Decides what a delivery at `nowMs` may do (pure). A `running` entity whose lease has ended may be taken over.
 * `schedule.scheduledMs` is the delivered Cloud Task's schedule time: well before the entity's ETA means a horizon
 * hop. A delivery more than {@link EARLY_TOLERANCE_MS} before `schedule.notBeforeMs` runs nothing (`notDue`), and so
 * does the delivery of a Cloud Task the entity no longer belongs to (`stale`: its id is not the entity's).
 */
export function decideClaim(
  task: DeferredTaskEntity,
  nowMs: number,
  leaseMs: number,
  schedule: DeliverySchedule = { scheduledMs: nowMs, notBeforeMs: null },
): ClaimDecision {
  // A retried record was replayed under another Cloud Task: a late delivery of its own runs nothing.
  if (task.state === 'done' || task.state === 'failed' || task.state === 'retried') {
    return { kind: 'finished', state: task.state };
  }
  if (task.state === 'running' && task.leaseUntil && task.leaseUntil.getTime() > nowMs) {
    return { kind: 'busy', leaseUntil: task.leaseUntil };
  }
  const current = task.cloudTaskName.slice(task.cloudTaskName.lastIndexOf('/') + 1);
  if (schedule.taskId && current && schedule.taskId !== current) return { kind: 'stale', current: task.cloudTaskName };
  if (task.state === 'pending') {
    if (schedule.notBeforeMs !== null && schedule.notBeforeMs > nowMs + EARLY_TOLERANCE_MS) {
      return { kind: 'notDue', dueMs: schedule.notBeforeMs };
    }
    if (task.eta.getTime() > schedule.scheduledMs + EARLY_TOLERANCE_MS) return { kind: 'early', eta: task.eta };
  }
  return {
    kind: 'run',
    next: { ...task, state: 'running', attempts: task.attempts + 1, leaseUntil: new Date(nowMs + leaseMs) },
  };
}

/** How a run ended. */
export type RunOutcome =
  | { readonly kind: 'done' }
  | { readonly kind: 'failed'; readonly error: string }
  | { readonly kind: 'retry'; readonly error: string };

/**
 * The entity after a run that claimed it as attempt `claimedAttempts` (pure). Null when the run no longer owns the
 * entity (another delivery took over after the lease ended, or it finished meanwhile): then nothing is written.
 * A done task keeps its record but drops its payload. `attempt`, when given, is appended to the record's history.
 */
export function decideCompletion(
  task: DeferredTaskEntity,
  claimedAttempts: number,
  outcome: RunOutcome,
  nowMs: number,
  attempt?: AttemptRecord,
): DeferredTaskEntity | null {
  if (task.state !== 'running' || task.attempts !== claimedAttempts) return null;
  const finished = {
    leaseUntil: null,
    finishedAt: new Date(nowMs),
    ageKey: finishedAgeKey(task.shard, finishedDueMs(task, nowMs)),
  };
  const history = attempt ? { history: appendHistory(task.history, attempt) } : {};
  switch (outcome.kind) {
    case 'done': {
      // Keyed as done: with no payload and no chunks left, the sweep can delete it from its key alone.
      const ageKey = doneAgeKey(task, nowMs);
      return { ...task, ...finished, ageKey, ...history, state: 'done', payload: Buffer.alloc(0), chunks: 0 };
    }
    case 'failed':
      return { ...task, ...finished, ...history, state: 'failed', lastError: boundedError(outcome.error) };
    case 'retry':
      return { ...task, ...history, state: 'pending', leaseUntil: null, lastError: boundedError(outcome.error) };
  }
}

/** Result of {@link claimTask}. */
export type ClaimResult =
  | { readonly kind: 'missing' }
  | (ClaimDecision & { readonly kind: 'finished' | 'busy' | 'notDue' | 'stale' })
  | { readonly kind: 'early'; readonly task: StoredTask }
  | { readonly kind: 'run'; readonly task: StoredTask };

/**
 * Reads the entity and, when the decision is `run`, marks it `running` with a lease, in one transaction. With
 * `lookupFirst` (for redeliveries, which are mostly duplicates), a plain strongly consistent lookup first answers
 * missing, finished and busy entities without a transaction (none of them can become runnable for this delivery), so
 * many deliveries of one task do not fight over its entity group.
 */
export async function claimTask(
  datastore: Datastore,
  key: Key,
  nowMs: number,
  leaseMs: number | ((task: StoredTask) => number),
  schedule: DeliverySchedule | ((task: StoredTask) => DeliverySchedule) = { scheduledMs: nowMs, notBeforeMs: null },
  options: { readonly lookupFirst?: boolean } = {},
): Promise<ClaimResult> {
  const decide = (task: StoredTask) =>
    decideClaim(
      task,
      nowMs,
      typeof leaseMs === 'number' ? leaseMs : leaseMs(task),
      typeof schedule === 'function' ? schedule(task) : schedule,
    );
  if (options.lookupFirst) {
    const [current] = await datastore.get(key);
    if (!current) return { kind: 'missing' };
    const first = decide(fromEntity(datastore, current));
    if (first.kind === 'finished' || first.kind === 'busy') return first;
  }
  return inTransaction(datastore, async (tx) => {
    const [entity] = await tx.get(key);
    if (!entity) return { kind: 'missing' } as const;
    const task = fromEntity(datastore, entity);
    const decision = decide(task);
    if (decision.kind === 'early') return { kind: 'early', task } as const;
    if (decision.kind !== 'run') return decision;
    tx.save({ key, data: taskEntityData(decision.next, key) } as never);
    return { kind: 'run', task: { ...decision.next, key } } as const;
  });
}

/**
 * True when `task` (null: the entity is gone) already shows the completion a run that claimed it as attempt
 * `claimedAttempts` would write for `outcome` (pure). Only a commit of that run can leave this (a takeover increments
 * `attempts`), so after a commit with an unknown result it means the commit was applied.
 */
export function showsCompletion(
  task: DeferredTaskEntity | null,
  claimedAttempts: number,
  outcome: RunOutcome,
  retentionMs: number,
): boolean {
  if (!task) return outcome.kind === 'done' && retentionMs === 0;
  if (task.attempts !== claimedAttempts || task.leaseUntil !== null) return false;
  const state = outcome.kind === 'retry' ? 'pending' : outcome.kind;
  return task.state === state && (state === 'pending' || task.finishedAt !== null);
}

/** Attempts after the first to record a run's outcome on a transient error (each re-reads the entity). */
export const COMPLETE_RETRIES = 5;

/**
 * Records how a claimed run ended (and `record`, the attempt, in its history), in one transaction. A done task's
 * chunks are deleted with it; with zero retention the whole entity goes. Returns false when the run no longer owned the entity (nothing written). Transient errors
 * (contention, UNAVAILABLE, DEADLINE_EXCEEDED) start the transaction over, up to {@link COMPLETE_RETRIES} times: each
 * attempt re-reads the entity, so a delivery that took the task over meanwhile is never overwritten, and a commit
 * whose answer was lost but which was applied is recognised ({@link showsCompletion}) instead of reported as lost.
 */
export async function completeTask(
  datastore: Datastore,
  key: Key,
  claimedAttempts: number,
  outcome: RunOutcome,
  nowMs: number,
  record?: AttemptRecord,
): Promise<boolean> {
  let wrote: { readonly retentionMs: number } | null = null; // an earlier attempt queued the completion
  return inTransaction(
    datastore,
    async (tx, attempt) => {
      const [entity] = await tx.get(key);
      const task = entity ? fromEntity(datastore, entity) : null;
      if (attempt.mayHaveCommitted && wrote) {
        if (showsCompletion(task && withoutKey(task), claimedAttempts, outcome, wrote.retentionMs)) return true;
      }
      if (!task) return false;
      const next = decideCompletion(withoutKey(task), claimedAttempts, outcome, nowMs, record);
      if (!next) return false;
      wrote = { retentionMs: task.retentionMs };
      if (next.state === 'done') {
        const chunks = chunkKeys(datastore, key, task.chunks);
        if (task.retentionMs === 0) {
          tx.delete([key, ...chunks]);
          return true;
        }
        if (chunks.length > 0) tx.delete(chunks);
      }
      tx.save({ key, data: taskEntityData(next, key) } as never);
      return true;
    },
    { retries: COMPLETE_RETRIES, retryOn: isTransient },
  );
}

/**
 * Updates a pending task's Cloud Task name and request (a hop to a new Cloud Task), if it is still pending. A task
 * that a delivery claimed since the hop's early decision (a forced run) is left to that run: resetting it to pending
 * would disown the run and let the hopped task run it again.
 */
export async function retargetTask(
  datastore: Datastore,
  key: Key,
  cloudTaskName: string,
  cloudTaskRequest: string,
): Promise<boolean> {
  return inTransaction(datastore, async (tx) => {
    const [entity] = await tx.get(key);
    if (!entity) return false;
    const task = withoutKey(fromEntity(datastore, entity));
    if (task.state !== 'pending') return false;
    tx.save({
      key,
      data: taskEntityData({ ...task, cloudTaskName, cloudTaskRequest }, key),
    } as never);
    return true;
  });
}
