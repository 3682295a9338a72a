/** The sweeper's OpenTelemetry spans: one per sweep and one per shard (or shard segment), with their counts as attributes; nothing when `@opentelemetry/api` is absent. */
import { Telemetry, telemetryIf, type OtelAttributes } from '../core/telemetry.js';
import type { SweepStats } from './sweep-stats.js';

/** A sweep's counts as span attributes (`deferred.sweep.scanned`, `deferred.sweep.deleted.done`, ...). */
export function statsAttributes(stats: SweepStats): OtelAttributes {
  const attributes: OtelAttributes = {
    'deferred.sweep.scanned': stats.scanned,
    'deferred.sweep.redriven': stats.redriven,
    'deferred.sweep.kept': stats.kept,
    'deferred.sweep.errors': stats.errors,
  };
  for (const [reason, count] of Object.entries(stats.deleted)) attributes[`deferred.sweep.deleted.${reason}`] = count;
  return attributes;
}

/**
 * Runs `fn` inside a span named `name` (under the active span: a shard task's run, or the whole sweep), then sets the
 * counts of its result and ends it: ERROR when `fn` throws or the sweep counted errors, else OK.
 */
export async function tracedSweep<T extends { stats: SweepStats }>(
  name: string,
  attributes: OtelAttributes,
  fn: () => Promise<T>,
  more: (result: T) => OtelAttributes = () => ({}),
): Promise<T> {
  const otel = await telemetryIf(true);
  if (!otel) return fn();
  const { span } = otel.start(name, 'INTERNAL', 'active', attributes);
  let result: T;
  try {
    result = await otel.within(span, fn);
  } catch (error) {
    Telemetry.end(span, error);
    throw error;
  }
  try {
    for (const [key, value] of Object.entries({ ...statsAttributes(result.stats), ...more(result) })) {
      if (value !== undefined) span.setAttribute(key, value);
    }
  } catch {
    // a broken tracer must not fail a sweep
  }
  if (result.stats.errors > 0) Telemetry.end(span, undefined, `${result.stats.errors} operations failed`);
  else Telemetry.end(span);
  return result;
}
