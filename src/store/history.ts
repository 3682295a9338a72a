/** The attempt history a task record keeps: building one attempt's entry, appending it within bounds, and its stored JSON form. */
import { ERROR_CHARS, HISTORY_LIMIT, LAST_ERROR_CHARS, STACK_CHARS, type AttemptRecord } from './schema.js';

/** `text` cut to `max` characters, marked with `…` when cut. */
export function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** A `lastError` that fits in a record. */
export function boundedError(error: string): string {
  return truncate(error, LAST_ERROR_CHARS);
}

/** One attempt's entry, with its error and stack cut to their bounds. */
export function attemptRecord(entry: {
  at: Date;
  attempt: number;
  retryCount: number;
  status: number;
  outcome: AttemptRecord['outcome'];
  error?: string;
  stack?: string;
  durationMs?: number;
  trace?: { readonly traceId: string; readonly spanId: string; readonly sampled: boolean } | null;
}): AttemptRecord {
  return {
    at: entry.at,
    attempt: entry.attempt,
    retryCount: entry.retryCount,
    status: entry.status,
    outcome: entry.outcome,
    ...(entry.error === undefined ? {} : { error: truncate(entry.error, ERROR_CHARS) }),
    ...(entry.stack === undefined ? {} : { stack: truncate(entry.stack, STACK_CHARS) }),
    ...(entry.durationMs === undefined ? {} : { durationMs: entry.durationMs }),
    ...(entry.trace
      ? { traceId: entry.trace.traceId, spanId: entry.trace.spanId, traceSampled: entry.trace.sampled }
      : {}),
  };
}

/** `history` with `entries` appended, keeping the last {@link HISTORY_LIMIT}. */
export function appendHistory(
  history: readonly AttemptRecord[] | undefined,
  ...entries: AttemptRecord[]
): AttemptRecord[] {
  const all = [...(history ?? []), ...entries];
  return all.length > HISTORY_LIMIT ? all.slice(all.length - HISTORY_LIMIT) : all;
}

/** The stored form: a JSON array (times as ISO strings). */
export function serializeHistory(history: readonly AttemptRecord[]): string {
  return JSON.stringify(history);
}

const TRACE_ID = /^[0-9a-f]{32}$/;
const SPAN_ID = /^[0-9a-f]{16}$/;

/** The trace and span of a stored entry, when both are well-formed (they end up in links and log queries). */
function traceOf(
  item: Record<string, unknown>,
): { traceId: string; spanId: string; traceSampled?: boolean } | Record<string, never> {
  const { traceId, spanId, traceSampled } = item;
  if (typeof traceId !== 'string' || !TRACE_ID.test(traceId) || typeof spanId !== 'string' || !SPAN_ID.test(spanId)) {
    return {};
  }
  return typeof traceSampled === 'boolean' ? { traceId, spanId, traceSampled } : { traceId, spanId };
}

/** Reads a stored history back; an absent or unreadable one is empty (the record stays usable). */
export function parseHistory(value: unknown): AttemptRecord[] {
  if (typeof value !== 'string' || value === '') return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    return [];
  }
  if (!Array.isArray(parsed)) return [];
  const out: AttemptRecord[] = [];
  for (const item of parsed as Record<string, unknown>[]) {
    if (!item || typeof item !== 'object') continue;
    const outcome = item.outcome;
    out.push({
      at: new Date(String(item.at)),
      attempt: Number(item.attempt) || 0,
      retryCount: Number(item.retryCount) || 0,
      status: Number(item.status) || 0,
      outcome: outcome === 'done' || outcome === 'failed' ? outcome : 'retry',
      ...(typeof item.error === 'string' ? { error: item.error } : {}),
      ...(typeof item.stack === 'string' ? { stack: item.stack } : {}),
      ...(typeof item.durationMs === 'number' ? { durationMs: item.durationMs } : {}),
      ...traceOf(item),
    });
  }
  return out;
}
