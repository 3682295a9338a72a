// The attempt history's stored form (store/history): entries read back as written, bounded, and only well-formed trace ids kept.
import { describe, expect, it } from 'vitest';
import { appendHistory, attemptRecord, parseHistory, serializeHistory } from '../../src/store/history.js';
import { ERROR_CHARS, HISTORY_LIMIT } from '../../src/store/schema.js';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN = '00f067aa0ba902b7';

describe('attempt history', () => {
  it('reads back what it wrote, the trace and span of a traced attempt included', () => {
    const traced = attemptRecord({
      at: new Date('2026-12-01T10:00:00Z'),
      attempt: 1,
      retryCount: 0,
      status: 500,
      outcome: 'retry',
      error: 'x'.repeat(ERROR_CHARS + 10),
      durationMs: 12,
      trace: { traceId: TRACE, spanId: SPAN, sampled: false },
    });
    const untraced = attemptRecord({
      at: new Date('2026-12-01T10:01:00Z'),
      attempt: 2,
      retryCount: 1,
      status: 200,
      outcome: 'failed',
      trace: null,
    });
    expect(traced).toMatchObject({ traceId: TRACE, spanId: SPAN, traceSampled: false });
    expect(traced.error).toHaveLength(ERROR_CHARS);
    expect(untraced).not.toHaveProperty('traceId');
    expect(parseHistory(serializeHistory([traced, untraced]))).toEqual([traced, untraced]);
  });

  it('drops a trace or span id that is not lower-case hex of its length (they go into links and log queries)', () => {
    const base = { at: '2026-12-01T10:00:00.000Z', attempt: 1, retryCount: 0, status: 500, outcome: 'retry' };
    for (const [traceId, spanId] of [
      [TRACE, undefined],
      [TRACE.toUpperCase(), SPAN],
      [`${TRACE}0`, SPAN],
      [TRACE, `${SPAN}"`],
      ['" OR true', SPAN],
      [42, SPAN],
    ]) {
      const [entry] = parseHistory(JSON.stringify([{ ...base, traceId, spanId }]));
      expect(entry).not.toHaveProperty('traceId');
      expect(entry).not.toHaveProperty('spanId');
    }
    expect(parseHistory(JSON.stringify([{ ...base, traceId: TRACE, spanId: SPAN }]))[0]).toMatchObject({
      traceId: TRACE,
      spanId: SPAN,
    });
  });

  it(`keeps the last ${HISTORY_LIMIT} entries`, () => {
    const entries = Array.from({ length: HISTORY_LIMIT + 3 }, (_, i) =>
      attemptRecord({ at: new Date(i), attempt: i + 1, retryCount: i, status: 500, outcome: 'retry' }),
    );
    const kept = appendHistory(entries.slice(0, 2), ...entries.slice(2));
    expect(kept.map((e) => e.attempt)).toEqual(entries.slice(3).map((e) => e.attempt));
  });
});
