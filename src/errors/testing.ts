/** The errors of the testing harness (`cloud-deferred/testing`). */
import { DeferredError } from './base.js';

/**
 * `drain()` or `advance()` ran as many tasks as `maxRuns` allows and more were still due: usually a task that defers
 * itself again with no delay. The message says how many ran and which task came last.
 */
export class RunLimitError extends DeferredError {
  constructor(message: string) {
    super('RUN_LIMIT', message);
  }
}
