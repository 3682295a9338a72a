/** Structured logging of the sweeper: one JSON object per line, in the shape Cloud Logging reads (`severity`, `message`). */

/** Severity names as Cloud Logging understands them. */
export type Severity = 'DEBUG' | 'INFO' | 'WARNING' | 'ERROR';

/** One log entry: a severity, a message, and structured fields (shard, key, reason, stats, ...). */
export interface SweepLogEntry {
  severity: Severity;
  message: string;
  [field: string]: unknown;
}

/** Receives the sweeper's log entries. */
export type SweepLogger = (entry: SweepLogEntry) => void;

const RANK: Record<Severity, number> = { DEBUG: 0, INFO: 1, WARNING: 2, ERROR: 3 };

/**
 * A logger writing one JSON line per entry to `stream` (stdout by default, which Cloud Run and App Engine forward to
 * Cloud Logging as structured entries), dropping entries below `minSeverity`.
 */
export function jsonLogger(
  minSeverity: Severity = 'INFO',
  stream: { write(line: string): unknown } = process.stdout,
): SweepLogger {
  return (entry) => {
    if (RANK[entry.severity] < RANK[minSeverity]) return;
    stream.write(`${JSON.stringify({ component: 'cloud-deferred/sweeper', ...entry })}\n`);
  };
}

/** A logger that drops everything. */
export const silentLogger: SweepLogger = () => {};
