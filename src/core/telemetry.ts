/** OpenTelemetry when the app has it: `@opentelemetry/api` loaded on first use (once, never at import), the spans of defers, runs and sweeps, and the active span as a trace context; nothing at all when it is absent. */
import type { TraceContext } from './trace-context.js';

// The subset of @opentelemetry/api the runtime uses, written out so that no type of ours names the package (an app
// without it type-checks; test/unit/telemetry.test.ts checks that the real API fits these shapes).

/** An OpenTelemetry span context (`traceFlags` bit 1: sampled). */
export interface OtelSpanContext {
  traceId: string;
  spanId: string;
  traceFlags: number;
  isRemote?: boolean;
}

/** Attribute values the runtime sets. */
export type OtelAttributes = Record<string, string | number | boolean | undefined>;

/** An OpenTelemetry span, as the runtime uses it. */
export interface OtelSpan {
  spanContext(): OtelSpanContext;
  setAttribute(key: string, value: string | number | boolean): unknown;
  setStatus(status: { code: number; message?: string }): unknown;
  recordException(exception: Error | string): void;
  end(): void;
}

/** An OpenTelemetry context (opaque here). */
export type OtelContext = object;

/** Options of `tracer.startSpan`, as the runtime uses them. */
export interface OtelSpanOptions {
  kind?: number;
  attributes?: OtelAttributes;
  links?: { context: OtelSpanContext; attributes?: OtelAttributes }[];
}

/** The parts of `@opentelemetry/api` the runtime calls. */
export interface OtelApi {
  trace: {
    getTracer(
      name: string,
      version?: string,
    ): { startSpan(name: string, options?: OtelSpanOptions, context?: OtelContext): OtelSpan };
    getSpan(context: OtelContext): OtelSpan | undefined;
    setSpan(context: OtelContext, span: OtelSpan): OtelContext;
    setSpanContext(context: OtelContext, spanContext: OtelSpanContext): OtelContext;
    isSpanContextValid(spanContext: OtelSpanContext): boolean;
  };
  context: {
    active(): OtelContext;
    with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(
      context: OtelContext,
      fn: F,
      thisArg?: ThisParameterType<F>,
      ...args: A
    ): ReturnType<F>;
  };
  ROOT_CONTEXT: OtelContext;
}

/** OpenTelemetry's span kinds and status codes (stable numbers of the API). */
const SPAN_KIND = { INTERNAL: 0, PRODUCER: 3, CONSUMER: 4 } as const;
const STATUS = { OK: 1, ERROR: 2 } as const;

/** `messaging.system` of Cloud Tasks (the semantic conventions list no value for it; this follows `gcp_pubsub`). */
export const MESSAGING_SYSTEM = 'gcp_cloud_tasks';

/** The instrumentation scope name of the runtime's spans. */
export const TRACER_NAME = 'cloud-deferred';

/** The specifier is a variable so that bundlers leave the optional peer dependency alone. */
const API_MODULE = '@opentelemetry/api';

/** A started span and what it is in trace-context terms. */
export interface StartedSpan {
  readonly span: OtelSpan;
  /** The span's own context, when valid (a no-op tracer without a parent makes an invalid one). */
  readonly context: TraceContext | null;
}

/** The runtime's use of OpenTelemetry: present only when `@opentelemetry/api` is installed. */
export class Telemetry {
  constructor(readonly api: OtelApi) {}

  /** The active span's context, when it is valid (an SDK is registered and something is being traced). */
  activeContext(): TraceContext | null {
    const span = this.api.trace.getSpan(this.api.context.active());
    return span ? this.contextOf(span.spanContext()) : null;
  }

  private contextOf(spanContext: OtelSpanContext): TraceContext | null {
    if (!this.api.trace.isSpanContextValid(spanContext)) return null;
    return { traceId: spanContext.traceId, spanId: spanContext.spanId, sampled: (spanContext.traceFlags & 1) === 1 };
  }

  private static spanContextOf(context: TraceContext): OtelSpanContext {
    return { traceId: context.traceId, spanId: context.spanId, traceFlags: context.sampled ? 1 : 0, isRemote: true };
  }

  /** Starts a span under `parent`: the active context (`'active'`), a remote trace context, or none (a new trace). */
  start(
    name: string,
    kind: keyof typeof SPAN_KIND,
    parent: 'active' | TraceContext | null,
    attributes: OtelAttributes,
    links: readonly TraceContext[] = [],
  ): StartedSpan {
    const { api } = this;
    const parentContext =
      parent === 'active'
        ? api.context.active()
        : parent === null
          ? api.ROOT_CONTEXT
          : api.trace.setSpanContext(api.ROOT_CONTEXT, Telemetry.spanContextOf(parent));
    // The tracer is asked for each time (a map look-up in the SDK): a provider registered, or disabled, later counts.
    const span = api.trace.getTracer(TRACER_NAME).startSpan(
      name,
      {
        kind: SPAN_KIND[kind],
        attributes,
        ...(links.length > 0 ? { links: links.map((link) => ({ context: Telemetry.spanContextOf(link) })) } : {}),
      },
      parentContext,
    );
    return { span, context: this.contextOf(span.spanContext()) };
  }

  /** Runs `fn` with `span` as the active span. */
  within<T>(span: OtelSpan, fn: () => T): T {
    return this.api.context.with(this.api.trace.setSpan(this.api.context.active(), span), fn);
  }

  /** Ends a span with its outcome: OK, or ERROR with the error's message (and the exception recorded). */
  static end(span: OtelSpan, error?: unknown, message?: string): void {
    try {
      if (error === undefined && message === undefined) span.setStatus({ code: STATUS.OK });
      else {
        if (error instanceof Error) span.recordException(error);
        span.setStatus({ code: STATUS.ERROR, message: message ?? String(error) });
      }
      span.end();
    } catch {
      // a broken tracer must not fail a task
    }
  }
}

let loaded: Telemetry | null | undefined;
let loading: Promise<Telemetry | null> | undefined;

/**
 * The app's OpenTelemetry, or null when `@opentelemetry/api` is not installed: a value once it has been loaded, a
 * promise the first time (the module is imported once, on first use, never when cloud-deferred is imported).
 */
export function telemetry(): Telemetry | null | Promise<Telemetry | null> {
  if (loaded !== undefined) return loaded;
  loading ??= import(API_MODULE).then(
    (module: { default?: OtelApi } & Partial<OtelApi>) => {
      const api = (module.trace ? module : module.default) as OtelApi | undefined;
      loaded = api?.trace && api.context ? new Telemetry(api) : null;
      return loaded;
    },
    () => {
      loaded = null;
      return null;
    },
  );
  return loading;
}

/** {@link telemetry}, or null when `enabled` is false (the runtime's `openTelemetry: false`). */
export async function telemetryIf(enabled: boolean): Promise<Telemetry | null> {
  if (!enabled) return null;
  const found = telemetry();
  return found instanceof Promise ? await found : found;
}
