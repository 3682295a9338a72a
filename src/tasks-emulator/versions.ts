/**
 * What differs between the Cloud Tasks API versions in the messages the engine reads and writes: v2beta3 nests the
 * App Engine routing override in `appEngineHttpQueue`; everything else has the same shape in both.
 */
import type { ApiVersion } from './proto.js';
import type { PlainMessage } from './messages.js';

type Queue = PlainMessage & { appEngineHttpQueue?: { appEngineRoutingOverride?: unknown } | null };

/** A queue of `version` as the engine reads it (the v2 shape, with every field v2beta3 adds). */
export function queueIn(version: ApiVersion, queue: Queue | null | undefined): PlainMessage | null | undefined {
  if (version === 'v2' || !queue) return queue;
  const { appEngineHttpQueue, queueType: _oneof, ...rest } = queue;
  return { ...rest, appEngineRoutingOverride: appEngineHttpQueue?.appEngineRoutingOverride ?? null };
}

/** A queue as the engine writes it, in the shape of `version`. */
export function queueOut(version: ApiVersion, queue: PlainMessage): PlainMessage {
  if (version === 'v2') return queue;
  const { appEngineRoutingOverride, ...rest } = queue;
  return appEngineRoutingOverride ? { ...rest, appEngineHttpQueue: { appEngineRoutingOverride } } : rest;
}

/** UpdateQueue and read mask paths of `version` in the engine's (v2) names. */
export function queueMaskIn(version: ApiVersion, paths: readonly string[]): string[] {
  if (version === 'v2') return [...paths];
  return paths.map((path) =>
    path
      .trim()
      .replace(/^(app_engine_http_queue|appEngineHttpQueue)\./, '')
      .replace(/^(app_engine_http_queue|appEngineHttpQueue)$/, 'app_engine_routing_override'),
  );
}
