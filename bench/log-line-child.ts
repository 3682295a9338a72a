/** The child process of figure `log_line`: writes a worker's per-run log lines to its stdout (a pipe, as on Cloud Run) and reports the CPU it spent per line on stderr. */
import { jsonLogger } from '../src/core/logger.js';
import type { LogEntry } from '../src/types.js';

const [mode, countText] = process.argv.slice(2);
const count = Number(countText);
/** Lines per event-loop turn: the tasks a busy worker finishes together. */
const PER_TURN = 32;

// What the handler logs when a task is done, with the delivery's Cloud Logging fields (trace, labels).
const entry = (i: number): LogEntry => ({
  severity: 'INFO',
  message: 'task sendReceipt done',
  'logging.googleapis.com/trace': 'projects/bench/traces/4bf92f3577b34da6a3ce929d0e0e4736',
  'logging.googleapis.com/spanId': '00f067aa0ba902b7',
  'logging.googleapis.com/labels': { task: 'sendReceipt', queue: 'default' },
  task: 'sendReceipt',
  queue: 'default',
  taskName: `projects/bench/locations/us-central1/queues/default/tasks/${1_000_000 + i}`,
  attempt: 1,
  retryCount: 0,
  durationMs: 3,
  outcome: 'done',
});

const logger =
  mode === 'format'
    ? { write: (e: LogEntry) => void JSON.stringify(e) } // the line is built, not written
    : jsonLogger({ batch: mode === 'batched' });

const turn = () => new Promise((resolve) => setImmediate(resolve));
const before = process.cpuUsage();
for (let i = 0; i < count; i++) {
  logger.write(entry(i));
  if (i % PER_TURN === PER_TURN - 1) await turn();
}
await turn();
const used = process.cpuUsage(before);
process.stderr.write(`${JSON.stringify({ cpuMicros: used.user + used.system })}\n`);
