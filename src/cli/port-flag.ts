/** Checking a port flag (`--port`, `--tasks-port`, ...): one rule and one message for every command that listens. */
import { InvalidArgumentError } from '../errors/index.js';
import { givenNumber } from '../util/whole-number.js';

/** Throws unless `value` is a port number, 0 meaning a free one. */
export function checkPort(value: unknown, flag: string): void {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 65535) {
    throw new InvalidArgumentError(
      `${flag} must be a port number from 0 to 65535 (0 = a free port), got ${givenNumber(value)}.`,
    );
  }
}
