/** The one logging model of cloud-deferred: structured entries with Cloud Logging's severities, written to an injectable {@link Logger} (JSON lines by default). */
import type { LogEntry, Logger, LogSeverity } from '../types.js';
import { deliveryLogFields } from './run-context.js';
import { LineBatch, type LineSink } from '../util/line-batch.js';

const RANK: Readonly<Record<LogSeverity, number>> = { DEBUG: 0, INFO: 1, NOTICE: 2, WARNING: 3, ERROR: 4, CRITICAL: 5 };

/**
 * `fields` with `entry`'s own fields over them, in that order. Object.assign, not `{ ...fields, ...entry }`: on Node 20
 * V8 builds that literal slowly (microseconds a line; see the README's Performance section, figure `run`).
 */
function withFields(fields: Readonly<Record<string, unknown>>, entry: LogEntry): LogEntry {
  return Object.assign({}, fields, entry);
}

/** Options of {@link jsonLogger}. */
export interface JsonLoggerOptions {
  /** Entries below this severity are dropped. @default 'DEBUG' (everything) */
  readonly minSeverity?: LogSeverity;
  /** Fields added to every line before the entry's own (e.g. `{ component: 'my-worker' }`). @default none */
  readonly fields?: Readonly<Record<string, unknown>>;
  /**
   * Where every line goes. @default stdout, and stderr for WARNING and above (Cloud Run and App Engine forward both to
   * Cloud Logging, which reads each line's `severity`)
   */
  readonly stream?: LineSink;
  /**
   * Join the lines of one event-loop turn into one write per stream (up to 64 KiB each), instead of one write per line.
   * A worker logs a line per task: batched, a line costs about half the CPU (one system call for many lines; see
   * the README's Performance section, figure `log_line`). Cloud Logging still gets one entry per line. Buffered lines
   * are written before the process exits, but a process killed by a signal (`SIGKILL`, an out-of-memory kill) loses
   * the lines of its last turn.
   * @default false
   */
  readonly batch?: boolean;
}

/**
 * A logger writing one JSON object per line: Cloud Logging's structured logging format (`severity` and `message` are
 * recognised; the other fields land in `jsonPayload`).
 *
 * @example
 * createDeferred({ ...config, logger: jsonLogger({ minSeverity: 'INFO' }) });
 * sweep({ datastore, tasks, log: jsonLogger({ minSeverity: 'WARNING', stream: process.stderr }) });
 * createDeferred({ ...config, logger: jsonLogger({ batch: true }) }); // a busy worker: one write per turn
 */
export function jsonLogger(options: JsonLoggerOptions = {}): Logger {
  const min = RANK[options.minSeverity ?? 'DEBUG'];
  const fields = options.fields;
  const { stream } = options;
  if (options.batch) {
    const out = new LineBatch(stream ?? process.stdout);
    const err = stream ? out : new LineBatch(process.stderr);
    return {
      write(entry: LogEntry): void {
        if (RANK[entry.severity] < min) return;
        const line = `${JSON.stringify(fields ? withFields(fields, entry) : entry)}\n`;
        (RANK[entry.severity] >= RANK.WARNING ? err : out).push(line);
      },
    };
  }
  return {
    write(entry: LogEntry): void {
      if (RANK[entry.severity] < min) return;
      const line = `${JSON.stringify(fields ? withFields(fields, entry) : entry)}\n`;
      if (stream) stream.write(line);
      else if (RANK[entry.severity] >= RANK.WARNING) process.stderr.write(line);
      else process.stdout.write(line);
    },
  };
}

/** The runtime's default logger: {@link jsonLogger} with its defaults. */
export const defaultLogger: Logger = jsonLogger();

/** A logger that drops everything. */
export const silentLogger: Logger = { write: () => undefined };

/** A logger that keeps entries in memory (for tests and for inspecting what the runtime said). */
export class MemoryLogger implements Logger {
  readonly entries: LogEntry[] = [];
  write(entry: LogEntry): void {
    this.entries.push(entry);
  }
}

/**
 * Writes an entry, never letting a failing logger break the runtime. While a delivery is handled, the entry gets its
 * Cloud Logging trace fields and labels (the entry's own fields win).
 */
export function log(logger: Logger, entry: LogEntry): void {
  try {
    const fields = deliveryLogFields();
    logger.write(fields ? withFields(fields, entry) : entry);
  } catch {
    // a broken logger must not fail a task (or a sweep)
  }
}

/**
 * Writes an entry as it is (no delivery fields merged in: it carries them already, see `handler/run-log.ts`), never
 * letting a failing logger break the runtime.
 */
export function writeLog(logger: Logger, entry: LogEntry): void {
  try {
    logger.write(entry);
  } catch {
    // a broken logger must not fail a task
  }
}

/** True when `severity` is `than` or more severe. */
export function atLeast(severity: LogSeverity, than: LogSeverity): boolean {
  return RANK[severity] >= RANK[than];
}

/** A short, one-line description of an error for logs and `lastError`. */
export function describeError(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}
