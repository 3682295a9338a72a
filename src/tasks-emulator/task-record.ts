/** A task as the emulator keeps it: built from CreateTask (validated, headers normalised) and rendered as a Task message. */
import { checkHeaders } from './header-check.js';
import { invalidArgument, failedPrecondition } from './rpc-errors.js';
import { retryPolicyFrom, retryPolicyToMessage, type AppEngineRouting, type QueueInput } from './queue-config.js';
import type { RetryPolicy } from './retry.js';
import { fromMs, toMs, type ProtoSecondsNanos } from './time.js';

export const HTTP_USER_AGENT = 'Google-Cloud-Tasks';
export const APP_ENGINE_USER_AGENT = 'AppEngine-Google; (+http://code.google.com/appengine)';
/** Tasks may be scheduled at most 30 days ahead. */
export const MAX_SCHEDULE_AHEAD_MS = 30 * 24 * 3_600_000;
export const DEFAULT_DISPATCH_DEADLINE_MS = 10 * 60_000;
export const MAX_HTTP_DISPATCH_DEADLINE_MS = 30 * 60_000;
export const MAX_APP_ENGINE_DISPATCH_DEADLINE_MS = 24 * 3_600_000 + 15_000;
/** The real service's maximum task size. */
export const MAX_TASK_BYTES = 1024 * 1024;

type Method = 'POST' | 'GET' | 'HEAD' | 'PUT' | 'DELETE' | 'PATCH' | 'OPTIONS';
const METHODS = new Set<string>(['POST', 'GET', 'HEAD', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']);

/** The target of a task: an arbitrary URL, or a path of the App Engine app. */
export type TaskTarget =
  | {
      readonly kind: 'http';
      readonly url: string;
      readonly method: Method;
      readonly headers: Record<string, string>;
      readonly body: Buffer;
      readonly oidcToken: { serviceAccountEmail: string; audience: string } | undefined;
      readonly oauthToken: { serviceAccountEmail: string; scope: string } | undefined;
    }
  | {
      readonly kind: 'appEngine';
      readonly relativeUri: string;
      readonly method: Method;
      readonly headers: Record<string, string>;
      readonly body: Buffer;
      readonly routing: AppEngineRouting;
    };

/** What is known about one attempt. */
export interface AttemptRecord {
  scheduleMs: number;
  dispatchMs: number;
  responseMs?: number;
  responseStatus?: { code: number; message: string };
}

/** A live task. Mutable fields change as it is dispatched. */
export interface TaskRecord {
  readonly name: string;
  readonly id: string;
  readonly queuePath: string;
  readonly target: TaskTarget;
  readonly createMs: number;
  /** The time the task was first scheduled for: the ETA header of every attempt. */
  readonly etaMs: number;
  readonly dispatchDeadlineMs: number;
  /** When the next attempt is due. */
  scheduleMs: number;
  dispatchCount: number;
  responseCount: number;
  /** Responses counted by the execution-count header (for HTTP targets, 5xx responses are not). */
  executionCount: number;
  firstAttemptDispatchMs: number | undefined;
  lastAttempt: AttemptRecord | undefined;
  /** HTTP status of the previous attempt's response, if it had one. */
  previousResponse: number | undefined;
  /** Bumped whenever the task is (re)scheduled, deleted or run, so stale schedule entries are skipped. */
  version: number;
  /** Attempts currently in flight. */
  inFlight: number;
  /** False once completed, given up or deleted. */
  alive: boolean;
  /** The task's own retry settings (v2beta3 `Task.retry_config`), which override its queue's. */
  readonly retry: RetryPolicy | undefined;
}

/** The Task message fields the emulator reads from CreateTask. */
export interface TaskInput {
  name?: string | null;
  httpRequest?: {
    url?: string | null;
    httpMethod?: string | null;
    headers?: Record<string, string> | null;
    body?: Buffer | Uint8Array | null;
    oidcToken?: { serviceAccountEmail?: string | null; audience?: string | null } | null;
    oauthToken?: { serviceAccountEmail?: string | null; scope?: string | null } | null;
  } | null;
  appEngineHttpRequest?: {
    httpMethod?: string | null;
    appEngineRouting?: Partial<AppEngineRouting> | null;
    relativeUri?: string | null;
    headers?: Record<string, string> | null;
    body?: Buffer | Uint8Array | null;
  } | null;
  scheduleTime?: ProtoSecondsNanos | null;
  dispatchDeadline?: ProtoSecondsNanos | null;
  /** v2beta3 only. */
  pullMessage?: unknown;
  /** v2beta3 only. */
  retryConfig?: QueueInput['retryConfig'];
}

function methodOf(value: string | null | undefined): Method {
  if (!value || value === 'HTTP_METHOD_UNSPECIFIED') return 'POST';
  if (!METHODS.has(value)) throw invalidArgument(`Unknown http_method ${value}.`);
  return value as Method;
}

/** Header names (lower case) that the caller cannot set: the service owns them. */
function isServiceHeader(name: string): boolean {
  const lower = name.toLowerCase();
  return (
    lower === 'host' ||
    lower === 'content-length' ||
    lower.startsWith('x-google-') ||
    lower.startsWith('x-appengine-') ||
    lower.startsWith('x-cloudtasks-')
  );
}

function findHeader(headers: Record<string, string>, name: string): string | undefined {
  const lower = name.toLowerCase();
  return Object.keys(headers).find((key) => key.toLowerCase() === lower);
}

/** Stored headers of an HTTP task: the caller's (case kept) minus service headers, User-Agent replaced. */
export function httpTaskHeaders(sent: Record<string, string>): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(sent)) {
    if (!isServiceHeader(name) && name.toLowerCase() !== 'user-agent') headers[name] = value;
  }
  headers['User-Agent'] = HTTP_USER_AGENT;
  return headers;
}

