/**
 * Replaying a failure record: its stored call is deferred again as an entity-backed task whose entity is written in the
 * same transaction that checks the record is still `failed` and marks it `retried` (so a record is replayed once, however
 * many retries race), and whose Cloud Task is created after the commit (the entity is its outbox: the sweeper re-drives
 * it if that creation is lost).
 */
import type { Key } from '@google-cloud/datastore';
import pLimit from 'p-limit';
import { parseStoredRequest } from '../core/cloud-task-request.js';
import { TRACEPARENT_HEADER } from '../core/trace-context.js';
import type { ResolvedConfig } from '../core/config.js';
import type { Enqueuer, PlannedEntityTask, PreparedDefer } from '../defer/enqueue.js';
import { parseCall } from '../core/task-envelope.js';
import { queuePath, retryTaskId, taskIdOf } from '../core/task-names.js';
import { isReservedHeader, resolveDeferOptions } from '../defer/options.js';
import { InvalidArgumentError } from '../errors/invalid-argument.js';
import { TaskAlreadyExistsError } from '../errors/runtime.js';
import { describeError } from '../core/logger.js';
import { formatTaskKey } from '../store/key-text.js';
import type { NamespaceRegistry } from '../store/namespace-registry.js';
import { finishedAgeKey, finishedDueMs, type DeferredTaskEntity } from '../store/schema.js';
import {
  fromEntity,
  packPayloadAsync,
  readPayload,
  taskEntityData,
  withoutKey,
  type StoredTask,
} from '../store/task-entity.js';
import { inTransaction } from '../store/in-transaction.js';
import type { RetryOptions, RetryResult } from '../types.js';

/**
 * What a retry needs from the runtime: its configuration (clients, target, secrets, clock), its enqueuer, and the
 * registry of the other namespaces it writes task entities to (a replay is written in its record's namespace).
 */
export interface RetryDeps {
  readonly config: ResolvedConfig;
  readonly enqueuer: Enqueuer;
  readonly namespaces: NamespaceRegistry;
}

/** The replay of one record, before anything is written: its call and options, and the Cloud Task id it will get. */
interface Replay {
  readonly prepared: PreparedDefer;
  readonly taskId: string;
  readonly cloudTaskName: string;
}

/**
 * The headers, dispatch deadline and trace (`traceparent`) the failed task was created with (entity-backed records
 * store their request; an inline task's record has none, and its replay starts no trace of its own).
 */
function originalRequestOptions(record: StoredTask): {
  headers: Record<string, string>;
  dispatchDeadline?: number;
  traceparent: string | null;
} {
  if (!record.cloudTaskRequest) return { headers: {}, traceparent: null };
  try {
    const task = parseStoredRequest(record.cloudTaskRequest).task ?? {};
    const stored = (task.httpRequest?.headers ?? task.appEngineHttpRequest?.headers ?? {}) as Record<string, string>;
    const headers = Object.fromEntries(Object.entries(stored).filter(([name]) => !isReservedHeader(name)));
    const trace = Object.entries(stored).find(([name]) => name.toLowerCase() === TRACEPARENT_HEADER)?.[1] ?? null;
    const seconds = Number(task.dispatchDeadline?.seconds);
    return Number.isFinite(seconds) && seconds > 0
      ? { headers, dispatchDeadline: seconds * 1000, traceparent: trace }
      : { headers, traceparent: trace };
  } catch {
    return { headers: {}, traceparent: null };
  }
}

async function prepareReplay(deps: RetryDeps, record: StoredTask, options: RetryOptions): Promise<Replay> {
  const { config } = deps;
  const envelope = await readPayload(config.datastore, record);
  const call = parseCall(envelope, config.maxDepth);
  if (call.task !== record.task)
    throw new Error(`its stored call is for task ${call.task}, the record for ${record.task}`);
  if (call.ref) throw new Error('its stored call refers to another entity instead of holding the arguments');
  const stored = originalRequestOptions(record);
  const original = {
    headers: call.meta.headers ?? stored.headers,
    dispatchDeadline: call.meta.dispatchDeadlineMs ?? stored.dispatchDeadline,
  };
  const resolved = resolveDeferOptions(
    [
      {
        queue: record.queue,
        headers: original.headers,
        ...(original.dispatchDeadline === undefined ? {} : { dispatchDeadline: original.dispatchDeadline }),
        retention: call.meta.retentionMs ?? record.retentionMs,
        entityBacked: true,
      },
      {
        ...(options.queue === undefined ? {} : { queue: options.queue }),
        ...(options.delay === undefined ? {} : { delay: options.delay }),
        ...(options.eta === undefined ? {} : { eta: options.eta }),
      },
    ],
    { nowMs: config.clock.now(), defaultQueue: config.queue },
  );
  const taskId = retryTaskId(taskIdOf(record.cloudTaskName));
  return {
    // The replay keeps the failed task's trace, so its run shows up with the request that first deferred it.
    prepared: { task: record.task, options: resolved, envelope, meta: call.meta, traceparent: stored.traceparent },
    taskId,
    cloudTaskName: `${queuePath(config.projectId, config.location, resolved.queue)}/tasks/${taskId}`,
  };
}

