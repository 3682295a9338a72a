// Unit tests of parseDuration: accepted forms and the one-line errors for bad ones.
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../src/errors/index.js';
import { formatDuration, parseDuration } from '../../src/util/duration.js';

describe('parseDuration', () => {
  it.each([
    ['250ms', 250],
    ['90s', 90_000],
    ['5m', 300_000],
    ['1h30m', 5_400_000],
    ['1.5h', 5_400_000],
    ['2d', 172_800_000],
    ['1w', 604_800_000],
    ['1500', 1500],
    [0, 0],
    [42, 42],
  ] as const)('parses %s', (input, ms) => {
    expect(parseDuration(input)).toBe(ms);
  });

  it.each(['', 'soon', '5 minutes', '-5m', '5x', '1h junk'])(
    'rejects %j with a one-line error naming the flag',
    (input) => {
      expect(() => parseDuration(input, '--older-than')).toThrow(InvalidArgumentError);
      expect(() => parseDuration(input, '--older-than')).toThrow(/^--older-than: .* is not a duration; write e\.g\./);
    },
  );

  it('rejects negative and non-finite numbers', () => {
    expect(() => parseDuration(-1, 'delay')).toThrow(/delay must be a non-negative number/);
    expect(() => parseDuration(Number.NaN, 'delay')).toThrow(InvalidArgumentError);
  });
});

describe('formatDuration', () => {
  it.each([
    [604_800_000, '7d'],
    [5_400_000, '1h30m'],
    [90_000, '1m30s'],
    [250, '250ms'],
    [3_600_000 + 250, '1h250ms'],
    [0, '0'],
  ] as const)('prints %d as %s, which parseDuration reads back', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
    expect(parseDuration(text)).toBe(ms);
  });
});
