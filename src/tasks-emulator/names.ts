/** Resource names of Cloud Tasks (locations, queues, tasks): parsing, validation and generated task ids. */
import { randomBytes } from 'node:crypto';
import { HELP, MESSAGES, invalidArgument } from './rpc-errors.js';

const PROJECT = '[A-Za-z0-9\\-:.]+';
const LOCATION = '[A-Za-z0-9-]+';
const QUEUE_ID = /^[A-Za-z0-9-]{1,100}$/;
const TASK_ID = /^[A-Za-z0-9_-]{1,500}$/;
const LOCATION_RE = new RegExp(`^projects/(${PROJECT})/locations/(${LOCATION})$`);
const QUEUE_RE = new RegExp(`^(projects/${PROJECT}/locations/${LOCATION})/queues/([^/]*)$`);
const TASK_RE = new RegExp(`^(projects/${PROJECT}/locations/${LOCATION}/queues/[^/]*)/tasks/(.*)$`, 's');

/** A parsed queue name. */
export interface QueueName {
  /** `projects/P/locations/L/queues/Q` */
  readonly path: string;
  /** `projects/P/locations/L` */
  readonly parent: string;
  /** `Q` */
  readonly id: string;
}

const PROJECT_RE = new RegExp(`^projects/(${PROJECT})$`);

/** Validates `projects/P`; answers INVALID_ARGUMENT otherwise. */
export function parseProject(name: string): string {
  if (!PROJECT_RE.test(name)) throw invalidArgument('Project must be formatted: "projects/<PROJECT_ID>".');
  return name;
}

/** Validates `projects/P/locations/L`; answers INVALID_ARGUMENT otherwise. */
export function parseLocation(name: string): string {
  if (!LOCATION_RE.test(name)) throw invalidArgument(MESSAGES.invalidParent);
  return name;
}

/** Parses `projects/P/locations/L/queues/Q`; answers INVALID_ARGUMENT with the real service's message otherwise. */
export function parseQueueName(name: string): QueueName {
  const match = QUEUE_RE.exec(name);
  if (!match || !QUEUE_ID.test(match[2]!)) throw invalidArgument(MESSAGES.invalidQueueName, [HELP.queueName]);
  return { path: name, parent: match[1]!, id: match[2]! };
}

/** Parses `.../queues/Q/tasks/T` into its queue path and task id, validating the id like the real service. */
export function parseTaskName(name: string): { queuePath: string; id: string } {
  const match = TASK_RE.exec(name);
  if (!match) throw invalidArgument(MESSAGES.invalidTaskName, [HELP.taskId]);
  const [, queuePath, id] = match as unknown as [string, string, string];
  if (!TASK_ID.test(id)) throw invalidArgument(MESSAGES.invalidTaskId(id), [HELP.taskId]);
  return { queuePath, id };
}

const MIN_ID = 10n ** 18n;
const MAX_ID = 2n ** 63n - 1n;

/** A server-generated task id: a 19-digit decimal number, like the ids the real service hands out. */
export function generateTaskId(): string {
  if (poolOffset + 8 > pool.length) {
    pool = randomBytes(8 * 512);
    poolOffset = 0;
  }
  // 10^18 to 2^63 - 1: 19 digits, never a leading zero.
  const value = (pool.readBigUInt64BE(poolOffset) % (MAX_ID - MIN_ID + 1n)) + MIN_ID;
  poolOffset += 8;
  return value.toString();
}

let pool = Buffer.alloc(0);
let poolOffset = 0;
