/** W3C trace context as the runtime carries it: parsing `traceparent` and Cloud's `X-Cloud-Trace-Context`, the trace of the request being handled, and Cloud Logging's correlation fields. */
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomBytes } from 'node:crypto';
import { InvalidArgumentError } from '../errors/invalid-argument.js';

/** One position in a trace: the trace, the span that is the parent of what comes next, and whether it is sampled. */
export interface TraceContext {
  /** 32 lower-case hex digits, not all zero. */
  readonly traceId: string;
  /** 16 lower-case hex digits, not all zero. */
  readonly spanId: string;
  /** The W3C `sampled` flag (Cloud Trace's `o=1`). */
  readonly sampled: boolean;
}

/** The W3C header that carries a trace context, on requests and on Cloud Tasks. */
export const TRACEPARENT_HEADER = 'traceparent';
/** Google Cloud's legacy header (`TRACE_ID/SPAN_ID;o=1`), sent by App Engine and Cloud Run beside `traceparent`. */
export const CLOUD_TRACE_HEADER = 'x-cloud-trace-context';

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;
const CLOUD_TRACE = /^([0-9a-fA-F]{32})(?:\/(\d{1,20}))?(?:;o=([0-9]+))?/;
const ZERO_TRACE = '0'.repeat(32);
const ZERO_SPAN = '0'.repeat(16);

/**
 * Parses a W3C `traceparent` (`00-<trace id>-<parent id>-<flags>`), or null when it is not one (wrong shape, all-zero
 * ids, version `ff`, or a version 00 header with extra fields). Later versions are read by their first four fields,
 * as the W3C recommendation asks.
 */
export function parseTraceparent(value: string | undefined | null): TraceContext | null {
  if (typeof value !== 'string') return null;
  const match = TRACEPARENT.exec(value.trim());
  if (!match) return null;
  const [, version, traceId, spanId, flags, rest] = match;
  if (version === 'ff' || (version === '00' && rest !== undefined)) return null;
  if (traceId === ZERO_TRACE || spanId === ZERO_SPAN) return null;
  return { traceId: traceId!, spanId: spanId!, sampled: (parseInt(flags!, 16) & 1) === 1 };
}

/** The `traceparent` header value of a trace context (version 00). */
export function formatTraceparent(context: TraceContext): string {
  return `00-${context.traceId}-${context.spanId}-${context.sampled ? '01' : '00'}`;
}

/**
 * Parses `X-Cloud-Trace-Context` (`TRACE_ID/SPAN_ID;o=OPTIONS`, the span id in decimal), or null when it is not one.
 * A header without a span id (or with span 0) gets a random one, so that what it starts can name a parent.
 */
export function parseCloudTraceContext(value: string | undefined | null): TraceContext | null {
  if (typeof value !== 'string') return null;
  const match = CLOUD_TRACE.exec(value.trim());
  if (!match) return null;
  const traceId = match[1]!.toLowerCase();
  if (traceId === ZERO_TRACE) return null;
  let spanId: string | null = null;
  if (match[2] !== undefined) {
    const id = BigInt(match[2]);
    if (id > 0n && id < 1n << 64n) spanId = id.toString(16).padStart(16, '0');
  }
  return { traceId, spanId: spanId ?? randomSpanId(), sampled: match[3] !== undefined && (Number(match[3]) & 1) === 1 };
}

/** A random, non-zero span id. */
export function randomSpanId(): string {
  for (;;) {
    const id = randomBytes(8).toString('hex');
    if (id !== ZERO_SPAN) return id;
  }
}

/** The trace context of a request's headers (lower-cased names): its `traceparent`, else its `X-Cloud-Trace-Context`. */
export function traceContextOfHeaders(headers: Readonly<Record<string, string | undefined>>): TraceContext | null {
  return parseTraceparent(headers[TRACEPARENT_HEADER]) ?? parseCloudTraceContext(headers[CLOUD_TRACE_HEADER]);
}

/** What {@link withTraceContext} reads a trace context from. */
export type TraceSource =
  | string
  | { readonly get: (name: string) => string | null }
  | { readonly headers: unknown }
  | Readonly<Record<string, string | string[] | undefined>>
  | null
  | undefined;

