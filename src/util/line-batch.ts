/** Batching text lines per stream: one write per event-loop turn (or per 64 KiB) instead of one per line, flushed before the process exits. */

/** What a batch writes to: `process.stdout`, `process.stderr`, or any `{ write(text) }`. */
export interface LineSink {
  write(text: string): unknown;
}

/** Bytes (UTF-16 code units) buffered before a batch writes without waiting for the end of the turn. */
export const MAX_BATCH_CHARS = 64 * 1024;

const pending = new Set<LineBatch>();
let exitHookInstalled = false;

/** Writes what every batch still holds (the process is about to exit; stdout and stderr pipes write synchronously). */
function flushAll(): void {
  for (const batch of [...pending]) batch.flush();
}

/**
 * Lines bound for one sink, joined and written once per event-loop turn. A write of a few hundred bytes costs the same
 * system call as a write of many kilobytes, so a busy worker logging a line per task spends a fraction of the CPU on
 * its logs. Lines keep their order; whatever is buffered is written on `process.on('exit')`.
 */
export class LineBatch {
  private lines: string[] = [];
  private chars = 0;

  constructor(private readonly sink: LineSink) {
    if (!exitHookInstalled) {
      exitHookInstalled = true;
      process.on('exit', flushAll);
    }
  }

  /** Adds a line (with its own trailing newline). */
  push(line: string): void {
    this.lines.push(line);
    this.chars += line.length;
    if (this.chars >= MAX_BATCH_CHARS) {
      this.flush();
      return;
    }
    // Held by `pending` from the first line of a turn until the flush at its end.
    if (!pending.has(this)) {
      pending.add(this);
      setImmediate(this.flush);
    }
  }

  /** Writes what is buffered now. */
  readonly flush = (): void => {
    pending.delete(this);
    if (this.lines.length === 0) return;
    const text = this.lines.length === 1 ? this.lines[0]! : this.lines.join('');
    this.lines = [];
    this.chars = 0;
    this.sink.write(text);
  };
}
