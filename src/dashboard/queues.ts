/** The queues panel: each queue's state, rate limits and waiting tasks from Cloud Tasks, and pausing or resuming one. */
import type { CloudTasksClient } from '@google-cloud/tasks';
import { InvalidArgumentError } from '../errors/invalid-argument.js';
import type { DashboardSource } from './source.js';

/** One queue as the dashboard shows it. */
export interface QueueView {
  /** Queue id (short). */
  id: string;
  name: string;
  state: string;
  maxDispatchesPerSecond: number | null;
  maxBurstSize: number | null;
  maxConcurrentDispatches: number | null;
  maxAttempts: number | null;
  /** Tasks in the queue; `tasksCountIsLowerBound` when counting stopped at the limit. */
  tasks: number | null;
  tasksCountIsLowerBound: boolean;
  /** Where the count comes from: queue statistics (v2beta3) or a listing. */
  tasksCountFrom: 'stats' | 'listing' | 'unavailable';
  /** Earliest schedule time of a waiting task (from statistics), ISO. */
  oldestTask: string | null;
  /** Attempts answered in the last minute and in flight now (from statistics). */
  executedLastMinute: number | null;
  inFlight: number | null;
  error?: string;
}

type QueueMessage = {
  name?: string | null;
  state?: string | number | null;
  rateLimits?: {
    maxDispatchesPerSecond?: number | null;
    maxBurstSize?: number | null;
    maxConcurrentDispatches?: number | null;
  } | null;
  retryConfig?: { maxAttempts?: number | null } | null;
};

const STATES = ['STATE_UNSPECIFIED', 'RUNNING', 'PAUSED', 'DISABLED'];
const numberOrNull = (value: unknown) => (value === null || value === undefined ? null : Number(value));
const timestamp = (value: unknown): string | null => {
  const t = value as { seconds?: unknown; nanos?: unknown } | null | undefined;
  if (!t || t.seconds === undefined || t.seconds === null) return null;
  return new Date(Number(t.seconds) * 1000 + Math.floor(Number(t.nanos ?? 0) / 1e6)).toISOString();
};

/** The location's parent name, and a queue's full name. */
export const locationPath = (source: DashboardSource) => `projects/${source.projectId}/locations/${source.location}`;
export const queuePathOf = (source: DashboardSource, id: string) => `${locationPath(source)}/queues/${id}`;

/** Throws unless `id` is a Cloud Tasks queue id. */
export function checkQueueId(id: unknown): string {
  if (typeof id !== 'string' || !/^[A-Za-z0-9-]{1,100}$/.test(id)) {
    throw new InvalidArgumentError(`"${String(id)}" is not a queue id (1-100 letters, digits or hyphens).`);
  }
  return id;
}

async function countByListing(tasks: CloudTasksClient, parent: string, limit: number) {
  let count = 0;
  let pageToken: string | undefined;
  while (count < limit) {
    const [page, , response] = await tasks.listTasks(
      { parent, pageSize: Math.min(1000, limit - count), responseView: 'BASIC', ...(pageToken ? { pageToken } : {}) },
      { autoPaginate: false },
    );
    count += page.length;
    pageToken = (response as { nextPageToken?: string } | undefined)?.nextPageToken || undefined;
    if (!pageToken) return { count, lowerBound: false };
  }
  return { count, lowerBound: true };
}

async function viewOf(source: DashboardSource, queue: QueueMessage): Promise<QueueView> {
  const name = String(queue.name);
  const state = typeof queue.state === 'number' ? (STATES[queue.state] ?? String(queue.state)) : String(queue.state);
  const view: QueueView = {
    id: name.split('/').pop()!,
    name,
    state,
    maxDispatchesPerSecond: numberOrNull(queue.rateLimits?.maxDispatchesPerSecond),
    maxBurstSize: numberOrNull(queue.rateLimits?.maxBurstSize),
    maxConcurrentDispatches: numberOrNull(queue.rateLimits?.maxConcurrentDispatches),
    maxAttempts: numberOrNull(queue.retryConfig?.maxAttempts),
    tasks: null,
    tasksCountIsLowerBound: false,
    tasksCountFrom: 'unavailable',
    oldestTask: null,
    executedLastMinute: null,
    inFlight: null,
  };
  if (source.tasksBeta) {
    try {
      const [withStats] = await source.tasksBeta.getQueue({ name, readMask: { paths: ['stats'] } });
      const stats = (withStats as { stats?: Record<string, unknown> | null }).stats;
      if (stats) {
        view.tasks = Number(stats.tasksCount ?? 0);
        view.tasksCountFrom = 'stats';
        view.oldestTask = timestamp(stats.oldestEstimatedArrivalTime);
        view.executedLastMinute = numberOrNull(stats.executedLastMinuteCount);
        view.inFlight = numberOrNull(stats.concurrentDispatchesCount);
        return view;
      }
    } catch {
      // no statistics here (an emulator without them): count by listing
    }
  }
  if (source.taskCountLimit > 0) {
    try {
      const { count, lowerBound } = await countByListing(source.tasks, name, source.taskCountLimit);
      view.tasks = count;
      view.tasksCountIsLowerBound = lowerBound;
      view.tasksCountFrom = 'listing';
    } catch (error) {
      view.error = (error as Error).message.split('\n')[0];
    }
  }
  return view;
}

/** Every queue of the location (or the configured ones), with what the dashboard shows of each. */
export async function listQueues(source: DashboardSource): Promise<QueueView[]> {
  let queues: QueueMessage[];
  if (source.queues) {
    queues = await Promise.all(
      source.queues.map(async (id) => {
        const [queue] = await source.tasks.getQueue({ name: queuePathOf(source, id) });
        return queue as QueueMessage;
      }),
    );
  } else {
    const [all] = await source.tasks.listQueues({ parent: locationPath(source) });
    queues = all as QueueMessage[];
  }
  const views = await Promise.all(queues.map((queue) => viewOf(source, queue)));
  return views.sort((a, b) => a.id.localeCompare(b.id));
}

/** Pauses or resumes a queue; answers its new state. */
export async function setQueueState(source: DashboardSource, id: string, action: 'pause' | 'resume'): Promise<string> {
  checkQueueId(id);
  if (source.queues && !source.queues.includes(id)) {
    throw new InvalidArgumentError(`queue "${id}" is not one this dashboard shows.`);
  }
  const name = queuePathOf(source, id);
  const [queue] =
    action === 'pause' ? await source.tasks.pauseQueue({ name }) : await source.tasks.resumeQueue({ name });
  const state = (queue as QueueMessage).state;
  return typeof state === 'number' ? (STATES[state] ?? String(state)) : String(state);
}
