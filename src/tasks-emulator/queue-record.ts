/** A queue as the emulator keeps it: settings, state, live tasks, reserved names, schedule and rate-limit bucket. */
import { DueHeap } from './heap.js';
import type { QueueConfig } from './queue-config.js';
import { queueConfigToMessage } from './queue-config.js';
import type { TaskRecord } from './task-record.js';
import { fromMs } from './time.js';

export type QueueState = 'RUNNING' | 'PAUSED' | 'DISABLED';

/** A schedule entry: valid only while the task is alive and still at this version. */
export interface ScheduledTask {
  readonly task: TaskRecord;
  readonly version: number;
}

export interface QueueRecord {
  readonly path: string;
  readonly parent: string;
  readonly id: string;
  config: QueueConfig;
  state: QueueState;
  purgeMs: number | undefined;
  /** Live tasks by full name. */
  readonly tasks: Map<string, TaskRecord>;
  /** Names of completed or deleted tasks, reserved until the given time. */
  readonly tombstones: Map<string, number>;
  readonly schedule: DueHeap<ScheduledTask>;
  /** Attempts in flight. */
  inFlight: number;
  /** Rate-limit token bucket. */
  tokens: number;
  tokensAtMs: number;
  /** The pending wake-up of the scheduler, if any. */
  timer: { readonly due: number; readonly cancel: () => void } | undefined;
  /** Set once the queue is deleted: nothing more is dispatched from it. */
  deleted: boolean;
  /** When attempts got a response, over the last minute (for QueueStats.executed_last_minute_count), oldest first. */
  readonly recentResponses: number[];
}

const MINUTE_MS = 60_000;

/** Records that an attempt got a response at `nowMs`, forgetting those older than a minute. */
export function noteResponse(queue: QueueRecord, nowMs: number): void {
  queue.recentResponses.push(nowMs);
  pruneResponses(queue, nowMs);
}

/** Drops the responses older than a minute; returns how many are left. */
export function pruneResponses(queue: QueueRecord, nowMs: number): number {
  const list = queue.recentResponses;
  let drop = 0;
  while (drop < list.length && list[drop]! <= nowMs - MINUTE_MS) drop++;
  if (drop > 0) list.splice(0, drop);
  return list.length;
}

export function newQueueRecord(
  path: string,
  parent: string,
  id: string,
  config: QueueConfig,
  nowMs: number,
): QueueRecord {
  return {
    path,
    parent,
    id,
    config,
    state: 'RUNNING',
    purgeMs: undefined,
    tasks: new Map(),
    tombstones: new Map(),
    schedule: new DueHeap(),
    inFlight: 0,
    tokens: config.rate.maxBurstSize,
    tokensAtMs: nowMs,
    timer: undefined,
    deleted: false,
    recentResponses: [],
  };
}

/** The queue as a Queue message. */
export function queueToMessage(queue: QueueRecord): Record<string, unknown> {
  return {
    name: queue.path,
    ...queueConfigToMessage(queue.config),
    state: queue.state,
    ...(queue.purgeMs !== undefined ? { purgeTime: fromMs(queue.purgeMs) } : {}),
  };
}

/** Whether `name` is reserved in `tombstones` at `nowMs` (expired entries are dropped on the way). */
export function isReserved(tombstones: Map<string, number>, name: string, nowMs: number): boolean {
  const until = tombstones.get(name);
  if (until === undefined) return false;
  if (until <= nowMs) {
    tombstones.delete(name);
    return false;
  }
  return true;
}

/** Reserves `name` until `untilMs`, pruning expired reservations now and then so memory stays bounded. */
export function reserve(tombstones: Map<string, number>, name: string, untilMs: number, nowMs: number): void {
  tombstones.delete(name);
  tombstones.set(name, untilMs);
  if (tombstones.size % 1024 === 0) {
    // Insertion order is expiry order (one window per emulator, time never goes back): stop at the first live one.
    for (const [key, until] of tombstones) {
      if (until > nowMs) break;
      tombstones.delete(key);
    }
  }
}
