/** The semantics of every Cloud Tasks RPC over the emulator's in-memory queues and tasks (transport-independent). */
import type { Clock } from './clock.js';
import type { Dispatcher } from './dispatcher.js';
import { generateTaskId, parseLocation, parseProject, parseQueueName, parseTaskName } from './names.js';
import { targetUrl } from './http-target.js';
import { applyQueueUpdate, queueConfigFrom, type QueueDefaults, type QueueInput } from './queue-config.js';
import { applyReadMask, queueStats } from './queue-view.js';
import { isReserved, newQueueRecord, queueToMessage, reserve, type QueueRecord } from './queue-record.js';
import { MESSAGES, alreadyExists, failedPrecondition, invalidArgument, notFound } from './rpc-errors.js';
import { newTaskRecord, taskToMessage, type TaskInput, type TaskRecord } from './task-record.js';

export interface EngineOptions {
  readonly clock: Clock;
  readonly autoCreateQueues: boolean;
  readonly tombstoneMs: number;
  readonly queueTombstoneMs: number;
  readonly minDispatchDeadlineMs: number;
  readonly appEngineBaseUrl: string | undefined;
}

type View = 'BASIC' | 'FULL';
const viewOf = (value: unknown): View => (value === 'FULL' ? 'FULL' : 'BASIC');

const MAX_TASKS_PAGE = 1000;
const MAX_QUEUES_PAGE = 9800;

function encodePageToken(scope: string, after: string): string {
  return Buffer.from(JSON.stringify({ s: scope, a: after })).toString('base64url');
}

function decodePageToken(token: string, scope: string): string | undefined {
  if (!token) return undefined;
  try {
    const parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { s?: unknown; a?: unknown };
    if (parsed.s === scope && typeof parsed.a === 'string') return parsed.a;
  } catch {
    // fall through
  }
  throw invalidArgument('Invalid page_token: pass the next_page_token of a previous response to the same request.');
}

function pageSizeOf(value: unknown, max: number): number {
  const size = Number(value ?? 0);
  if (!Number.isInteger(size) || size < 0) throw invalidArgument(`page_size must be >= 0, got ${String(value)}.`);
  return size === 0 ? max : Math.min(size, max);
}

/** A google.cloud.location.Location message for `projects/P/locations/L`. */
function locationMessage(name: string) {
  const locationId = name.slice(name.lastIndexOf('/') + 1);
  return { name, locationId, displayName: locationId, labels: { 'cloud.googleapis.com/region': locationId } };
}

/** The emulator's state and RPC semantics. Every method answers like the real RPC or throws an RpcError. */
export class TasksEngine {
  private readonly queues = new Map<string, QueueRecord>();
  private readonly queueTombstones = new Map<string, number>();
  private dispatcher!: Dispatcher;

  private readonly defaults: QueueDefaults;

  constructor(private readonly options: EngineOptions) {
    this.defaults = { tombstoneMs: options.tombstoneMs };
  }

  /** Connects the dispatcher (they reference each other). */
  attach(dispatcher: Dispatcher): void {
    this.dispatcher = dispatcher;
  }

  now(): number {
    return this.options.clock.now();
  }

  // ---- queues ---------------------------------------------------------------------------------------------------

  private lookupQueue(path: string): QueueRecord {
    const parsed = parseQueueName(path);
    const queue = this.queues.get(parsed.path);
    if (queue) return queue;
    throw notFound(MESSAGES.queueNotFound);
  }

  /** The queue of a task RPC, created on the fly when autoCreateQueues is on (unless its name is reserved). */
  queueForTasks(path: string): QueueRecord {
    const parsed = parseQueueName(path);
    const queue = this.queues.get(parsed.path);
    if (queue) return queue;
    if (this.options.autoCreateQueues && !isReserved(this.queueTombstones, parsed.path, this.now())) {
      return this.insertQueue(parsed.path, parsed.parent, parsed.id, queueConfigFrom({}, this.defaults));
    }
    throw notFound(MESSAGES.queueNotFound);
  }

  private insertQueue(path: string, parent: string, id: string, config: QueueRecord['config']): QueueRecord {
    const queue = newQueueRecord(path, parent, id, config, this.now());
    this.queues.set(path, queue);
    return queue;
  }

  createQueue(req: { parent?: string; queue?: QueueInput | null }) {
    const parent = req.parent ?? '';
    parseLocation(parent);
    const input = req.queue ?? {};
    const parsed = parseQueueName(input.name ?? '');
    if (parsed.parent !== parent) {
      throw invalidArgument(
        `The queue name ('${parsed.path}') must be in the location of the request's parent ('${parent}').`,
      );
    }
    if (this.queues.has(parsed.path)) throw alreadyExists(MESSAGES.queueAlreadyExists);
    if (isReserved(this.queueTombstones, parsed.path, this.now())) {
      throw failedPrecondition(MESSAGES.queueRecentlyDeleted);
    }
    const queue = this.insertQueue(parsed.path, parsed.parent, parsed.id, queueConfigFrom(input, this.defaults));
    return queueToMessage(queue);
  }