/** Stored headers of an App Engine task: as HTTP, plus Content-Length and a default Content-Type when there is a body. */
export function appEngineTaskHeaders(sent: Record<string, string>, body: Buffer): Record<string, string> {
  const headers: Record<string, string> = {};
  let userAgent: string | undefined;
  for (const [name, value] of Object.entries(sent)) {
    if (name.toLowerCase() === 'user-agent') userAgent = value;
    else if (!isServiceHeader(name)) headers[name] = value;
  }
  headers['User-Agent'] = userAgent ? `${userAgent} ${APP_ENGINE_USER_AGENT}` : APP_ENGINE_USER_AGENT;
  if (body.length > 0) {
    headers['Content-Length'] = String(body.length);
    if (!findHeader(headers, 'content-type')) headers['Content-Type'] = 'application/octet-stream';
  }
  return headers;
}

function validateDeadline(ms: number | undefined, max: number, min: number, label: string): number {
  if (ms === undefined || ms === 0) return DEFAULT_DISPATCH_DEADLINE_MS;
  if (ms < min || ms > max) {
    throw invalidArgument(
      `Task.dispatch_deadline must be between ${min / 1000}s and ${max / 1000}s for ${label} tasks, got ${ms / 1000}s.`,
    );
  }
  return ms;
}

/** Context a new task needs from the emulator. */
export interface NewTaskContext {
  readonly name: string;
  readonly id: string;
  readonly queuePath: string;
  readonly nowMs: number;
  readonly minDispatchDeadlineMs: number;
  readonly queueRoutingOverride: AppEngineRouting | undefined;
  /** Base URL of the App Engine app, or undefined when none is configured. */
  readonly appEngineBaseUrl: string | undefined;
  /** The URL the queue's HTTP target gives tasks created without a target (or an empty URL), if it names a host. */
  readonly queueTargetUrl: string | undefined;
}

