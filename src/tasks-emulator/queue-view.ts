/** What GetQueue and ListQueues show of a queue in v2beta3: the fields of a read mask, and the queue's statistics. */
import { pruneResponses, type QueueRecord } from './queue-record.js';
import { invalidArgument } from './rpc-errors.js';
import { fromMs } from './time.js';

const camel = (path: string) => path.replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase());

/** QueueStats: live tasks, the earliest schedule time, responses in the last minute, attempts in flight, rate. */
export function queueStats(queue: QueueRecord, nowMs: number): Record<string, unknown> {
  let oldest: number | undefined;
  for (const task of queue.tasks.values())
    if (oldest === undefined || task.scheduleMs < oldest) oldest = task.scheduleMs;
  return {
    tasksCount: queue.tasks.size,
    ...(oldest !== undefined ? { oldestEstimatedArrivalTime: fromMs(oldest) } : {}),
    executedLastMinuteCount: pruneResponses(queue, nowMs),
    concurrentDispatchesCount: queue.inFlight,
    effectiveExecutionRate: queue.state === 'RUNNING' ? queue.config.rate.maxDispatchesPerSecond : 0,
  };
}

/**
 * Keeps the fields a read mask names (`name`, `rate_limits.max_burst_size`, `stats`...), nothing else; an unknown
 * top-level field is INVALID_ARGUMENT.
 */
export function applyReadMask(message: Record<string, unknown>, paths: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const raw of paths) {
    const parts = raw.trim().split('.').map(camel);
    const [top, ...rest] = parts as [string, ...string[]];
    if (!(top in message)) {
      if (['purgeTime', 'httpTarget', 'appEngineRoutingOverride', 'stackdriverLoggingConfig'].includes(top)) continue;
      throw invalidArgument(`read_mask path "${raw}" is not a field of Queue.`);
    }
    if (rest.length === 0) {
      out[top] = message[top];
      continue;
    }
    let source = message[top] as Record<string, unknown> | undefined;
    let target = (out[top] ??= {}) as Record<string, unknown>;
    for (const [i, part] of rest.entries()) {
      if (source === undefined || source === null) break;
      if (i === rest.length - 1) target[part] = source[part];
      else {
        source = source[part] as Record<string, unknown> | undefined;
        target = (target[part] ??= {}) as Record<string, unknown>;
      }
    }
  }
  return out;
}