  /** A queue as GetQueue and ListQueues answer it: every field but `stats`, or the fields of the read mask (v2beta3). */
  private queueView(queue: QueueRecord, readMask: { paths?: string[] } | null | undefined) {
    const paths = readMask?.paths ?? [];
    if (paths.length === 0) return queueToMessage(queue);
    this.expireTasks(queue);
    return applyReadMask({ ...queueToMessage(queue), stats: queueStats(queue, this.now()) }, paths);
  }

  getQueue(req: { name?: string; readMask?: { paths?: string[] } | null }) {
    return this.queueView(this.lookupQueue(req.name ?? ''), req.readMask);
  }

  listQueues(req: {
    parent?: string;
    filter?: string;
    pageSize?: number;
    pageToken?: string;
    readMask?: { paths?: string[] } | null;
  }) {
    const parent = parseLocation(req.parent ?? '');
    let state: string | undefined;
    const filter = (req.filter ?? '').trim();
    if (filter) {
      const match = /^state\s*[:=]\s*"?([A-Z_]+)"?$/.exec(filter);
      if (!match) throw invalidArgument(`Unsupported filter "${filter}"; the emulator understands "state: PAUSED".`);
      state = match[1];
    }
    const size = pageSizeOf(req.pageSize, MAX_QUEUES_PAGE);
    const after = decodePageToken(req.pageToken ?? '', `queues:${parent}:${filter}`);
    const matching = [...this.queues.values()]
      .filter((q) => q.parent === parent && (state === undefined || q.state === state))
      .filter((q) => after === undefined || q.path > after)
      .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    const page = matching.slice(0, size);
    const more = matching.length > size;
    return {
      queues: page.map((queue) => this.queueView(queue, req.readMask)),
      nextPageToken: more ? encodePageToken(`queues:${parent}:${filter}`, page[page.length - 1]!.path) : '',
    };
  }

  updateQueue(req: { queue?: QueueInput | null; updateMask?: { paths?: string[] } | null }) {
    const input = req.queue ?? {};
    const parsed = parseQueueName(input.name ?? '');
    const paths = req.updateMask?.paths ?? [];
    const existing = this.queues.get(parsed.path);
    if (!existing) {
      // UpdateQueue creates the queue when it does not exist, like the real service.
      if (isReserved(this.queueTombstones, parsed.path, this.now())) {
        throw failedPrecondition(MESSAGES.queueRecentlyDeleted);
      }
      const config = applyQueueUpdate(queueConfigFrom({}, this.defaults), input, paths, this.defaults);
      return queueToMessage(this.insertQueue(parsed.path, parsed.parent, parsed.id, config));
    }
    existing.config = applyQueueUpdate(existing.config, input, paths, this.defaults);
    existing.tokens = Math.min(existing.tokens, existing.config.rate.maxBurstSize);
    this.dispatcher.pump(existing);
    return queueToMessage(existing);
  }

  deleteQueue(req: { name?: string }) {
    const parsed = parseQueueName(req.name ?? '');
    const queue = this.queues.get(parsed.path);
    if (!queue) throw notFound(MESSAGES.entityNotFound);
    queue.deleted = true;
    this.dispatcher.sleep(queue);
    for (const task of queue.tasks.values()) task.alive = false;
    queue.tasks.clear();
    queue.schedule.clear();
    this.queues.delete(parsed.path);
    reserve(this.queueTombstones, parsed.path, this.now() + this.options.queueTombstoneMs, this.now());
    return {};
  }

  purgeQueue(req: { name?: string }) {
    const queue = this.lookupQueue(req.name ?? '');
    const now = this.now();
    for (const task of queue.tasks.values()) {
      task.alive = false;
      reserve(queue.tombstones, task.name, now + queue.config.tombstoneTtlMs, now);
    }
    queue.tasks.clear();
    queue.schedule.clear();
    queue.purgeMs = now;
    this.dispatcher.sleep(queue);
    return queueToMessage(queue);
  }

  pauseQueue(req: { name?: string }) {
    const queue = this.lookupQueue(req.name ?? '');
    queue.state = 'PAUSED';
    this.dispatcher.sleep(queue);
    return queueToMessage(queue);
  }

  resumeQueue(req: { name?: string }) {
    const queue = this.lookupQueue(req.name ?? '');
    queue.state = 'RUNNING';
    this.dispatcher.pump(queue);
    return queueToMessage(queue);
  }

  // ---- tasks ----------------------------------------------------------------------------------------------------

