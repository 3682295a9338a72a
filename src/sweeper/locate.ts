/**
 * Finding what a name given to `deferred inspect` is: a `_DeferredTask` key, the failure record of a Cloud Task, or a
 * Cloud Task (whose body names its entity, or carries an inline task's whole call).
 */
import type { Datastore, Key } from '@google-cloud/datastore';
import type { CloudTasksClient } from '@google-cloud/tasks';
import pLimit from 'p-limit';
import { parseEnvelope } from '../codec/index.js';
import { keyOfRef } from '../core/task-envelope.js';
import { InvalidArgumentError } from '../errors/invalid-argument.js';
import { keyOf, propertyFilter } from '../store/datastore.js';
import { parseTaskKey } from '../store/key-text.js';
import { TASK_KIND } from '../store/schema.js';

const CLOUD_TASK_NAME = /^projects\/[^/]+\/locations\/[^/]+\/queues\/([^/]+)\/tasks\/([A-Za-z0-9_-]{1,500})$/;
const CLOUD_TASK_ID = /^[A-Za-z0-9_-]{1,500}$/;
const NOT_FOUND = 5;

/** The Cloud Tasks calls {@link locateTask} makes. */
export type LocateTasksClient = Pick<CloudTasksClient, 'getTask' | 'listQueues'>;

/** A Cloud Task as found, with its body's call when it is an inline task. */
export interface FoundCloudTask {
  /** Full name. */
  readonly name: string;
  readonly scheduleTime: Date | null;
  readonly dispatchCount: number;
  readonly responseCount: number;
  /** HTTP status of its last attempt, if any. */
  readonly lastStatus: number | null;
  /** The envelope its body carries: a task name and, for inline tasks, the encoded arguments. */
  readonly envelope: ReturnType<typeof parseEnvelope> | null;
}

/** What a name turned out to be. */
export type Located =
  /** A task entity: found by its key, as the failure record of that Cloud Task id, or through its Cloud Task's body. */
  | {
      readonly kind: 'entity';
      readonly key: Key;
      readonly via: 'key' | 'failure-record' | 'cloud-task';
      readonly cloudTask?: FoundCloudTask;
    }
  /** Several failure records carry that Cloud Task id (in different queues). */
  | { readonly kind: 'records'; readonly keys: Key[] }
  /** An entity-backed Cloud Task whose entity is gone (rolled back, or swept). */
  | { readonly kind: 'entity-gone'; readonly key: Key; readonly cloudTask: FoundCloudTask }
  /** A queued inline task: no entity, the call is in the Cloud Task. */
  | { readonly kind: 'inline'; readonly cloudTask: FoundCloudTask }
  /** Nothing: what was looked at, for the message. */
  | { readonly kind: 'none'; readonly looked: readonly string[] };

function seconds(timestamp: { seconds?: unknown; nanos?: unknown } | null | undefined): Date | null {
  if (!timestamp || timestamp.seconds === undefined || timestamp.seconds === null) return null;
  return new Date(Number(timestamp.seconds) * 1000 + Math.floor(Number(timestamp.nanos ?? 0) / 1e6));
}

async function getCloudTask(tasks: LocateTasksClient, name: string): Promise<FoundCloudTask | null> {
  let task;
  try {
    [task] = await tasks.getTask({ name, responseView: 'FULL' });
  } catch (error) {
    if ((error as { code?: unknown }).code === NOT_FOUND) return null;
    throw error;
  }
  const body = task.httpRequest?.body ?? task.appEngineHttpRequest?.body;
  let envelope: FoundCloudTask['envelope'] = null;
  if (body && body.length > 0) {
    try {
      envelope = parseEnvelope(Buffer.from(body as Uint8Array));
    } catch {
      envelope = null; // not one of ours
    }
  }
  return {
    name: task.name ?? name,
    scheduleTime: seconds(task.scheduleTime as never),
    dispatchCount: Number(task.dispatchCount ?? 0),
    responseCount: Number(task.responseCount ?? 0),
    lastStatus: task.lastAttempt?.responseStatus?.code ?? null,
    envelope,
  };
}

/**
 * Finds what `text` names, in this order: the `_DeferredTask` entity with that key (name or path); the failure records
 * of a Cloud Task with that id (indexed as `failedTaskId`); the Cloud Task itself (a full name, or an id looked up in
 * every queue of the location), whose body names its entity or holds an inline task's call.
 */
export async function locateTask(
  datastore: Datastore,
  tasks: LocateTasksClient,
  text: string,
  where: { readonly projectId: string; readonly location: string; readonly namespace?: string },
): Promise<Located> {
  const value = text.trim();
  const namespace = where.namespace ?? datastore.namespace;
  const full = CLOUD_TASK_NAME.exec(value);
  const looked: string[] = [];
  if (!full) {
    let key: Key | undefined;
    try {
      key = parseTaskKey(datastore, value, namespace);
    } catch (error) {
      if (!(error instanceof InvalidArgumentError) || !CLOUD_TASK_ID.test(value)) throw error;
    }
    if (key) {
      const [entity] = await datastore.get(key);
      if (entity) return { kind: 'entity', key, via: 'key' };
      looked.push(`no _DeferredTask entity named ${value}`);
    }
  }
  const id = full ? full[2]! : value;
  if (!CLOUD_TASK_ID.test(id)) return { kind: 'none', looked };

  const query = datastore
    .createQuery(namespace ?? '', TASK_KIND)
    .filter(propertyFilter(datastore, 'failedTaskId', '=', id))
    .select('__key__');
  const [rows] = await datastore.runQuery(query);
  const records = rows.map((row) => keyOf(datastore, row));
  const inQueue = full
    ? records.filter(
        (key) =>
          String(key.name ?? '').startsWith(`failed.${full[1]}.`) || !String(key.name ?? '').startsWith('failed.'),
      )
    : records;
  if (inQueue.length === 1) return { kind: 'entity', key: inQueue[0]!, via: 'failure-record' };
  if (inQueue.length > 1) return { kind: 'records', keys: inQueue };
  looked.push(`no failure record of a Cloud Task ${id}`);

  let names: string[];
  if (full) names = [value];
  else {
    const parent = `projects/${where.projectId}/locations/${where.location}`;
    const [queues] = await tasks.listQueues({ parent });
    names = queues.map((queue) => `${queue.name}/tasks/${id}`);
  }
  const limit = pLimit(8);
  const found = (await Promise.all(names.map((name) => limit(() => getCloudTask(tasks, name))))).find(Boolean);
  looked.push(
    full
      ? `no Cloud Task ${value}`
      : `no Cloud Task ${id} in the ${names.length} queue(s) of ${where.projectId}/${where.location}`,
  );
  if (!found) return { kind: 'none', looked };
  const ref = found.envelope?.ref;
  if (!ref) return { kind: 'inline', cloudTask: found };
  const key = keyOfRef(datastore, ref);
  const [entity] = await datastore.get(key);
  return entity
    ? { kind: 'entity', key, via: 'cloud-task', cloudTask: found }
    : { kind: 'entity-gone', key, cloudTask: found };
}