/** The record marked `retried` by `planned` at `nowMs`; its retention runs from the retry. */
function retriedRecord(record: StoredTask, planned: PlannedEntityTask, nowMs: number): DeferredTaskEntity {
  return {
    ...withoutKey(record),
    state: 'retried',
    retriedAs: planned.deferral.cloudTaskName,
    retriedAt: new Date(nowMs),
    retriedEntity: formatTaskKey(planned.deferral.entityKey!),
    ageKey: finishedAgeKey(record.shard, finishedDueMs(record, nowMs)),
  };
}

/** Back to `failed` (the replay's Cloud Task name belongs to another task, so its entity was deleted). */
async function revertRetry(deps: RetryDeps, key: Key, cloudTaskName: string): Promise<void> {
  const { datastore } = deps.config;
  await inTransaction(datastore, async (tx) => {
    const [raw] = await tx.get(key);
    if (!raw) return;
    const record = fromEntity(datastore, raw);
    if (record.state !== 'retried' || record.retriedAs !== cloudTaskName) return;
    const finishedMs = (record.finishedAt ?? record.created).getTime();
    tx.save({
      key,
      data: taskEntityData(
        {
          ...withoutKey(record),
          state: 'failed',
          retriedAs: null,
          retriedAt: null,
          retriedEntity: null,
          ageKey: finishedAgeKey(record.shard, finishedDueMs(record, finishedMs)),
        },
        key,
      ),
    } as never);
  });
}

function resultOf(key: string, record: StoredTask): RetryResult | null {
  if (record.state === 'retried') {
    return {
      key,
      status: 'already-retried',
      task: record.task,
      ...(record.retriedAs ? { cloudTaskName: record.retriedAs } : {}),
      ...(record.retriedEntity ? { entityKey: record.retriedEntity } : {}),
      ...(record.retriedAt ? { retriedAt: record.retriedAt } : {}),
    };
  }
  if (record.state !== 'failed') return { key, status: 'not-failed', task: record.task, state: record.state };
  return null;
}

/** Retries one record (see {@link FailureLedger.retry}). Never throws for the record's sake: the result says. */
export async function retryFailedTask(deps: RetryDeps, key: Key, options: RetryOptions = {}): Promise<RetryResult> {
  const { config, enqueuer } = deps;
  const { datastore } = config;
  const text = formatTaskKey(key);
  const [raw] = await datastore.get(key);
  if (!raw) return { key: text, status: 'missing' };
  const record = fromEntity(datastore, raw);
  const settled = resultOf(text, record);
  if (settled) return settled;
  let replay: Replay;
  try {
    replay = await prepareReplay(deps, record, options);
  } catch (error) {
    if (error instanceof InvalidArgumentError) throw error; // a bad override: the caller's mistake, not the record's
    return { key: text, status: 'error', task: record.task, error: `cannot replay it: ${describeError(error)}` };
  }
  if (options.dryRun) {
    return { key: text, status: 'would-retry', task: record.task, cloudTaskName: replay.cloudTaskName };
  }
  const packed = await packPayloadAsync(replay.prepared.envelope, replay.prepared.options.compression);
  const planned = enqueuer.planEntityTask(replay.prepared, replay.taskId, null, true, packed, key.namespace);
  const nowMs = config.clock.now();
  let outcome: RetryResult | null;
  try {
    // The replay is written beside its record: in a tenant's namespace, that namespace is registered first (as a
    // transactional defer does), so the sweeper covers the replay and its delivery resolves there.
    await deps.namespaces.ensure(key.namespace ?? '');
    outcome = await inTransaction(datastore, async (tx) => {
      const [fresh] = await tx.get(key);
      if (!fresh) return { key: text, status: 'missing' } as const;
      const current = fromEntity(datastore, fresh);
      const other = resultOf(text, current);
      if (other) return other;
      tx.save(planned.mutations as never);
      tx.save({ key, data: taskEntityData(retriedRecord(current, planned, nowMs), key) } as never);
      return null;
    });
  } catch (error) {
    return { key: text, status: 'error', task: record.task, error: `not retried: ${describeError(error)}` };
  }
  if (outcome) return outcome;
  const retried = {
    key: text,
    task: record.task,
    cloudTaskName: planned.deferral.cloudTaskName!,
    entityKey: formatTaskKey(planned.deferral.entityKey!),
    retriedAt: new Date(nowMs),
  };
  try {
    await enqueuer.createPlanned(planned, 'throw', true);
    return { ...retried, status: 'retried', enqueued: true };
  } catch (error) {
    if (error instanceof TaskAlreadyExistsError) {
      await revertRetry(deps, key, retried.cloudTaskName).catch(() => undefined);
      return {
        key: text,
        status: 'error',
        task: record.task,
        error: `not retried: the Cloud Task name ${retried.cloudTaskName} is taken by another task (the record stays failed; retry it into another queue)`,
      };
    }
    return { ...retried, status: 'retried', enqueued: false, error: describeError(error) };
  }
}

/** Retries several records, `concurrency` at a time; one result per key, in order. */
export async function retryFailedTasks(
  deps: RetryDeps,
  keys: readonly Key[],
  options: RetryOptions = {},
): Promise<RetryResult[]> {
  const limit = pLimit(concurrencyOf(options.concurrency));
  return Promise.all(keys.map((key) => limit(() => retryFailedTask(deps, key, options))));
}

/** Checks a `concurrency` option. */
export function concurrencyOf(value: number | undefined): number {
  if (value === undefined) return 4;
  if (!Number.isInteger(value) || value < 1 || value > 100) {
    throw new InvalidArgumentError(`concurrency must be a whole number from 1 to 100, got ${String(value)}.`);
  }
  return value;
}