  createTask(req: { parent?: string; task?: TaskInput | null; responseView?: string }) {
    const queue = this.queueForTasks(req.parent ?? '');
    const input = req.task;
    if (!input) throw invalidArgument('CreateTaskRequest.task is required.');
    if (queue.config.type === 'PULL') {
      throw failedPrecondition('Tasks cannot be created in a PULL queue through the Cloud Tasks API.');
    }
    const now = this.now();
    let name: string;
    let id: string;
    if (input.name) {
      const parsed = parseTaskName(input.name);
      if (parsed.queuePath !== queue.path) throw invalidArgument(MESSAGES.queueMismatch(queue.path, parsed.queuePath));
      name = input.name;
      id = parsed.id;
      if (queue.tasks.has(name) || isReserved(queue.tombstones, name, now)) {
        throw alreadyExists(MESSAGES.taskAlreadyExists);
      }
    } else {
      do {
        id = generateTaskId();
        name = `${queue.path}/tasks/${id}`;
      } while (queue.tasks.has(name) || queue.tombstones.has(name));
    }
    const task = newTaskRecord(input, {
      name,
      id,
      queuePath: queue.path,
      nowMs: now,
      minDispatchDeadlineMs: this.options.minDispatchDeadlineMs,
      queueRoutingOverride: queue.config.appEngineRoutingOverride,
      appEngineBaseUrl: this.options.appEngineBaseUrl,
      queueTargetUrl: targetUrl(queue.config.httpTarget),
    });
    queue.tasks.set(name, task);
    const message = taskToMessage(task, viewOf(req.responseView));
    this.dispatcher.schedule(queue, task);
    return message;
  }

  /** The live task of a task RPC; `recentlyDeletedMessage` distinguishes GetTask's answer for a reserved name. */
  private lookupTask(name: string, recentlyDeletedMessage = false): { queue: QueueRecord; task: TaskRecord } {
    const parsed = parseTaskName(name);
    const queue = this.queues.get(parsed.queuePath);
    const task = queue?.tasks.get(name);
    if (queue && task && this.isExpired(queue, task)) this.retire(queue, task);
    else if (queue && task) return { queue, task };
    if (recentlyDeletedMessage && queue && isReserved(queue.tombstones, name, this.now())) {
      throw notFound(MESSAGES.taskRecentlyDeleted);
    }
    throw notFound(MESSAGES.entityNotFound);
  }

  getTask(req: { name?: string; responseView?: string }) {
    return taskToMessage(this.lookupTask(req.name ?? '', true).task, viewOf(req.responseView));
  }

  listTasks(req: { parent?: string; responseView?: string; pageSize?: number; pageToken?: string }) {
    const queue = this.queueForTasks(req.parent ?? '');
    this.expireTasks(queue);
    const size = pageSizeOf(req.pageSize, MAX_TASKS_PAGE);
    const after = decodePageToken(req.pageToken ?? '', `tasks:${queue.path}`);
    const names = [...queue.tasks.keys()].filter((n) => after === undefined || n > after).sort();
    const page = names.slice(0, size);
    const view = viewOf(req.responseView);
    return {
      tasks: page.map((n) => taskToMessage(queue.tasks.get(n)!, view)),
      nextPageToken: names.length > size ? encodePageToken(`tasks:${queue.path}`, page[page.length - 1]!) : '',
    };
  }

  deleteTask(req: { name?: string }) {
    const { queue, task } = this.lookupTask(req.name ?? '');
    this.retire(queue, task);
    return {};
  }

  runTask(req: { name?: string; responseView?: string }) {
    const { queue, task } = this.lookupTask(req.name ?? '');
    this.dispatcher.runNow(queue, task);
    return taskToMessage(task, viewOf(req.responseView));
  }

  /** Removes a task for good (success, given up, deleted) and reserves its name for the tombstone window. */
  retire(queue: QueueRecord, task: TaskRecord): void {
    task.alive = false;
    queue.tasks.delete(task.name);
    const now = this.now();
    reserve(queue.tombstones, task.name, now + queue.config.tombstoneTtlMs, now);
  }

  /** Whether a task has outlived its queue's task_ttl: it is gone, dispatched or not. */
  isExpired(queue: QueueRecord, task: TaskRecord): boolean {
    return this.now() >= task.createMs + queue.config.taskTtlMs;
  }

  /** Removes the queue's tasks that outlived its task_ttl (done when tasks are looked at, and before dispatch). */
  private expireTasks(queue: QueueRecord): void {
    for (const task of queue.tasks.values()) if (this.isExpired(queue, task)) this.retire(queue, task);
  }

  // ---- locations ------------------------------------------------------------------------------------------------

  /** GetLocation: every well-formed location exists in the emulator. */
  getLocation(req: { name?: string }) {
    return locationMessage(parseLocation(req.name ?? ''));
  }

  /** ListLocations: the locations where the project has queues (the emulator has no fixed list of regions). */
  listLocations(req: { name?: string; pageSize?: number; pageToken?: string }) {
    const project = parseProject(req.name ?? '');
    const size = pageSizeOf(req.pageSize, MAX_QUEUES_PAGE);
    const scope = `locations:${project}`;
    const after = decodePageToken(req.pageToken ?? '', scope);
    const names = [...new Set([...this.queues.values()].map((q) => q.parent))]
      .filter((parent) => parent.startsWith(`${project}/locations/`) && (after === undefined || parent > after))
      .sort();
    const page = names.slice(0, size);
    return {
      locations: page.map(locationMessage),
      nextPageToken: names.length > size ? encodePageToken(scope, page[page.length - 1]!) : '',
    };
  }

  /** Cancels every queue's timer (used by stop()). */
  sleepAll(): void {
    for (const queue of this.queues.values()) this.dispatcher.sleep(queue);
  }
}
