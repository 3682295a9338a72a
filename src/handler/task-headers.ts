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
  const source: DeliveryHeaders['source'] =
    headers['x-cloudtasks-taskname'] !== undefined || headers['x-cloudtasks-queuename'] !== undefined
      ? 'cloudtasks'
      : headers['x-appengine-taskname'] !== undefined || headers['x-appengine-queuename'] !== undefined
        ? 'appengine'
        : 'none';
  if (source === 'none') return NO_HEADERS;
  const prefix = source === 'cloudtasks' ? 'x-cloudtasks-' : 'x-appengine-';
  const eta = headers[`${prefix}tasketa`];
  const previous = headers[`${prefix}taskpreviousresponse`];
  const reason = headers[`${prefix}taskretryreason`];
  const etaSeconds = Number(eta);
  const previousStatus = Number(previous);
  return {
    queue: headers[`${prefix}queuename`] ?? null,
    taskId: headers[`${prefix}taskname`] ?? null,
    retryCount: count(headers[`${prefix}taskretrycount`]),
    executionCount: count(headers[`${prefix}taskexecutioncount`]),
    etaMs: eta !== undefined && Number.isFinite(etaSeconds) ? Math.round(etaSeconds * 1000) : null,
    previousResponse: previous !== undefined && Number.isInteger(previousStatus) ? previousStatus : null,
    retryReason: reason === undefined || reason === '' ? null : reason,
    source,
  };
}

/** What a request without Cloud Tasks' or App Engine's headers says (a direct call). */
const NO_HEADERS: DeliveryHeaders = Object.freeze({
  queue: null,
  taskId: null,
  retryCount: 0,
  executionCount: 0,
  etaMs: null,
  previousResponse: null,
  retryReason: null,
  source: 'none',
});
