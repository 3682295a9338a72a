/** Names: registered task names, Cloud Task ids (random, user-given, chained children, hops) and resource paths. */
import { createHash, randomFillSync } from 'node:crypto';
import { InvalidArgumentError } from '../errors/invalid-argument.js';

const TASK_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,199}$/;
const CLOUD_TASK_ID = /^[A-Za-z0-9_-]{1,500}$/;
const QUEUE_ID = /^[A-Za-z0-9-]{1,100}$/;
/** Longest derived (child or hop) id kept readable; longer ones are hashed so chains never outgrow Cloud Tasks' 500. */
const READABLE_ID_MAX = 120;

/** Checks a registered task name: it becomes a URL path segment and a log field. */
export function checkTaskName(name: string): string {
  if (typeof name !== 'string' || !TASK_NAME.test(name)) {
    throw new InvalidArgumentError(
      `task name ${JSON.stringify(name)} is not valid: use 1-200 letters, digits, '_', '.' or '-', not starting with '.' or '-' (e.g. 'sendReport' or 'Report.generate').`,
    );
  }
  return name;
}

/** Checks a user-chosen Cloud Task id (the `name` option). */
export function checkCloudTaskId(id: string, what = 'name'): string {
  if (typeof id !== 'string' || !CLOUD_TASK_ID.test(id)) {
    throw new InvalidArgumentError(
      `${what} ${JSON.stringify(id)} is not a valid Cloud Task id: use 1-500 letters, digits, '-' or '_'.`,
    );
  }
  return id;
}

/** Checks a queue id (short form, e.g. `default`). */
export function checkQueueId(id: string): string {
  if (typeof id !== 'string' || !QUEUE_ID.test(id)) {
    throw new InvalidArgumentError(
      `queue ${JSON.stringify(id)} is not a valid queue id: use 1-100 letters, digits or '-' (the short id, not the full path).`,
    );
  }
  return id;
}

/** A fresh random id (32 hex characters): for entity keys and Cloud Tasks we must name before creating. */
export function randomId(): string {
  // One call into the CSPRNG per 256 ids: a call costs about as much as 16 bytes from it (deferMany names thousands).
  if (randomOffset === RANDOM_POOL.length) {
    randomFillSync(RANDOM_POOL);
    randomOffset = 0;
  }
  randomOffset += 16;
  return RANDOM_POOL.toString('hex', randomOffset - 16, randomOffset);
}

const RANDOM_POOL = Buffer.allocUnsafe(16 * 256);
let randomOffset = RANDOM_POOL.length;

function derived(base: string, suffix: string): string {
  const id = `${base}-${suffix}`;
  if (id.length <= READABLE_ID_MAX) return id;
  return `${createHash('sha256').update(base).digest('hex').slice(0, 40)}-${suffix}`;
}

/**
 * The deterministic id of the `seq`-th (1-based) task deferred while the task `parentId` ran. A retried parent derives
 * the same ids again, so Cloud Tasks' name de-duplication keeps its chain from forking.
 */
export function childTaskId(parentId: string, seq: number): string {
  return derived(parentId, String(seq));
}

/** The deterministic id of the next hop of a task scheduled beyond Cloud Tasks' horizon (`x` -> `x-h1` -> `x-h2`). */
export function hopTaskId(currentId: string): string {
  const match = /^(.*)-h(\d+)$/.exec(currentId);
  if (match) return derived(match[1]!, `h${Number(match[2]) + 1}`);
  return derived(currentId, 'h1');
}

/**
 * The deterministic id of the Cloud Task that replays a failed task (`x` -> `x-r1`; a replay's own failure -> `x-r2`;
 * a hop suffix is dropped first, so `x-r1-h2` -> `x-r2`). Each failure record is replayed at most once, so its replay's
 * name is used once, and a dry run can say it in advance.
 */
export function retryTaskId(failedId: string): string {
  const base = failedId.replace(/-h\d+$/, '');
  const match = /^(.*)-r(\d+)$/.exec(base);
  if (match) return derived(match[1]!, `r${Number(match[2]) + 1}`);
  return derived(base, 'r1');
}

/** `projects/<p>/locations/<l>/queues/<q>`. */
export function queuePath(projectId: string, location: string, queue: string): string {
  return `projects/${projectId}/locations/${location}/queues/${queue}`;
}

/** Last segment of a full Cloud Task name (its id). */
export function taskIdOf(cloudTaskName: string): string {
  const slash = cloudTaskName.lastIndexOf('/');
  return slash < 0 ? cloudTaskName : cloudTaskName.slice(slash + 1);
}

/** The queue id inside a full Cloud Task or queue name, or undefined. */
export function queueIdOf(name: string): string | undefined {
  return /\/queues\/([^/]+)/.exec(name)?.[1];
}
