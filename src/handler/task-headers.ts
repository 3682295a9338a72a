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

/** The names of one header family's fields (constant strings: looked up on every delivery). */
interface HeaderNames {
  readonly queue: string;
  readonly task: string;
  readonly retryCount: string;
  readonly executionCount: string;
  readonly eta: string;
  readonly previousResponse: string;
  readonly retryReason: string;
}

function headerNames(prefix: string): HeaderNames {
  return {
    queue: `${prefix}queuename`,
    task: `${prefix}taskname`,
    retryCount: `${prefix}taskretrycount`,
    executionCount: `${prefix}taskexecutioncount`,
    eta: `${prefix}tasketa`,
    previousResponse: `${prefix}taskpreviousresponse`,
    retryReason: `${prefix}taskretryreason`,
  };
}

const CLOUD_TASKS = headerNames('x-cloudtasks-');
const APP_ENGINE = headerNames('x-appengine-');

/** Parses the delivery headers from a lower-cased header record. */
export function readDeliveryHeaders(headers: Readonly<Record<string, string | undefined>>): DeliveryHeaders {
  const source: DeliveryHeaders['source'] =
    headers[CLOUD_TASKS.task] !== undefined || headers[CLOUD_TASKS.queue] !== undefined
      ? 'cloudtasks'
      : headers[APP_ENGINE.task] !== undefined || headers[APP_ENGINE.queue] !== undefined
        ? 'appengine'
        : 'none';
  if (source === 'none') return NO_HEADERS;
  const names = source === 'cloudtasks' ? CLOUD_TASKS : APP_ENGINE;
  const eta = headers[names.eta];
  const previous = headers[names.previousResponse];
  const reason = headers[names.retryReason];
  const etaSeconds = Number(eta);
  const previousStatus = Number(previous);
  return {
    queue: headers[names.queue] ?? null,
    taskId: headers[names.task] ?? null,
    retryCount: count(headers[names.retryCount]),
    executionCount: count(headers[names.executionCount]),
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
