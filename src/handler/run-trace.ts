/** The trace of one run: the context its delivery carried, its CONSUMER span (linked to the defer's PRODUCER span, not parented), and the Cloud Logging fields of its lines. */
import { taskIdOf } from '../core/task-names.js';
import {
  formatTraceparent,
  LABELS_FIELD,
  SAMPLED_FIELD,
  SPAN_FIELD,
  TRACE_FIELD,
  traceResource,
  type TraceContext,
} from '../core/trace-context.js';
import { MESSAGING_SYSTEM, Telemetry, type OtelSpan } from '../core/telemetry.js';
import type { RunOutcome } from '../store/state-machine.js';
import type { TaskInfo } from '../types.js';

/** A TaskInfo before its trace fields are filled in. */
export type BareTaskInfo = Omit<TaskInfo, 'trace' | 'logFields'>;

/**
 * The run's trace as `currentTask()` shows it: the delivered context, with the CONSUMER span's id when that span is in
 * the same trace (an instrumented HTTP server parents it there); the consumer span's own context when nothing was
 * delivered; else none.
 */
function traceOf(delivered: TraceContext | null, consumer: TraceContext | null): TaskInfo['trace'] {
  const context = delivered && consumer?.traceId === delivered.traceId ? consumer : (delivered ?? consumer);
  if (!context) return null;
  const { traceId, spanId, sampled } = context;
  return { traceId, spanId, sampled, traceparent: formatTraceparent(context) };
}

/**
 * Cloud Logging's fields for the lines of a run: its trace (when it has one) and the task, queue and attempt as labels.
 * One literal per case, without spreads: every delivery builds these, and a spread costs it microseconds.
 */
function logFieldsOf(projectId: string, info: BareTaskInfo, trace: TaskInfo['trace']): Record<string, unknown> {
  const labels = { task: info.task, queue: info.queue, attempt: String(info.attempt) };
  if (!trace) return { [LABELS_FIELD]: labels };
  return {
    [TRACE_FIELD]: traceResource(projectId, trace.traceId),
    [SPAN_FIELD]: trace.spanId,
    [SAMPLED_FIELD]: trace.sampled,
    [LABELS_FIELD]: labels,
  };
}

/** `info` with its trace and log fields (each field copied by name: no spreads on the path of every delivery). */
export function tracedInfo(
  projectId: string,
  info: BareTaskInfo,
  delivered: TraceContext | null,
  consumer: TraceContext | null = null,
): TaskInfo {
  const trace = traceOf(delivered, consumer);
  return {
    task: info.task,
    queue: info.queue,
    cloudTaskName: info.cloudTaskName,
    retryCount: info.retryCount,
    executionCount: info.executionCount,
    attempt: info.attempt,
    maxAttempts: info.maxAttempts,
    eta: info.eta,
    previousResponse: info.previousResponse,
    retryReason: info.retryReason,
    entityKey: info.entityKey,
    trace,
    logFields: logFieldsOf(projectId, info, trace),
  };
}

/** A run's CONSUMER span, started under the active context (an instrumented server's span, or none) and linked to the delivered context. */
export function startRunSpan(otel: Telemetry, info: BareTaskInfo, delivered: TraceContext | null) {
  return otel.start(
    `run ${info.task}`,
    'CONSUMER',
    'active',
    {
      'messaging.system': MESSAGING_SYSTEM,
      'messaging.destination.name': info.queue,
      'messaging.message.id': taskIdOf(info.cloudTaskName),
      'messaging.operation.type': 'process',
      'messaging.operation.name': 'run',
      'deferred.task': info.task,
      'deferred.cloud_task_name': info.cloudTaskName,
      'deferred.attempt': info.attempt,
      'deferred.retry_count': info.retryCount,
      'deferred.entity_backed': info.entityKey !== null,
    },
    delivered ? [delivered] : [],
  );
}

/** Ends a run's span with its outcome: OK when done, ERROR (with the error) when it failed or will be retried. */
export function endRunSpan(span: OtelSpan, outcome: RunOutcome, error: unknown): void {
  try {
    span.setAttribute('deferred.outcome', outcome.kind);
  } catch {
    // a broken tracer must not fail a task
  }
  if (outcome.kind === 'done') Telemetry.end(span);
  else Telemetry.end(span, error, outcome.error);
}
