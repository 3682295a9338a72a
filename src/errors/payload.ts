/** The errors of the payload codec: values that cannot be serialized, envelopes that cannot be read. */
import { DeferredError } from './base.js';

/** A value passed to `defer()` cannot travel in a payload; `path` names it (e.g. `args[1].user.callback`) and the message says what to do. */
export class NotSerializableError extends DeferredError {
  /** Where the value sits in what was being encoded, e.g. `args[1].user.callback`. */
  readonly path: string;

  constructor(path: string, message: string, options?: { cause?: unknown }) {
    super('NOT_SERIALIZABLE', message, options);
    this.path = path;
  }
}

/** A payload is not a well-formed envelope (bad JSON, unknown version, wrong shape, nested too deep, unknown tag). */
export class BadEnvelopeError extends DeferredError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('BAD_ENVELOPE', message, options);
  }
}