function headerValue(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (Array.isArray(value) && typeof value[0] === 'string') return value[0];
  return undefined;
}

/** The trace context of a {@link TraceSource}, or null when it carries none. */
export function traceContextOf(source: TraceSource): TraceContext | null {
  if (source === null || source === undefined) return null;
  if (typeof source === 'string') return parseTraceparent(source) ?? parseCloudTraceContext(source);
  if (typeof (source as { get?: unknown }).get === 'function') {
    const headers = source as { get: (name: string) => string | null };
    return traceContextOfHeaders({
      [TRACEPARENT_HEADER]: headers.get(TRACEPARENT_HEADER) ?? undefined,
      [CLOUD_TRACE_HEADER]: headers.get(CLOUD_TRACE_HEADER) ?? undefined,
    });
  }
  const inner = (source as { headers?: unknown }).headers;
  if (inner && typeof inner === 'object') return traceContextOf(inner as TraceSource);
  const record = source as Record<string, unknown>;
  const find = (name: string) => {
    const exact = headerValue(record[name]);
    if (exact !== undefined) return exact;
    for (const key of Object.keys(record)) if (key.toLowerCase() === name) return headerValue(record[key]);
    return undefined;
  };
  return traceContextOfHeaders({
    [TRACEPARENT_HEADER]: find(TRACEPARENT_HEADER),
    [CLOUD_TRACE_HEADER]: find(CLOUD_TRACE_HEADER),
  });
}

const requestTrace = new AsyncLocalStorage<TraceContext | null>();

/**
 * Runs `fn` as part of the request (or other work) that `source` describes, so that `defer()` calls made inside it
 * carry its trace. `source` is a request (node:http, Express, Fetch `Request`), its headers (`traceparent`, else
 * `X-Cloud-Trace-Context`, as Cloud Run and App Engine send them) or a `traceparent` string. Not needed when
 * OpenTelemetry traces the request (its active span wins), nor under `deferred.handler` used as Express middleware
 * (it does this for the requests it passes on).
 *
 * @example
 * app.post('/orders', (req, res) => withTraceContext(req, async () => { await shipOrder.defer(req.body.id); res.end(); }));
 */
export function withTraceContext<T>(source: TraceSource, fn: () => T): T {
  return requestTrace.run(traceContextOf(source), fn);
}

/** Runs `fn` as part of a request whose trace context is already parsed. */
export function runInRequestTrace<T>(context: TraceContext, fn: () => T): T {
  return requestTrace.run(context, fn);
}

/** The trace context of the request being handled ({@link withTraceContext}), or null. */
export function requestTraceContext(): TraceContext | null {
  return requestTrace.getStore() ?? null;
}

/** Reads the `traceparent` option of a defer: a W3C traceparent, `false` (carry none), or undefined (the default). */
export function traceparentOption(value: unknown): TraceContext | false | undefined {
  if (value === undefined || value === false) return value;
  const parsed = typeof value === 'string' ? parseTraceparent(value) : null;
  if (!parsed) {
    throw new InvalidArgumentError(
      `traceparent must be a W3C traceparent such as '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01', or false to carry no trace, got ${typeof value === 'string' ? JSON.stringify(value) : String(value)}.`,
    );
  }
  return parsed;
}

/** Cloud Logging's field names for trace correlation (structured JSON logs on Cloud Run, App Engine, GKE). */
export const TRACE_FIELD = 'logging.googleapis.com/trace';
export const SPAN_FIELD = 'logging.googleapis.com/spanId';
export const SAMPLED_FIELD = 'logging.googleapis.com/trace_sampled';
export const LABELS_FIELD = 'logging.googleapis.com/labels';

/** A trace as Cloud Logging names it in {@link TRACE_FIELD}: `projects/<project>/traces/<id>`. */
export function traceResource(projectId: string, traceId: string): string {
  return `projects/${projectId}/traces/${traceId}`;
}

/** The fields that put a log line into `context`'s trace in Cloud Logging (the trace as `projects/<project>/traces/<id>`). */
export function traceLogFields(projectId: string, context: TraceContext): Record<string, unknown> {
  return {
    [TRACE_FIELD]: traceResource(projectId, context.traceId),
    [SPAN_FIELD]: context.spanId,
    [SAMPLED_FIELD]: context.sampled,
  };
}
