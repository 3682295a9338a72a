/** Human durations (`90s`, `5m`, `1h30m`, `2d`, or milliseconds as a number): parsing them for options and CLI flags, and printing them. */
import { InvalidArgumentError } from '../errors/invalid-argument.js';

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/**
 * Converts a duration to milliseconds: a non-negative number is taken as milliseconds; a string is one or more
 * `<number><unit>` parts with units ms, s, m, h, d, w (`'90s'`, `'1h30m'`, `'1.5h'`).
 *
 * @param what names the option or flag in the error message, e.g. `'--older-than'`.
 * @throws InvalidArgumentError naming `what`, the bad value and the accepted forms.
 * @example parseDuration('1h30m') // 5_400_000
 */
export function parseDuration(value: string | number, what = 'duration'): number {
  if (typeof value === 'number') {
    if (Number.isFinite(value) && value >= 0) return value;
    throw new InvalidArgumentError(`${what} must be a non-negative number of milliseconds, got ${value}.`);
  }
  const text = String(value).trim();
  if (/^\d+(\.\d+)?$/.test(text)) return Number(text);
  const part = /(\d+(?:\.\d+)?)(ms|s|m|h|d|w)/gy;
  let total = 0;
  let matched = 0;
  let match: RegExpExecArray | null;
  while ((match = part.exec(text)) !== null) {
    total += Number(match[1]) * UNIT_MS[match[2]!]!;
    matched = part.lastIndex;
  }
  if (text === '' || matched !== text.length) {
    throw new InvalidArgumentError(
      `${what}: "${value}" is not a duration; write e.g. "90s", "5m", "1h30m", "2d" (units ms, s, m, h, d, w) or a number of milliseconds.`,
    );
  }
  return total;
}

const PRINT_UNITS: [string, number][] = [
  ['d', 86_400_000],
  ['h', 3_600_000],
  ['m', 60_000],
  ['s', 1000],
];

/**
 * Milliseconds as the shortest duration {@link parseDuration} reads back exactly: `7d`, `1h30m`, `90s` (as `1m30s`),
 * `250ms`, `0`. Weeks are left as days (`14d`), which reads better.
 *
 * @example formatDuration(604_800_000) // '7d'
 */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return String(ms);
  if (ms === 0) return '0';
  const sign = ms < 0 ? '-' : '';
  let rest = Math.abs(ms);
  let out = '';
  for (const [unit, size] of PRINT_UNITS) {
    if (rest >= size) {
      out += `${Math.floor(rest / size)}${unit}`;
      rest %= size;
    }
  }
  if (rest > 0) out += `${Math.round(rest * 1000) / 1000}ms`;
  return sign + out;
}
