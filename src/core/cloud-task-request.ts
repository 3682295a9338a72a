/** Building the CreateTask request of a deferral (HTTP or App Engine target), and its stored JSON form for re-drives. */
import type { protos } from '@google-cloud/tasks';
import { SIGNATURE_HEADER } from '../codec/index.js';
import { TRACEPARENT_HEADER } from './trace-context.js';

type CreateTaskRequest = protos.google.cloud.tasks.v2.ICreateTaskRequest;

/** Cloud Tasks refuses schedule times more than 30 days ahead; stay a little inside. */
export const SCHEDULE_HORIZON_MS = 30 * 86_400_000 - 10 * 60_000;

/** Where tasks are delivered: an absolute URL (HTTP target) or a path on App Engine (App Engine target). */
export type TaskTarget =
  | {
      readonly kind: 'http';
      readonly handlerUrl: string;
      readonly oidc: { serviceAccountEmail: string; audience: string } | null;
    }
  | {
      readonly kind: 'appengine';
      readonly basePath: string;
      readonly routing: { readonly service?: string; readonly version?: string; readonly instance?: string } | null;
    };

/** Everything one CreateTask request needs. */
export interface TaskRequestSpec {
  /** Queue path `projects/<p>/locations/<l>/queues/<q>`. */
  readonly parent: string;
  /** Task id, or null to let Cloud Tasks choose. */
  readonly taskId: string | null;
  /** Registered task name (the last URL segment). */
  readonly task: string;
  readonly body: Buffer;
  /** Value of the signature header. */
  readonly signature: string;
  readonly headers: Readonly<Record<string, string>>;
  /** The W3C trace context the task carries (its `traceparent` header), or null/absent for none. */
  readonly traceparent?: string | null;
  /** When Cloud Tasks should deliver (already capped to its 30-day horizon); null = as soon as possible (no scheduleTime sent). */
  readonly scheduleMs: number | null;
  readonly dispatchDeadlineMs: number | null;
}

function timestamp(ms: number): { seconds: number; nanos: number } {
  const seconds = Math.floor(ms / 1000);
  return { seconds, nanos: Math.round((ms - seconds * 1000) * 1e6) };
}

/** The CreateTask request. Its timestamps and body are already in the JSON-compatible forms (see {@link storedRequest}). */
export function buildCreateTaskRequest(target: TaskTarget, spec: TaskRequestSpec): CreateTaskRequest {
  const headers: Record<string, string> = {
    ...spec.headers,
    ...(spec.traceparent ? { [TRACEPARENT_HEADER]: spec.traceparent } : {}),
    'Content-Type': 'application/json',
    [SIGNATURE_HEADER]: spec.signature,
  };
  const task: protos.google.cloud.tasks.v2.ITask = {};
  if (spec.scheduleMs !== null) task.scheduleTime = timestamp(spec.scheduleMs);
  if (spec.taskId !== null) task.name = `${spec.parent}/tasks/${spec.taskId}`;
  if (spec.dispatchDeadlineMs !== null) {
    task.dispatchDeadline = { seconds: Math.floor(spec.dispatchDeadlineMs / 1000), nanos: 0 };
  }
  const taskPath = `/tasks/${spec.task}`;
  if (target.kind === 'http') {
    task.httpRequest = {
      url: `${target.handlerUrl.replace(/\/+$/, '')}${taskPath}`,
      httpMethod: 'POST',
      headers,
      body: spec.body,
      ...(target.oidc
        ? { oidcToken: { serviceAccountEmail: target.oidc.serviceAccountEmail, audience: target.oidc.audience } }
        : {}),
    };
  } else {
    task.appEngineHttpRequest = {
      httpMethod: 'POST',
      relativeUri: `${target.basePath.replace(/\/+$/, '')}${taskPath}`,
      headers,
      body: spec.body,
      ...(target.routing ? { appEngineRouting: { ...target.routing } } : {}),
    };
  }
  return { parent: spec.parent, task };
}

/**
 * The request as JSON for `_DeferredTask.cloudTaskRequest`: the body as base64 (protobuf's JSON form of bytes), so
 * `client.createTask(JSON.parse(stored))` re-creates exactly this task.
 */
export function storedRequest(request: CreateTaskRequest): string {
  const task = request.task;
  const target = task?.httpRequest ? 'httpRequest' : task?.appEngineHttpRequest ? 'appEngineHttpRequest' : null;
  const http = target === null ? null : task![target]!;
  // The request as built, its body's base64 put in its place for the moment of the stringify (the same keys in the
  // same order): no replacer runs over every value, the body is not first turned into an array of its bytes
  // (Buffer's toJSON), and no copy is made (on Node 20 a spread followed by more properties costs about 1.5 µs).
  if (http && Buffer.isBuffer(http.body)) {
    const body = http.body;
    http.body = body.toString('base64');
    try {
      return JSON.stringify(request);
    } finally {
      http.body = body;
    }
  }
  return JSON.stringify(request, bodyAsBase64);
}

/** JSON.stringify's replacer of {@link storedRequest}: a `body` Buffer (in its toJSON form) as base64. */
function bodyAsBase64(key: string, value: unknown): unknown {
  if (key === 'body' && value && typeof value === 'object' && (value as { type?: string }).type === 'Buffer') {
    return Buffer.from((value as { data: number[] }).data).toString('base64');
  }
  return value;
}

/** Parses a stored request back (the inverse of {@link storedRequest}; the body stays base64, which the client accepts). */
export function parseStoredRequest(stored: string): CreateTaskRequest {
  return JSON.parse(stored) as CreateTaskRequest;
}

/** A copy of a stored request with a new task id and schedule time (for hops). */
export function retargetRequest(request: CreateTaskRequest, taskId: string, scheduleMs: number): CreateTaskRequest {
  return {
    ...request,
    task: { ...request.task, name: `${request.parent}/tasks/${taskId}`, scheduleTime: timestamp(scheduleMs) },
  };
}

/** A copy of a request whose signature header is recomputed over its body (stored as base64 or as bytes). */
export function resignRequest(request: CreateTaskRequest, signBody: (body: Buffer) => string): CreateTaskRequest {
  const task = request.task;
  const target = task?.httpRequest ? 'httpRequest' : task?.appEngineHttpRequest ? 'appEngineHttpRequest' : null;
  if (!task || !target) return request;
  const http = task[target]!;
  const raw = http.body;
  const body = typeof raw === 'string' ? Buffer.from(raw, 'base64') : Buffer.from(raw ?? []);
  return {
    ...request,
    task: { ...task, [target]: { ...http, headers: { ...http.headers, [SIGNATURE_HEADER]: signBody(body) } } },
  };
}
