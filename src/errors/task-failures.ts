/** The errors a task function throws to tell the handler how its run ended: permanently failed, or retry quietly. */
import { DeferredError } from './base.js';

/**
 * Throw from a task to fail it for good: the handler answers 2xx (Cloud Tasks does not retry), records the task as
 * `failed` with this message, and logs it at ERROR.
 *
 * @example
 * if (!user) throw new PermanentTaskFailure(`user ${id} is gone; nothing to report`);
 */
export class PermanentTaskFailure extends DeferredError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('PERMANENT_TASK_FAILURE', message, options);
  }
}

/**
 * Throw from a task to have this attempt retried without an error log (logged at INFO): for expected, transient
 * conditions such as "the upstream is not ready yet". Any other error is retried too, but logged at ERROR.
 *
 * @example
 * if (!report.ready) throw new SingularTaskFailure('report not ready yet');
 */
export class SingularTaskFailure extends DeferredError {
  constructor(message = 'task asked to be retried', options?: { cause?: unknown }) {
    super('SINGULAR_TASK_FAILURE', message, options);
  }
}
