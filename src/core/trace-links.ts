/**
 * Where a run's log lines and trace are found: the Cloud Logging query that selects them and the Google Cloud
 * console's pages for it (for the dashboard and the CLI; it imports nothing, so the production entry's chunks stay as
 * they are).
 */

const CONSOLE = 'https://console.cloud.google.com';

/** What a recorded attempt says about its trace (see `AttemptRecord.traceId`). */
export interface RunTrace {
  readonly traceId: string;
  readonly spanId?: string | undefined;
}

/**
 * The Cloud Logging query of a run's lines: its trace, and its span when given (each attempt of a task has a span of
 * its own in the task's trace). The trace is named in `projectId`, as the runtime names it in its lines.
 *
 * @example
 * runLogQuery('my-shop', { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7' });
 * // 'trace="projects/my-shop/traces/4bf92f3577b34da6a3ce929d0e0e4736" AND spanId="00f067aa0ba902b7"'
 */
export function runLogQuery(projectId: string, trace: RunTrace): string {
  // The trace as the runtime's lines name it (trace-context's traceResource; a unit test holds the two together).
  const byTrace = `trace="projects/${projectId}/traces/${trace.traceId}"`;
  return trace.spanId ? `${byTrace} AND spanId="${trace.spanId}"` : byTrace;
}

/** The Logs Explorer showing the lines of {@link runLogQuery}. */
export function logsExplorerUrl(projectId: string, trace: RunTrace): string {
  return `${CONSOLE}/logs/query;query=${encodeURIComponent(runLogQuery(projectId, trace))}?project=${encodeURIComponent(projectId)}`;
}

/** Cloud Trace's page of the trace. */
export function traceExplorerUrl(projectId: string, trace: RunTrace): string {
  return `${CONSOLE}/traces/list?tid=${encodeURIComponent(trace.traceId)}&project=${encodeURIComponent(projectId)}`;
}
