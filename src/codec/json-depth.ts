/** A stack-free scan of raw JSON bytes for its nesting depth, so hostile payloads are refused before they are parsed. */

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
/** Strings longer than this are skipped with the native `indexOf` (fast for long base64 data, slow to call for short keys). */
const SHORT_STRING = 32;

/** Index of the quote closing the string whose contents start at `start`, or -1 when it is not closed. */
function closingQuote(bytes: Uint8Array, start: number): number {
  const n = bytes.length;
  const shortEnd = Math.min(n, start + SHORT_STRING);
  let i = start;
  for (; i < shortEnd; i++) {
    const c = bytes[i];
    if (c === QUOTE) return i;
    if (c === BACKSLASH) i++;
  }
  if (i >= n) return -1;
  // Long string: jump from quote to quote; a quote preceded by an odd number of backslashes is escaped.
  let j = i - 1;
  for (;;) {
    j = bytes.indexOf(QUOTE, j + 1);
    if (j < 0) return -1;
    let backslashes = 0;
    for (let b = j - 1; b >= start && bytes[b] === BACKSLASH; b--) backslashes++;
    if ((backslashes & 1) === 0) return j;
  }
}

/**
 * True when the JSON text nests containers (`{` / `[`) deeper than `maxDepth`. Runs in one pass without recursion or
 * allocation; skips string contents (including escaped quotes). Malformed JSON is left for `JSON.parse` to report.
 */
export function jsonNestedDeeperThan(bytes: Uint8Array, maxDepth: number): boolean {
  let depth = 0;
  const n = bytes.length;
  for (let i = 0; i < n; i++) {
    const c = bytes[i];
    if (c === QUOTE) {
      i = closingQuote(bytes, i + 1);
      if (i < 0) return false;
    } else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      if (++depth > maxDepth) return true;
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      depth--;
    }
  }
  return false;
}
