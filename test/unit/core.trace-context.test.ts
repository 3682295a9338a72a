// Trace context: traceparent and X-Cloud-Trace-Context parsing, withTraceContext's sources, the traceparent option,
// Cloud Logging's fields and the links to a run's lines, and the OpenTelemetry API shapes the runtime relies on (checked against the real package).
import * as otelApi from '@opentelemetry/api';
import { describe, expect, it } from 'vitest';
import type { OtelApi } from '../../src/core/telemetry.js';
import {
  formatTraceparent,
  parseCloudTraceContext,
  parseTraceparent,
  requestTraceContext,
  traceLogFields,
  traceResource,
  traceparentOption,
  withTraceContext,
} from '../../src/core/trace-context.js';
import { logsExplorerUrl, runLogQuery, traceExplorerUrl } from '../../src/core/trace-links.js';
import { resolveDeferOptions } from '../../src/defer/options.js';
import { InvalidArgumentError } from '../../src/errors/index.js';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN = '00f067aa0ba902b7';
const HEADER = `00-${TRACE}-${SPAN}-01`;

describe('parseTraceparent / formatTraceparent', () => {
  it('reads version 00 and writes it back', () => {
    expect(parseTraceparent(HEADER)).toEqual({ traceId: TRACE, spanId: SPAN, sampled: true });
    expect(parseTraceparent(`00-${TRACE}-${SPAN}-00`)?.sampled).toBe(false);
    expect(formatTraceparent({ traceId: TRACE, spanId: SPAN, sampled: true })).toBe(HEADER);
    expect(formatTraceparent({ traceId: TRACE, spanId: SPAN, sampled: false })).toBe(`00-${TRACE}-${SPAN}-00`);
  });

  it('reads a later version by its first four fields, and refuses what the W3C recommendation refuses', () => {
    expect(parseTraceparent(`01-${TRACE}-${SPAN}-03-more`)).toEqual({ traceId: TRACE, spanId: SPAN, sampled: true });
    for (const bad of [
      `ff-${TRACE}-${SPAN}-01`,
      `00-${TRACE}-${SPAN}-01-extra`,
      `00-${'0'.repeat(32)}-${SPAN}-01`,
      `00-${TRACE}-${'0'.repeat(16)}-01`,
      `00-${TRACE.toUpperCase()}-${SPAN}-01`,
      `00-${TRACE}-${SPAN}`,
      '',
      undefined,
    ]) {
      expect(parseTraceparent(bad), String(bad)).toBeNull();
    }
  });
});

describe('parseCloudTraceContext', () => {
  it('reads TRACE_ID/SPAN_ID;o=1 with the span id in decimal', () => {
    const decimal = BigInt(`0x${SPAN}`).toString(10);
    expect(parseCloudTraceContext(`${TRACE}/${decimal};o=1`)).toEqual({ traceId: TRACE, spanId: SPAN, sampled: true });
    expect(parseCloudTraceContext(`${TRACE.toUpperCase()}/${decimal};o=0`)).toEqual({
      traceId: TRACE,
      spanId: SPAN,
      sampled: false,
    });
    expect(parseCloudTraceContext(`${TRACE}/${decimal}`)?.sampled).toBe(false);
  });

  it('gives a header without a usable span id a random one; refuses other shapes', () => {
    for (const value of [TRACE, `${TRACE}/0;o=1`, `${TRACE}/${(1n << 64n).toString()};o=1`]) {
      const parsed = parseCloudTraceContext(value)!;
      expect(parsed.traceId).toBe(TRACE);
      expect(parsed.spanId).toMatch(/^[0-9a-f]{16}$/);
      expect(parsed.spanId).not.toBe('0'.repeat(16));
    }
    expect(parseCloudTraceContext('nonsense')).toBeNull();
    expect(parseCloudTraceContext(`${'0'.repeat(32)}/1;o=1`)).toBeNull();
  });
});

describe('withTraceContext', () => {
  it('reads node:http headers, Fetch Headers, a request object, a traceparent string; null outside', () => {
    const expected = { traceId: TRACE, spanId: SPAN, sampled: true };
    expect(requestTraceContext()).toBeNull();
    expect(withTraceContext({ traceparent: HEADER }, requestTraceContext)).toEqual(expected);
    expect(withTraceContext({ Traceparent: HEADER }, requestTraceContext)).toEqual(expected);
    expect(withTraceContext(new Headers({ traceparent: HEADER }), requestTraceContext)).toEqual(expected);
    expect(
      withTraceContext(new Request('http://x/', { headers: { traceparent: HEADER } }), requestTraceContext),
    ).toEqual(expected);
    expect(withTraceContext({ headers: { 'x-cloud-trace-context': `${TRACE}/1;o=1` } }, requestTraceContext)).toEqual({
      traceId: TRACE,
      spanId: '0000000000000001',
      sampled: true,
    });
    expect(withTraceContext(HEADER, requestTraceContext)).toEqual(expected);
    expect(withTraceContext({}, requestTraceContext)).toBeNull();
    expect(withTraceContext(undefined, requestTraceContext)).toBeNull();
  });

  it('prefers traceparent to X-Cloud-Trace-Context', () => {
    const both = { traceparent: HEADER, 'x-cloud-trace-context': `${'1'.repeat(32)}/1;o=1` };
    expect(withTraceContext(both, requestTraceContext)?.traceId).toBe(TRACE);
  });
});

