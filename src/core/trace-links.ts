/**
 * Where one attempt's log lines and trace are found: the Cloud Logging query that selects them and the Google Cloud
 * console's pages for it (for the dashboard and the CLI; it imports nothing at run time, so the production entry's
 * chunks stay as they are).
 */
import type { AttemptRecord } from '../types.js';

const CONSOLE = 'https://console.cloud.google.com';
/** Slack around an attempt's run in its query's time window: the clocks of the instance and of Cloud Logging differ. */
const WINDOW_SLACK_MS = 5 * 60_000;

/** One recorded attempt of a task, as far as finding its lines goes (see `AttemptRecord`). */
export interface TracedAttempt {
  /** The registered task name (the lines' `task` label). */
  readonly task: string;
  /** The 1-based attempt (the lines' `attempt` label). */
  readonly attempt: number;
  /** When the attempt ended. */
  readonly at: Date;
  /** How long its run took, if recorded. */
  readonly durationMs?: number | undefined;
  /** The trace it ran in (32 hex digits). */
  readonly traceId: string;
  /** The span its lines belong to (16 hex digits), if recorded. */
  readonly spanId?: string | undefined;
  /** The trace's sampled flag, if recorded: an unsampled trace is not in Cloud Trace. */
  readonly traceSampled?: boolean | undefined;
}

/** A string as a Cloud Logging query's double-quoted literal. */
function quoted(text: string): string {
  return `"${text.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

/**
 * The Cloud Logging query of one attempt's lines: its trace and span (the same for every attempt without
 * OpenTelemetry: the span the task carried), its task and attempt labels (which tell the attempts, and the hops of a
 * chain, apart), and a window around its run, so the query needs no time range of its own (`gcloud logging read`
 * looks back one day by default; failure records are kept seven days by default). The trace is named in
 * `projectId`, as the runtime names it in its lines.
 *
 * @example
 * runLogQuery('my-shop', { task: 'sendReceipt', attempt: 2, at: new Date('2026-12-04T10:00:00Z'), traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7' });
 * // 'trace="projects/my-shop/traces/4bf9…" AND spanId="00f0…" AND labels.task="sendReceipt" AND labels.attempt="2"
 * //  AND timestamp>="2026-12-04T09:55:00.000Z" AND timestamp<="2026-12-04T10:05:00.000Z"'
 */
export function runLogQuery(projectId: string, attempt: TracedAttempt): string {
  const endMs = attempt.at.getTime();
  const startMs = endMs - (attempt.durationMs ?? 0);
  return [
    // The trace as the runtime's lines name it (trace-context's traceResource; a unit test holds the two together).
    `trace=${quoted(`projects/${projectId}/traces/${attempt.traceId}`)}`,
    ...(attempt.spanId ? [`spanId=${quoted(attempt.spanId)}`] : []),
    `labels.task=${quoted(attempt.task)}`,
    `labels.attempt=${quoted(String(attempt.attempt))}`,
    `timestamp>=${quoted(new Date(startMs - WINDOW_SLACK_MS).toISOString())}`,
    `timestamp<=${quoted(new Date(endMs + WINDOW_SLACK_MS).toISOString())}`,
  ].join(' AND ');
}

/** The Logs Explorer showing the lines of {@link runLogQuery} (its time window is in the query). */
export function logsExplorerUrl(projectId: string, attempt: TracedAttempt): string {
  return `${CONSOLE}/logs/query;query=${encodeURIComponent(runLogQuery(projectId, attempt))}?project=${encodeURIComponent(projectId)}`;
}

/** Cloud Trace's page of the attempt's trace; null when the trace was not sampled (Cloud Trace then has none). */
export function traceExplorerUrl(projectId: string, attempt: TracedAttempt): string | null {
  if (attempt.traceSampled === false) return null;
  return `${CONSOLE}/traces/list?tid=${encodeURIComponent(attempt.traceId)}&project=${encodeURIComponent(projectId)}`;
}

/**
 * Where one recorded attempt of `task` has its lines and trace, for a record's view (dashboard API, CLI); null when
 * the attempt had no trace.
 */
export function attemptLinks(
  projectId: string,
  task: string,
  record: AttemptRecord,
): { logQuery: string; logsUrl: string; traceUrl: string | null } | null {
  if (!record.traceId) return null;
  const attempt: TracedAttempt = { ...record, task, traceId: record.traceId };
  return {
    logQuery: runLogQuery(projectId, attempt),
    logsUrl: logsExplorerUrl(projectId, attempt),
    traceUrl: traceExplorerUrl(projectId, attempt),
  };
}
