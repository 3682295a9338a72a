/** Terminal output of the CLI: a one-line progress bar (TTY only), aligned tables, and human durations. */

/** A right-aligned-numbers table: `rows` of cells, the first column left-aligned. */
export function table(header: string[], rows: (string | number)[][]): string {
  const all = [header, ...rows.map((row) => row.map(String))];
  const widths = header.map((_, i) => Math.max(...all.map((row) => (row[i] ?? '').length)));
  const line = (row: string[]) =>
    row
      .map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(all[0]!), widths.map((w) => '-'.repeat(w)).join('  '), ...all.slice(1).map(line)].join('\n') + '\n';
}

/** `1.2 s`, `340 ms`, `2 min 5 s`. */
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

  /** Redraws (at most every 80 ms unless `force`): `[#####.....]  9/16 shards  <detail>`. */
  update(done: number, total: number, detail: string, force = false): void {
    if (!this.enabled) return;
    const now = Date.now();
    if (!force && now - this.lastDraw < 80) return;
    this.lastDraw = now;
    const filled = total === 0 ? this.width : Math.round((done / total) * this.width);
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