describe('the traceparent option of defer', () => {
  const resolve = (layer: Record<string, unknown>) =>
    resolveDeferOptions([layer], { nowMs: 0, defaultQueue: 'default' }).traceparent;

  it('takes a traceparent or false; undefined leaves the current trace', () => {
    expect(resolve({ traceparent: HEADER })).toEqual({ traceId: TRACE, spanId: SPAN, sampled: true });
    expect(resolve({ traceparent: false })).toBe(false);
    expect(resolve({})).toBeUndefined();
    expect(traceparentOption(undefined)).toBeUndefined();
  });

  it('refuses anything else, saying what a traceparent looks like', () => {
    expect(() => resolve({ traceparent: 'nope' })).toThrow(InvalidArgumentError);
    expect(() => resolve({ traceparent: true })).toThrow(/W3C traceparent such as '00-/);
  });

  it('refuses a traceparent header, pointing to the option', () => {
    expect(() => resolve({ headers: { TraceParent: HEADER } })).toThrow(/pass the traceparent option instead/);
  });
});

describe('traceLogFields', () => {
  it('names the trace as Cloud Logging wants it: projects/<project>/traces/<id>', () => {
    expect(traceLogFields('my-project', { traceId: TRACE, spanId: SPAN, sampled: true })).toEqual({
      'logging.googleapis.com/trace': `projects/my-project/traces/${TRACE}`,
      'logging.googleapis.com/spanId': SPAN,
      'logging.googleapis.com/trace_sampled': true,
    });
  });
});

describe('OtelApi', () => {
  it('is what @opentelemetry/api provides (the assignment type-checks; the members exist)', () => {
    const api: OtelApi = otelApi;
    expect(typeof api.trace.getTracer).toBe('function');
    expect(typeof api.trace.setSpanContext).toBe('function');
    expect(typeof api.context.with).toBe('function');
    expect(api.ROOT_CONTEXT).toBeDefined();
    // The span kinds and status codes the runtime writes as numbers.
    expect([otelApi.SpanKind.INTERNAL, otelApi.SpanKind.PRODUCER, otelApi.SpanKind.CONSUMER]).toEqual([0, 3, 4]);
    expect([otelApi.SpanStatusCode.OK, otelApi.SpanStatusCode.ERROR]).toEqual([1, 2]);
  });
});

describe('trace links (core/trace-links)', () => {
  const attempt = {
    task: 'sendReceipt',
    attempt: 2,
    at: new Date('2026-12-04T10:00:00.000Z'),
    durationMs: 90_000,
    traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
    spanId: '00f067aa0ba902b7',
  };

  it("select one attempt's lines: its trace and span as the runtime's lines name them, its labels, a window around its run", () => {
    const fields = traceLogFields('my-shop', { traceId: attempt.traceId, spanId: attempt.spanId, sampled: true });
    expect(runLogQuery('my-shop', attempt)).toBe(
      [
        `trace="${String(fields['logging.googleapis.com/trace'])}"`,
        `spanId="${String(fields['logging.googleapis.com/spanId'])}"`,
        'labels.task="sendReceipt"',
        'labels.attempt="2"',
        'timestamp>="2026-12-04T09:53:30.000Z"', // the run's start (90 s before its end), less 5 min
        'timestamp<="2026-12-04T10:05:00.000Z"',
      ].join(' AND '),
    );
    const noSpan = runLogQuery('my-shop', { ...attempt, spanId: undefined, task: 'odd"name\\' });
    expect(noSpan).toMatch(
      new RegExp(`^trace="${traceResource('my-shop', attempt.traceId)}" AND labels\\.task="odd\\\\"name\\\\\\\\" AND`),
    );
  });

  it('link the Logs Explorer to that query, and Cloud Trace to the trace unless it was not sampled', () => {
    const url = logsExplorerUrl('my shop', attempt);
    expect(new URL(url).searchParams.get('project')).toBe('my shop');
    expect(decodeURIComponent(url.split(';query=')[1]!.split('?')[0]!)).toBe(runLogQuery('my shop', attempt));
    expect(traceExplorerUrl('my-shop', attempt)).toBe(
      'https://console.cloud.google.com/traces/list?tid=4bf92f3577b34da6a3ce929d0e0e4736&project=my-shop',
    );
    expect(traceExplorerUrl('my-shop', { ...attempt, traceSampled: true })).not.toBeNull();
    expect(traceExplorerUrl('my-shop', { ...attempt, traceSampled: false })).toBeNull();
  });
});