/** Validates a CreateTask task and builds its record. */
export function newTaskRecord(input: TaskInput, ctx: NewTaskContext): TaskRecord {
  let target: TaskTarget;
  let deadlineMs: number;
  const deadlineIn = toMs(input.dispatchDeadline);
  if (input.pullMessage) {
    throw invalidArgument(
      'Task.pull_message cannot be set through the Cloud Tasks API: pull tasks come from App Engine.',
    );
  }
  // A queue whose HTTP target names a host takes tasks without a target of their own: they are HTTP tasks to that URL.
  const httpRequest =
    input.httpRequest ?? (input.appEngineHttpRequest || !ctx.queueTargetUrl ? undefined : { url: ctx.queueTargetUrl });
  if (httpRequest) {
    const req = httpRequest;
    const url = req.url || ctx.queueTargetUrl || '';
    if (!url) {
      throw invalidArgument(
        'HttpRequest.url is empty: give the task a URL, or its queue an http_target whose uri_override names a host.',
      );
    }
    if (!/^https?:\/\//i.test(url)) {
      throw invalidArgument(`HttpRequest.url must begin with "http://" or "https://", got "${url}".`);
    }
    try {
      new URL(url);
    } catch {
      throw invalidArgument(`HttpRequest.url is not a valid URL: "${url}".`);
    }
    if (url.length > 2083) throw invalidArgument('HttpRequest.url must be at most 2083 characters.');
    const method = methodOf(req.httpMethod);
    const body = Buffer.from(req.body ?? []);
    if (body.length > 0 && method !== 'POST' && method !== 'PUT' && method !== 'PATCH') {
      throw invalidArgument(`A request body is allowed only if the HTTP method is POST, PUT or PATCH, not ${method}.`);
    }
    let oidcToken: { serviceAccountEmail: string; audience: string } | undefined;
    let oauthToken: { serviceAccountEmail: string; scope: string } | undefined;
    if (req.oidcToken) {
      if (!req.oidcToken.serviceAccountEmail) {
        throw invalidArgument('OidcToken.service_account_email is required.');
      }
      oidcToken = {
        serviceAccountEmail: req.oidcToken.serviceAccountEmail,
        audience: req.oidcToken.audience ?? '',
      };
    } else if (req.oauthToken) {
      if (!req.oauthToken.serviceAccountEmail) {
        throw invalidArgument('OAuthToken.service_account_email is required.');
      }
      oauthToken = {
        serviceAccountEmail: req.oauthToken.serviceAccountEmail,
        scope: req.oauthToken.scope || 'https://www.googleapis.com/auth/cloud-platform',
      };
    }
    checkHeaders(req.headers ?? {}, 'HttpRequest.headers');
    target = { kind: 'http', url, method, headers: httpTaskHeaders(req.headers ?? {}), body, oidcToken, oauthToken };
    deadlineMs = validateDeadline(deadlineIn, MAX_HTTP_DISPATCH_DEADLINE_MS, ctx.minDispatchDeadlineMs, 'HTTP');
  } else if (input.appEngineHttpRequest) {
    const req = input.appEngineHttpRequest;
    if (!ctx.appEngineBaseUrl) {
      throw failedPrecondition(
        'App Engine tasks need an App Engine app: start the emulator with appEngineBaseUrl (--app-engine-url).',
      );
    }
    const relativeUri = req.relativeUri || '/';
    if (!relativeUri.startsWith('/') || /\s/.test(relativeUri) || relativeUri.length > 2083) {
      throw invalidArgument(
        `AppEngineHttpRequest.relative_uri must begin with "/", contain no spaces and be at most 2083 characters, got "${relativeUri}".`,
      );
    }
    const method = methodOf(req.httpMethod);
    const body = Buffer.from(req.body ?? []);
    if (body.length > 0 && method !== 'POST' && method !== 'PUT') {
      throw invalidArgument(`A request body is allowed only if the HTTP method is POST or PUT, not ${method}.`);
    }
    checkHeaders(req.headers ?? {}, 'AppEngineHttpRequest.headers');
    const routingIn = ctx.queueRoutingOverride ?? req.appEngineRouting ?? {};
    const routing: AppEngineRouting = {
      service: routingIn.service ?? '',
      version: routingIn.version ?? '',
      instance: routingIn.instance ?? '',
      host: new URL(ctx.appEngineBaseUrl).host,
    };
    target = {
      kind: 'appEngine',
      relativeUri,
      method,
      headers: appEngineTaskHeaders(req.headers ?? {}, body),
      body,
      routing,
    };
    deadlineMs = validateDeadline(
      deadlineIn,
      MAX_APP_ENGINE_DISPATCH_DEADLINE_MS,
      ctx.minDispatchDeadlineMs,
      'App Engine',
    );
  } else {
    throw invalidArgument(
      'Task must have either http_request or app_engine_http_request set (or its queue an http_target whose uri_override names a host).',
    );
  }

  const size =
    target.body.length +
    Object.entries(target.headers).reduce((n, [k, v]) => n + k.length + v.length, 0) +
    (target.kind === 'http' ? target.url.length : target.relativeUri.length) +
    ctx.name.length;
  if (size > MAX_TASK_BYTES) {
    throw invalidArgument(`Task size too large: ${size} bytes, the maximum task size is ${MAX_TASK_BYTES} bytes.`);
  }

  const requested = toMs(input.scheduleTime);
  const scheduleMs = requested && requested > 0 ? requested : ctx.nowMs;
  if (scheduleMs > ctx.nowMs + MAX_SCHEDULE_AHEAD_MS) {
    throw invalidArgument('Task.schedule_time is too far in the future: tasks can be scheduled at most 30 days ahead.');
  }
  return {
    name: ctx.name,
    id: ctx.id,
    queuePath: ctx.queuePath,
    target,
    createMs: ctx.nowMs,
    etaMs: scheduleMs,
    dispatchDeadlineMs: deadlineMs,
    scheduleMs,
    dispatchCount: 0,
    responseCount: 0,
    executionCount: 0,
    firstAttemptDispatchMs: undefined,
    lastAttempt: undefined,
    previousResponse: undefined,
    version: 0,
    inFlight: 0,
    alive: true,
    retry: input.retryConfig ? retryPolicyFrom(input.retryConfig, 'Task.retry_config') : undefined,
  };
}

