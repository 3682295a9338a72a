/** Reading Cloud Tasks' request headers (HTTP targets: X-CloudTasks-*, App Engine targets: X-AppEngine-*). */

/** What Cloud Tasks says about a delivery. */
export interface DeliveryHeaders {
  /** Queue id, or null when absent. */
  readonly queue: string | null;
  /** Cloud Task id (short name), or null when absent. */
  readonly taskId: string | null;
  readonly retryCount: number;
  readonly executionCount: number;
  readonly etaMs: number | null;
  readonly previousResponse: number | null;
  readonly retryReason: string | null;
  /** Which header family was present. */
  readonly source: 'cloudtasks' | 'appengine' | 'none';
}

function count(value: string | undefined): number {
  const n = Number(value);
  return Number.isInteger(n) && n >= 0 ? n : 0;
}

/** Parses the delivery headers from a lower-cased header record. */
export function readDeliveryHeaders(headers: Readonly<Record<string, string | undefined>>): DeliveryHeaders {
  const prefix =
    headers['x-cloudtasks-taskname'] !== undefined || headers['x-cloudtasks-queuename'] !== undefined
      ? 'x-cloudtasks-'
      : headers['x-appengine-taskname'] !== undefined || headers['x-appengine-queuename'] !== undefined
        ? 'x-appengine-'
        : null;
  const get = (name: string) => (prefix ? headers[prefix + name] : undefined);
  const eta = Number(get('tasketa'));
  const previous = Number(get('taskpreviousresponse'));
  const reason = get('taskretryreason');
  return {
    queue: get('queuename') ?? null,
    taskId: get('taskname') ?? null,
    retryCount: count(get('taskretrycount')),
    executionCount: count(get('taskexecutioncount')),
    etaMs: get('tasketa') !== undefined && Number.isFinite(eta) ? Math.round(eta * 1000) : null,
    previousResponse: get('taskpreviousresponse') !== undefined && Number.isInteger(previous) ? previous : null,
    retryReason: reason === undefined || reason === '' ? null : reason,
    source: prefix === 'x-cloudtasks-' ? 'cloudtasks' : prefix === 'x-appengine-' ? 'appengine' : 'none',
  };
}
