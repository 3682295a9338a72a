/** The common base of every error cloud-deferred throws: a stable machine-readable `code` plus a message that says what to do. */

/** Stable codes, one per error class; safe to switch on in user code and in logs. */
export type DeferredErrorCode =
  | 'PREREQUISITE_MISSING'
  | 'EMULATOR_START_FAILED'
  | 'INVALID_ARGUMENT'
  | 'NOT_SERIALIZABLE'
  | 'UNREGISTERED_TASK'
  | 'DUPLICATE_TASK_NAME'
  | 'TASK_ALREADY_EXISTS'
  | 'DEFER_MANY_FAILED'
  | 'BAD_ENVELOPE'
  | 'UNAUTHENTICATED'
  | 'PERMANENT_TASK_FAILURE'
  | 'SINGULAR_TASK_FAILURE'
  | 'CONFIGURATION'
  | 'RUN_LIMIT'
  | 'NOT_FOUND';

/** Base class: every error from this package is `instanceof DeferredError` and carries a stable `code`. */
export class DeferredError extends Error {
  readonly code: DeferredErrorCode;

  constructor(code: DeferredErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}