/** The task as a Task message; the BASIC view leaves out the body. */
export function taskToMessage(task: TaskRecord, view: 'BASIC' | 'FULL'): Record<string, unknown> {
  const full = view === 'FULL';
  const t = task.target;
  const message: Record<string, unknown> = {
    name: task.name,
    scheduleTime: fromMs(task.scheduleMs),
    createTime: fromMs(task.createMs),
    dispatchDeadline: fromMs(task.dispatchDeadlineMs),
    dispatchCount: task.dispatchCount,
    responseCount: task.responseCount,
    view,
  };
  if (t.kind === 'http') {
    message.httpRequest = {
      url: t.url,
      httpMethod: t.method,
      headers: { ...t.headers },
      ...(full && t.body.length > 0 ? { body: t.body } : {}),
      ...(t.oidcToken ? { oidcToken: { ...t.oidcToken } } : {}),
      ...(t.oauthToken ? { oauthToken: { ...t.oauthToken } } : {}),
    };
  } else {
    message.appEngineHttpRequest = {
      httpMethod: t.method,
      appEngineRouting: { ...t.routing },
      relativeUri: t.relativeUri,
      headers: { ...t.headers },
      ...(full && t.body.length > 0 ? { body: t.body } : {}),
    };
  }
  if (task.firstAttemptDispatchMs !== undefined) {
    message.firstAttempt = { dispatchTime: fromMs(task.firstAttemptDispatchMs) };
  }
  if (task.lastAttempt) {
    const a = task.lastAttempt;
    message.lastAttempt = {
      scheduleTime: fromMs(a.scheduleMs),
      dispatchTime: fromMs(a.dispatchMs),
      ...(a.responseMs !== undefined ? { responseTime: fromMs(a.responseMs) } : {}),
      ...(a.responseStatus ? { responseStatus: { ...a.responseStatus } } : {}),
    };
  }
  if (task.retry) message.retryConfig = retryPolicyToMessage(task.retry);
  return message;
}
