/** The error raised when the machine lacks a tool the local stack needs (Google Cloud CLI, an emulator component, Java). */
import { DeferredError } from './base.js';

/** A prerequisite is missing; the message is one line naming what to install. */
export class PrerequisiteMissingError extends DeferredError {
  constructor(message: string) {
    super('PREREQUISITE_MISSING', message);
  }
}

/** An emulator process started but never became healthy, or exited early; `output` holds its last lines. */
export class EmulatorStartError extends DeferredError {
  readonly output: string;
  constructor(message: string, output: string) {
    super('EMULATOR_START_FAILED', message);
    this.output = output;
  }
}
