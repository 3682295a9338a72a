/** The error raised for bad input to the API or the CLI: names what was wrong and what to do. */
import { DeferredError } from './base.js';

/** A caller passed a bad value (duration, shard count, key, option); the message names it and says what to do. */
export class InvalidArgumentError extends DeferredError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('INVALID_ARGUMENT', message, options);
  }
}
