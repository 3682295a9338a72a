/** The errors of defining, deferring and delivering tasks: unknown or duplicate names, existing Cloud Tasks, authentication, configuration, things not found. */
import { DeferredError } from './base.js';

/** `defer()` was given a function or task name that was never registered with `deferred.task(...)`. */
export class UnregisteredTaskError extends DeferredError {
  constructor(message: string) {
    super('UNREGISTERED_TASK', message);
  }
}

/** A task name was registered twice with different functions. */
export class DuplicateTaskNameError extends DeferredError {
  constructor(message: string) {
    super('DUPLICATE_TASK_NAME', message);
  }
}

/** A Cloud Task with the requested `name` exists (or existed recently) in the queue; pass `ifExists: 'ignore'` to accept that. */
export class TaskAlreadyExistsError extends DeferredError {
  /** Full Cloud Task resource name that already exists. */
  readonly cloudTaskName: string;
  constructor(cloudTaskName: string, options?: { cause?: unknown }) {
    super(
      'TASK_ALREADY_EXISTS',
      `a Cloud Task named ${cloudTaskName} already exists or existed recently (Cloud Tasks keeps names for a while); choose another name or pass ifExists: 'ignore'.`,
      options,
    );
    this.cloudTaskName = cloudTaskName;
  }
}

/** A request to the handler failed authentication (signature, OIDC token or App Engine header). Answered with 403. */
export class UnauthenticatedError extends DeferredError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('UNAUTHENTICATED', message, options);
  }
}

/** What a command or call names does not exist (a job, a record). The CLI exits 1 (`failure`). */
export class NotFoundError extends DeferredError {
  constructor(message: string) {
    super('NOT_FOUND', message);
  }
}

/** The runtime was configured inconsistently (missing project, secret, handler URL, ...); the message says what to set. */
export class ConfigurationError extends DeferredError {
  constructor(message: string) {
    super('CONFIGURATION', message);
  }
}
