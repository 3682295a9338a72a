/** The error classes of cloud-deferred, each with a stable `code` (see base.ts). */
export { DeferredError, type DeferredErrorCode } from './base.js';
export { PrerequisiteMissingError, EmulatorStartError } from './prerequisite-missing.js';
export { InvalidArgumentError } from './invalid-argument.js';
export { NotSerializableError, BadEnvelopeError } from './payload.js';
export { PermanentTaskFailure, SingularTaskFailure } from './task-failures.js';
export {
  UnregisteredTaskError,
  DuplicateTaskNameError,
  TaskAlreadyExistsError,
  UnauthenticatedError,
  ConfigurationError,
  NotFoundError,
} from './runtime.js';
