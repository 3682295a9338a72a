/** A stack-free scan of raw JSON bytes for its nesting depth, so hostile payloads are refused before they are parsed. */

/**
 * True when the JSON text nests containers (`{` / `[`) deeper than `maxDepth`. Runs in one pass without recursion or
 * allocation; skips string contents (including escaped quotes). Malformed JSON is left for `JSON.parse` to report.
 */
export function jsonNestedDeeperThan(bytes: Uint8Array, maxDepth: number): boolean {
  let depth = 0;
  const n = bytes.length;
  for (let i = 0; i < n; i++) {
    const c = bytes[i];
    if (c === 0x22 /* " */) {
      let j = i;
      for (;;) {
        j = bytes.indexOf(0x22, j + 1);
        if (j < 0) return false;
        let backslashes = 0;
        for (let b = j - 1; bytes[b] === 0x5c /* \ */; b--) backslashes++;
        if ((backslashes & 1) === 0) break;
      }
      i = j;
    } else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      if (++depth > maxDepth) return true;
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      depth--;
    }
  }
  return false;
}
