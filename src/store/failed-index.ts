/**
 * The failure ledger's index: two indexed properties that only failure records carry, so listing failed tasks newest
 * first, with filters, needs no composite index (built-in single-property indexes only) and reads no payload.
 *
 * - `failedKey` (only on `failed` records): `"<shard, 4 digits>|<failed ms, 15 digits>|<name>|<queue>|<task>|<attempts>|<Cloud Task id>|<error>"`.
 *   One range per shard, read in descending order with a projection on this one property, gives a shard's failures
 *   newest first together with what a list shows and filters on (task, queue, attempts, the start of the error), so a
 *   page is served from the index alone. The shard prefix spreads the writes of a failure storm over `shards` ranges
 *   instead of one monotonic one, like the sweeper's age key.
 * - `failedTaskId` (on `failed` and `retried` records): the Cloud Task id the record is about, for finding the record
 *   from a log line's `taskName` with one equality query.
 *
 * Datastore indexes strings of at most 1,500 bytes: the error is cut so the whole value stays within
 * {@link FAILED_KEY_BYTES}.
 */

/** Longest `failedKey` in UTF-8 bytes (Datastore's limit for an indexed string is 1,500). */
export const FAILED_KEY_BYTES = 1400;
const SHARD_DIGITS = 4;
const TIME_DIGITS = 15;

/** What a `failedKey` holds. */
export interface FailedIndexEntry {
  readonly shard: number;
  /** When the task failed for good (epoch ms). */
  readonly failedMs: number;
  /** The record's key name. */
  readonly name: string;
  readonly queue: string;
  readonly task: string;
  readonly attempts: number;
  /** Id (last path segment) of the Cloud Task that failed. */
  readonly cloudTaskId: string;
  /** The start of the last error (one line, cut to fit the index). */
  readonly error: string;
  /** True when `error` is shorter than the record's `lastError`. */
  readonly errorCut: boolean;
}

/** `|` separates the fields: replace it (and line breaks) in values, which are display text or unique names. */
function field(value: string): string {
  return value.replace(/[|\r\n\t]/g, (c) => (c === '|' ? '¦' : ' '));
}

function pad(value: number, digits: number): string {
  return String(Math.max(0, Math.floor(value))).padStart(digits, '0');
}

/** Cuts `text` to at most `bytes` UTF-8 bytes without splitting a character. */
function cutToBytes(text: string, bytes: number): string {
  if (Buffer.byteLength(text) <= bytes) return text;
  let out = '';
  let used = 0;
  for (const char of text) {
    const size = Buffer.byteLength(char);
    if (used + size > bytes) break;
    out += char;
    used += size;
  }
  return out;
}

/** The `failedKey` of a failed record. */
export function formatFailedKey(entry: Omit<FailedIndexEntry, 'errorCut'>): string {
  const head = [
    pad(entry.shard, SHARD_DIGITS),
    pad(entry.failedMs, TIME_DIGITS),
    field(entry.name),
    field(entry.queue),
    field(entry.task),
    String(entry.attempts),
    field(entry.cloudTaskId),
  ].join('|');
  const error = field(entry.error);
  const room = FAILED_KEY_BYTES - Buffer.byteLength(head) - 2; // the separator, and the cut marker
  const cut = cutToBytes(error, Math.max(0, room));
  return `${head}|${cut.length < error.length ? `${cut}…` : error}`;
}

/** Reads a `failedKey` back; null when it is not one. */
export function parseFailedKey(value: unknown): FailedIndexEntry | null {
  if (typeof value !== 'string') return null;
  const parts = value.split('|');
  if (parts.length < 8 || !/^\d+$/.test(parts[0]!) || !/^\d+$/.test(parts[1]!)) return null;
  const error = parts.slice(7).join('|');
  return {
    shard: Number(parts[0]),
    failedMs: Number(parts[1]),
    name: parts[2]!,
    queue: parts[3]!,
    task: parts[4]!,
    attempts: Number(parts[5]) || 0,
    cloudTaskId: parts[6]!,
    error: error.endsWith('…') ? error.slice(0, -1) : error,
    errorCut: error.endsWith('…'),
  };
}

/**
 * A position in the ledger's order (newest first: by failure time, then name, both descending) that does not depend
 * on the shard: `"<ms>|<name>|"`. Within a shard the index sorts the same way, so `failedKey < "<shard>|<position>"`
 * is everything after the position.
 */
export function ledgerPosition(entry: Pick<FailedIndexEntry, 'failedMs' | 'name'>): string {
  return `${pad(entry.failedMs, TIME_DIGITS)}|${field(entry.name)}|`;
}

/** Everything of one shard's index that fails in [sinceMs, untilMs) and comes after `after` (a {@link ledgerPosition}). */
export function failedKeyRange(
  shard: number,
  bounds: { sinceMs?: number | null; untilMs?: number | null; after?: string | null },
): { lower: string; upper: string } {
  const prefix = `${pad(shard, SHARD_DIGITS)}|`;
  const lower = `${prefix}${pad(bounds.sinceMs ?? 0, TIME_DIGITS)}|`;
  let upper =
    bounds.untilMs === null || bounds.untilMs === undefined
      ? `${prefix}~`
      : `${prefix}${pad(bounds.untilMs, TIME_DIGITS)}|`;
  if (bounds.after) {
    const after = `${prefix}${bounds.after}`;
    if (after < upper) upper = after;
  }
  return { lower, upper };
}

/** The shard a `failedKey` is in (for the highest shard in use). */
export function shardOfFailedKey(value: unknown): number | null {
  return typeof value === 'string' && /^\d+\|/.test(value) ? Number(value.slice(0, value.indexOf('|'))) : null;
}
