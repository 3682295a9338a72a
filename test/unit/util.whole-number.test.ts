// wholeNumber: the one integer rule and message of every option, and the one shard-count range.
import { describe, expect, it } from 'vitest';
import { ConfigurationError, InvalidArgumentError } from '../../src/errors/index.js';
import { MAX_SHARDS, SHARD_COUNT } from '../../src/store/schema.js';
import { optionalWholeNumber, wholeNumber } from '../../src/util/whole-number.js';

describe('wholeNumber', () => {
  it('returns a whole number in range, and the fallback for undefined', () => {
    expect(wholeNumber(5, 'shards', SHARD_COUNT)).toBe(5);
    expect(wholeNumber(0, 'shard', { min: 0 })).toBe(0);
    expect(optionalWholeNumber(undefined, 16, 'shards', SHARD_COUNT)).toBe(16);
  });

  it.each([
    [1.5, 'shards must be a whole number from 1 to 9999, got 1.5.'],
    [0, 'shards must be a whole number from 1 to 9999, got 0.'],
    [10_000, 'shards must be a whole number from 1 to 9999, got 10000.'],
    ['4', 'shards must be a whole number from 1 to 9999, got 4.'],
    [Number.NaN, 'shards must be a whole number from 1 to 9999, got something that is not a number.'],
  ])('refuses %j, naming the option, the range and the value', (value, message) => {
    expect(() => wholeNumber(value, 'shards', SHARD_COUNT)).toThrow(new InvalidArgumentError(message));
  });

  it('says ">= min" without a maximum, and throws the error class it is given', () => {
    expect(() => wholeNumber(-1, 'pageSize', { min: 1 })).toThrow('pageSize must be a whole number >= 1, got -1.');
    expect(() => wholeNumber(-1, 'shards', SHARD_COUNT, ConfigurationError)).toThrow(ConfigurationError);
  });

  it('the shard count stops where an age key runs out of digits (4)', () => {
    expect(MAX_SHARDS).toBe(9999);
  });
});
