/** Checking whole-number options: one rule and one message for every integer the runtime, the sweeper, the jobs and the CLI take. */
import { InvalidArgumentError } from '../errors/invalid-argument.js';

/** A range of whole numbers, both ends included; no `max`: unbounded above. */
export interface WholeNumberRange {
  readonly min: number;
  readonly max?: number;
}

/**
 * Returns `value` when it is a whole number within `range`; otherwise throws, naming the option, the range and the
 * value: `shards must be a whole number from 1 to 9999, got 1.5.` (`InvalidArgumentError` unless `error` makes
 * another, e.g. `ConfigurationError` for `createDeferred`).
 */
export function wholeNumber(
  value: unknown,
  name: string,
  range: WholeNumberRange,
  error: new (message: string) => Error = InvalidArgumentError,
): number {
  const { min, max } = range;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || (max !== undefined && value > max)) {
    const wanted = max === undefined ? `>= ${min}` : `from ${min} to ${max}`;
    throw new error(`${name} must be a whole number ${wanted}, got ${givenNumber(value)}.`);
  }
  return value;
}

/**
 * A refused number as an error message names it: as it is, but NaN (what yargs makes of a `--flag` value that is not a
 * number) as `something that is not a number`.
 */
export function givenNumber(value: unknown): string {
  return typeof value === 'number' && Number.isNaN(value) ? 'something that is not a number' : String(value);
}

/** {@link wholeNumber}, or `fallback` when `value` is undefined. */
export function optionalWholeNumber(
  value: unknown,
  fallback: number,
  name: string,
  range: WholeNumberRange,
  error?: new (message: string) => Error,
): number {
  return value === undefined ? fallback : wholeNumber(value, name, range, error);
}
