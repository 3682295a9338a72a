/** Structured JSON logging with Cloud Logging's fields, through an injectable {@link Logger}. */
import type { LogEntry, Logger, LogSeverity } from '../types.js';

const STDERR: ReadonlySet<LogSeverity> = new Set(['WARNING', 'ERROR', 'CRITICAL']);

/**
 * The default logger: one JSON object per line (Cloud Logging's structured logging format), on stdout, or on stderr
 * for WARNING and above.
 */
export const jsonLogger: Logger = {
  write(entry: LogEntry): void {
    const line = `${JSON.stringify(entry)}\n`;
    if (STDERR.has(entry.severity)) process.stderr.write(line);
    else process.stdout.write(line);
  },
};

/** A logger that keeps entries in memory (for tests and for inspecting what the runtime said). */
export class MemoryLogger implements Logger {
  readonly entries: LogEntry[] = [];
  write(entry: LogEntry): void {
    this.entries.push(entry);
  }
}

/** Writes an entry, never letting a failing logger break the runtime. */
export function log(logger: Logger, entry: LogEntry): void {
  try {
    logger.write(entry);
  } catch {
    // a broken logger must not fail a task
  }
}

/** A short, one-line description of an error for logs and `lastError`. */
export function describeError(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}
