/** What the testing harness reports: a task waiting in a queue, one run of a task, and how a run's answer reads. */
import type { Key } from '@google-cloud/datastore';

/**
 * How a run ended, from the handler's answer:
 * - `done`: the function returned (`200`);
 * - `retry`: it threw (not a `PermanentTaskFailure`), or the task is not known here with `unknownTasks: 'retry'`
 *   (`500`): Cloud Tasks tries again with the queue's backoff, see `nextAttemptAt`;
 * - `failed`: it failed for good and was recorded `failed` (`PermanentTaskFailure`, `maxAttempts` spent, unknown task,
 *   arguments that cannot be decoded);
 * - `duplicate`: an entity-backed task that had already finished (a duplicate delivery ran nothing);
 * - `busy`: an entity-backed task running in another delivery (`503`);
 * - `missing`: an entity-backed task whose entity is gone (its transaction rolled back, or it was swept);
 * - `hopped`: delivered at Cloud Tasks' 30-day horizon and scheduled again, toward its ETA;
 * - `rejected`: a signed body that could not be read (`200`, logged at ERROR);
 * - `forbidden`: the handler refused the request (`403`: signature, OIDC token, App Engine header);
 * - `not-found`: no route for the request's path (`404`: another `basePath`?);
 * - `error`: the handler itself failed (`500` without a retry outcome, or another status);
 * - `no-answer`: the request got no answer (dispatch deadline passed, handler unreachable).
 */
export type RunOutcome =
  | 'done'
  | 'retry'
  | 'failed'
  | 'duplicate'
  | 'busy'
  | 'missing'
  | 'hopped'
  | 'rejected'
  | 'forbidden'
  | 'not-found'
  | 'error'
  | 'no-answer';

/** One delivery of a task to the app's handler, as the harness saw it. */
export interface TaskRun {
  /** Registered task name (from the URL `<basePath>/tasks/<name>`). */
  readonly task: string;
  /** The arguments it ran with, decoded; undefined when they could not be read (see `argsError`). */
  readonly args: readonly unknown[] | undefined;
  /** Why `args` is undefined, or null. */
  readonly argsError: string | null;
  readonly outcome: RunOutcome;
  /** The error message the handler answered (`retry`, `failed`), or null. */
  readonly error: string | null;
  /** The HTTP status of the answer, or null when there was none. */
  readonly status: number | null;
  /** 1-based: Cloud Tasks' retry count + 1. */
  readonly attempt: number;
  /** Cloud Tasks' retry count of this delivery (0 on the first). */
  readonly retryCount: number;
  /** Queue id. */
  readonly queue: string;
  /** Full Cloud Task name. */
  readonly cloudTaskName: string;
  /** Whether the task's payload and state live in a `_DeferredTask` entity. */
  readonly entityBacked: boolean;
  /** The harness clock's time of the delivery. */
  readonly at: Date;
  /** When Cloud Tasks delivers this task again (after a `retry`), or null (finished, or the queue gave up). */
  readonly nextAttemptAt: Date | null;
}

/** A task waiting in a queue. */
export interface WaitingTask {
  /** Registered task name. */
  readonly task: string;
  /** Its arguments, decoded; undefined when they could not be read (see `argsError`). */
  readonly args: readonly unknown[] | undefined;
  /** The bound environment of a closure task (`deferred.closure(...).bind(env)`), or undefined. */
  readonly bound: unknown;
  readonly argsError: string | null;
  /**
   * When it is due to run: its Cloud Task's schedule time, or, for a task due beyond Cloud Tasks' 30-day horizon, its
   * own ETA (the Cloud Task is scheduled at the horizon, then hops).
   */
  readonly eta: Date;
  /** When Cloud Tasks delivers it next (its Cloud Task's schedule time). */
  readonly nextAttemptAt: Date;
  /** Whether a `drain()` now would deliver it. */
  readonly due: boolean;
  /** Whether its queue is paused (nothing is delivered from a paused queue). */
  readonly paused: boolean;
  readonly queue: string;
  readonly cloudTaskName: string;
  /** Deliveries so far (Cloud Tasks' dispatch count). */
  readonly retryCount: number;
  readonly entityBacked: boolean;
  /** The `_DeferredTask` entity's key, for entity-backed tasks. */
  readonly entityKey: Key | null;
}

/** The outcome of an answer: its status and the handler's JSON body (`{ outcome, error }`). */
export function outcomeOf(status: number | null, body: Record<string, unknown> | null): RunOutcome {
  if (status === null) return 'no-answer';
  const said = typeof body?.outcome === 'string' ? body.outcome : undefined;
  if (status >= 200 && status < 300) {
    if (said === 'done' || said === 'failed' || said === 'duplicate' || said === 'missing' || said === 'hopped') {
      return said;
    }
    if (said === 'rejected') return 'rejected';
    return 'done';
  }
  if (status === 500 && said === 'retry') return 'retry';
  if (status === 503 && said === 'busy') return 'busy';
  if (status === 403) return 'forbidden';
  if (status === 404) return 'not-found';
  return 'error';
}
