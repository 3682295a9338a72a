/** Which trace a defer carries (the option, the active OpenTelemetry span, the running task's, the request's) and its PRODUCER span. */
import type { RunContext } from '../core/run-context.js';
import {
  formatTraceparent,
  LABELS_FIELD,
  parseTraceparent,
  requestTraceContext,
  traceLogFields,
  type TraceContext,
} from '../core/trace-context.js';
import { MESSAGING_SYSTEM, Telemetry, type OtelSpan } from '../core/telemetry.js';
import { taskIdOf } from '../core/task-names.js';
import type { Deferral, TaskDeferredEvent } from '../types.js';

/** The trace of one defer: the `traceparent` its Cloud Task carries (null: none) and its PRODUCER span, if any. */
export interface DeferTrace {
  readonly traceparent: string | null;
  readonly span: OtelSpan | null;
}

const NONE: DeferTrace = Object.freeze({ traceparent: null, span: null });

/**
 * Where a defer's trace comes from. Given as an option: that one. In a running task: the active OpenTelemetry span
 * when it belongs to the run's trace, else the run's trace itself (so a chain stays in the trace of the request that
 * started it, even where each run is a trace of its own, linked). Elsewhere: the active span, else the request being
 * handled (`withTraceContext`, or the handler used as middleware), else none.
 */
function parentOf(
  option: TraceContext | false | undefined,
  run: RunContext | undefined,
  otel: Telemetry | null,
): { parent: 'active' | TraceContext | null; links: TraceContext[] } {
  if (option) return { parent: option, links: [] };
  const active = otel?.activeContext() ?? null;
  const running = run?.info.trace ?? null;
  if (running) {
    if (active?.traceId === running.traceId) return { parent: 'active', links: [] };
    return { parent: running, links: active ? [active] : [] };
  }
  if (active) return { parent: 'active', links: [] };
  return { parent: requestTraceContext(), links: [] };
}

/**
 * Decides the trace a defer carries and, with OpenTelemetry, starts its PRODUCER span (whose context is what the
 * task carries). `option` false carries none (the span is still made, under the active context).
 */
export function startDeferTrace(
  task: string,
  queue: string,
  option: TraceContext | false | undefined,
  run: RunContext | undefined,
  otel: Telemetry | null,
): DeferTrace {
  const { parent, links } = option === false ? { parent: 'active' as const, links: [] } : parentOf(option, run, otel);
  if (!otel) {
    if (option === false || parent === 'active' || parent === null) return NONE;
    return { traceparent: formatTraceparent(parent), span: null };
  }
  const started = otel.start(
    `defer ${task}`,
    'PRODUCER',
    parent,
    {
      'messaging.system': MESSAGING_SYSTEM,
      'messaging.destination.name': queue,
      'messaging.operation.type': 'send',
      'messaging.operation.name': 'defer',
      'deferred.task': task,
    },
    links,
  );
  const traceparent = option === false || !started.context ? null : formatTraceparent(started.context);
  return { traceparent, span: started.span };
}

/** Ends a defer's PRODUCER span with what the defer produced (or the error it threw). */
export function endDeferTrace(trace: DeferTrace, deferral: Deferral | null, error?: unknown): void {
  const span = trace.span;
  if (!span) return;
  try {
    if (deferral) {
      if (deferral.cloudTaskName) {
        span.setAttribute('messaging.message.id', taskIdOf(deferral.cloudTaskName));
        span.setAttribute('deferred.cloud_task_name', deferral.cloudTaskName);
      }
      span.setAttribute('deferred.status', deferral.status);
      if (deferral.status !== 'held') span.setAttribute('deferred.entity_backed', deferral.entityKey !== null);
    }
  } catch {
    // a broken tracer must not fail a defer
  }
  Telemetry.end(span, error);
}

/** The `taskDeferred` event of a deferral whose Cloud Task carries `traceparent` (names its trace in `projectId`). */
export function deferredEvent(projectId: string, deferral: Deferral, traceparent: string | null): TaskDeferredEvent {
  const context = traceparent === null ? null : parseTraceparent(traceparent);
  const labels = { [LABELS_FIELD]: { task: deferral.task, queue: deferral.queue } };
  return {
    ...deferral,
    traceparent,
    logFields: context ? { ...traceLogFields(projectId, context), ...labels } : labels,
  };
}
