/** A stack-free scan of raw JSON bytes for its nesting depth (so hostile payloads are refused before they are parsed) and for strings starting with `$` (so plain payloads skip the decoder). */

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const DOLLAR = 0x24;
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

/** What one scan of JSON bytes found: too deep, or within the depth and whether any string starts with `$`. */
export type JsonShape = 'too-deep' | 'plain' | 'dollar';

/**
 * Scans JSON bytes once, without recursion or allocation, skipping string contents (including escaped quotes):
 * `'too-deep'` when containers (`{` / `[`) nest deeper than `maxDepth`; else `'dollar'` when some string (a key or a
 * value) starts with `$`, else `'plain'`. Every tag of the encoder and every escaped `$` key is such a string, so a
 * `'plain'` text decodes to what `JSON.parse` gives. Malformed JSON is left for `JSON.parse` to report.
 */
export function jsonShape(bytes: Uint8Array, maxDepth: number): JsonShape {
  let depth = 0;
  let dollar = false;
  const n = bytes.length;
  for (let i = 0; i < n; i++) {
    const c = bytes[i];
    if (c === QUOTE) {
      if (bytes[i + 1] === DOLLAR) dollar = true;
      i = closingQuote(bytes, i + 1);
      if (i < 0) break;
    } else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      if (++depth > maxDepth) return 'too-deep';
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      depth--;
    }
  }
  return dollar ? 'dollar' : 'plain';
}
