/** Terminal output of the CLI: a one-line progress bar (TTY only), aligned tables, and human durations. */

/**
 * An aligned table: `rows` of cells under `header`. By default the first column is left-aligned and the others
 * right-aligned (counts); `align` says it per column (`l` / `r`) for tables of text.
 */
export function table(header: string[], rows: (string | number)[][], align?: string): string {
  const all = [header, ...rows.map((row) => row.map(String))];
  const widths = header.map((_, i) => Math.max(...all.map((row) => (row[i] ?? '').length)));
  const left = (i: number) => (align ? align[i] !== 'r' : i === 0);
  const line = (row: string[]) =>
    row
      .map((cell, i) => (left(i) ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(all[0]!), widths.map((w) => '-'.repeat(w)).join('  '), ...all.slice(1).map(line)].join('\n') + '\n';
}

/** `1.2 s`, `340 ms`, `2 min 5 s`: how long something took. */
export function humanMs(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
}

/** A progress bar redrawn in place on a TTY stream; silent when the stream is not a TTY. */
export class ProgressBar {
  private lastDraw = 0;
  private drawn = false;

  constructor(
    private readonly stream: NodeJS.WriteStream = process.stderr,
    private readonly width = 24,
  ) {}

  get enabled(): boolean {
    return this.stream.isTTY === true;
  }

  /**
   * Redraws (at most every 80 ms unless `force`): `[#####.....]  9/16 shards  <detail>`. `progress` (in shards, may be
   * fractional: shards part-way through count in part) fills the bar; `done` is the whole shards finished.
   */
  update(done: number, total: number, detail: string, force = false, progress = done): void {
    if (!this.enabled) return;
    const now = Date.now();
    if (!force && now - this.lastDraw < 80) return;
    this.lastDraw = now;
    const filled = total === 0 ? this.width : Math.min(this.width, Math.round((progress / total) * this.width));
    const bar = `[${'#'.repeat(filled)}${'.'.repeat(this.width - filled)}]`;
    const text = `${bar} ${done}/${total} shards  ${detail}`;
    const columns = this.stream.columns || 100;
    this.stream.write(`\r${text.slice(0, columns - 1).padEnd(Math.min(columns - 1, text.length))}\x1b[K`);
    this.drawn = true;
  }

  /** Clears the bar's line. */
  done(): void {
    if (this.enabled && this.drawn) this.stream.write('\r\x1b[K');
  }
}

/** A time as `2026-01-10 12:03:04Z` (UTC, to the second), or `-`. */
export function when(date: Date | null | undefined): string {
  if (!date || Number.isNaN(date.getTime())) return '-';
  return date
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d{3}Z$/, 'Z');
}

/** `text` on one line, cut to `max` characters with `…`. */
export function oneLine(text: string, max: number): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length <= max ? flat : `${flat.slice(0, Math.max(1, max - 1))}…`;
}
