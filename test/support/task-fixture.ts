// Test fixture: writes `_DeferredTask` entities (and their chunks) straight to Datastore, and their Cloud Tasks in the emulator.
import { randomBytes } from 'node:crypto';
import type { Datastore, Key } from '@google-cloud/datastore';
import type { CloudTasksClient } from '@google-cloud/tasks';
import {
  CHUNK_KIND,
  INDEXED_TASK_PROPERTIES,
  TASK_KIND,
  ageKey,
  doneAgeKey,
  finishedAgeKey,
  finishedDueMs,
  shardOf,
  type DeferredTaskEntity,
  type TaskState,
} from '../../src/store/schema.js';
import { MINUTE, DAY } from './time.js';

export const PROJECT = 'demo-deferred';
export const LOCATION = 'us-central1';

/** One entity to seed. Times are epoch ms; `cloudTask` says whether its Cloud Task is queued, never created, or deleted. */
export interface TaskSpec {
  id: string;
  state?: TaskState;
  transactional?: boolean;
  attempts?: number;
  created?: number;
  eta?: number;
  leaseUntil?: number | null;
  finishedAt?: number | null;
  retentionMs?: number;
  expireAt?: number;
  chunks?: number;
  /** Entity group parent (a transactional defer writes into the caller's group). */
  parent?: [kind: string, name: string];
  /** `queued`: the Cloud Task exists; `absent`: never created; `deleted`: created then deleted (its name stays reserved). */
  cloudTask?: 'queued' | 'absent' | 'deleted';
  /** A finished entity as earlier versions wrote it: its age key keeps its creation time instead of its due time. */
  legacyAgeKey?: boolean;
  /**
   * A done entity as the previous release keyed it: by its due time, without the done mark ({@link doneAgeKey}).
   * Always so for a done entity with chunks (a completion deletes them, so no done-keyed entity has any).
   */
  plainFinishedKey?: boolean;
}

export function queuePath(queue: string): string {
  return `projects/${PROJECT}/locations/${LOCATION}/queues/${queue}`;
}

export function taskKey(datastore: Datastore, spec: Pick<TaskSpec, 'id' | 'parent'>): Key {
  return datastore.key(spec.parent ? [...spec.parent, TASK_KIND, spec.id] : [TASK_KIND, spec.id]);
}

/** The CreateTask request the runtime stores: far-future schedule so the emulator never dispatches it during a test. */
export function createTaskRequest(queue: string, id: string, scheduleMs: number) {
  return {
    parent: queuePath(queue),
    task: {
      name: `${queuePath(queue)}/tasks/${id}`,
      scheduleTime: { seconds: Math.floor(scheduleMs / 1000), nanos: 0 },
      httpRequest: {
        url: `http://127.0.0.1:9/_deferred/tasks/sample`,
        httpMethod: 'POST' as const,
        body: Buffer.from(JSON.stringify({ key: id })).toString('base64'),
      },
    },
  };
}

/** Properties of a task entity as the schema says: indexed ones indexed, the rest excluded. */
export function taskEntityData(entity: DeferredTaskEntity) {
  const indexed = new Set<string>(INDEXED_TASK_PROPERTIES);
  return Object.entries(entity).map(([name, value]) => ({ name, value, excludeFromIndexes: !indexed.has(name) }));
}

/** Writes the specs' entities (batched, ≤500 mutations a commit) and creates or deletes their Cloud Tasks. */
export async function seedTasks(
  datastore: Datastore,
  tasks: CloudTasksClient,
  queue: string,
  specs: TaskSpec[],
  options: { now: number; shards?: number },
): Promise<Map<string, Key>> {
  const shards = options.shards ?? 4;
  const keys = new Map<string, Key>();
  let batch: { key: Key; data: unknown }[] = [];
  const flush = async () => {
    if (batch.length) await datastore.save(batch as Parameters<Datastore['save']>[0]);
    batch = [];
  };
  const farFuture = options.now + 20 * DAY; // Cloud Tasks accepts at most 30 days ahead
  for (const spec of specs) {
    const key = taskKey(datastore, spec);
    keys.set(spec.id, key);
    const created = spec.created ?? options.now - 2 * 60 * MINUTE;
    const shard = shardOf(spec.id, shards);
    const chunks = spec.chunks ?? 0;
    const request = createTaskRequest(queue, spec.id, farFuture);
    const entity: DeferredTaskEntity = {
      state: spec.state ?? 'pending',
      task: 'sample',
      queue,
      cloudTaskName: request.task.name,
      cloudTaskRequest: JSON.stringify(request),
      transactional: spec.transactional ?? false,
      created: new Date(created),
      eta: new Date(spec.eta ?? created),
      attempts: spec.attempts ?? 0,
      leaseUntil: spec.leaseUntil ? new Date(spec.leaseUntil) : null,
      lastError: null,
      finishedAt: spec.finishedAt ? new Date(spec.finishedAt) : null,
      retentionMs: spec.retentionMs ?? 0,
      shard,
      ageKey: ageKey(shard, created),
      expireAt: new Date(spec.expireAt ?? created + 30 * DAY),
      payload: chunks ? Buffer.alloc(0) : randomBytes(64),
      chunks,
      encoding: 'identity',
      payloadBytes: 64,
    };
    if ((entity.state === 'done' || entity.state === 'failed') && entity.finishedAt && !spec.legacyAgeKey) {
      // As completeTask keys it: a done entity (which it leaves without chunks) with the done mark.
      entity.ageKey =
        entity.state === 'done' && chunks === 0 && !spec.plainFinishedKey
          ? doneAgeKey(entity, entity.finishedAt.getTime())
          : finishedAgeKey(shard, finishedDueMs(entity, entity.finishedAt.getTime()));
    }
    if (batch.length + 1 + chunks > 500) await flush();
    batch.push({ key, data: taskEntityData(entity) });
    for (let i = 1; i <= chunks; i++) {
      batch.push({
        key: datastore.key([...key.path, CHUNK_KIND, i]),
        data: [{ name: 'data', value: randomBytes(32), excludeFromIndexes: true }],
      });
    }
    if (spec.cloudTask === 'queued' || spec.cloudTask === 'deleted') {
      await tasks.createTask(request);
      if (spec.cloudTask === 'deleted') await tasks.deleteTask({ name: request.task.name });
    }
  }
  await flush();
  return keys;
}

/** Ids of the specs whose task entity still exists. */
export async function remainingIds(datastore: Datastore, keys: Map<string, Key>): Promise<Set<string>> {
  const all = [...keys.values()];
  const present = new Set<string>();
  for (let i = 0; i < all.length; i += 500) {
    const [found] = await datastore.get(all.slice(i, i + 500));
    for (const entity of found as Record<string | symbol, unknown>[]) {
      present.add(String((entity[datastore.KEY] as Key).name));
    }
  }
  return present;
}

/** Number of chunk entities left in the namespace. */
export async function chunkCount(datastore: Datastore): Promise<number> {
  const [rows] = await datastore.runQuery(datastore.createQuery(CHUNK_KIND).select('__key__'));
  return rows.length;
}

/** Whether the Cloud Task of `id` exists in `queue`. */
export async function cloudTaskExists(tasks: CloudTasksClient, queue: string, id: string): Promise<boolean> {
  try {
    await tasks.getTask({ name: `${queuePath(queue)}/tasks/${id}` });
    return true;
  } catch (error) {
    if ((error as { code?: number }).code === 5) return false;
    throw error;
  }
}
