/** A cloud-deferred runtime instance for the benchmark, wired to the bench stack, with logs formatted but discarded. */
import { createDeferred } from '../../src/runtime/deferred-runtime.js';
import type { Deferred, LogEntry, Logger } from '../../src/types.js';
import type { BenchStack } from './stack.js';

/** The signing secret of the benchmark's payloads. */
export const SECRET = 'bench-secret-0123456789abcdef';

/** Formats every entry like the default JSON logger does, then drops it: the cost of logging without the terminal. */
export const discardLogger: Logger & { count: number } = {
  count: 0,
  write(entry: LogEntry) {
    if (JSON.stringify(entry).length > 0) this.count++;
  },
};

/** The short id of a queue path. */
export function queueId(queuePath: string): string {
  return queuePath.slice(queuePath.lastIndexOf('/') + 1);
}

/** A runtime whose default queue is `queuePath`, writing entities into `namespace`, delivering to `handlerUrl`. */
export function benchDeferred(
  stack: BenchStack,
  options: { queuePath: string; namespace: string; handlerUrl: string; openTelemetry?: boolean },
): Deferred {
  return createDeferred({
    projectId: stack.projectId,
    location: stack.location,
    queue: queueId(options.queuePath),
    handlerUrl: options.handlerUrl,
    secret: SECRET,
    datastore: stack.datastore(options.namespace),
    tasks: stack.tasks,
    logger: discardLogger,
    // Off unless a side asks for it: the figures measure the runtime without OpenTelemetry, and its cost separately.
    openTelemetry: options.openTelemetry ?? false,
  });
}
