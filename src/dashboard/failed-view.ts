/** The failed-tasks view: the runtime's failure ledger (`deferred.failures`) listed with filters, one record with its history, and Retry / Discard of one, several or all matching. */
import { InvalidArgumentError } from '../errors/invalid-argument.js';
import { formatArgs } from '../sweeper/inspect-task.js';
import type { DiscardResult, FailureLedger, RetryResult } from '../types.js';
import { parseDuration } from '../util/duration.js';
import { namespaceName } from '../store/namespace-registry.js';
import { attemptLinks } from '../core/trace-links.js';

/** A filter as the page sends it: task name, queue id, error text, and since (epoch milliseconds); and the namespace. */
interface LedgerFilter {
  namespace?: string;
  task?: string;
  queue?: string;
  since?: number;
  grep?: string;
}

type LedgerResult = RetryResult | DiscardResult;

/** Most records listed on one page, and most index entries one page reads. */
const PAGE = 25;
const MAX_SCAN = 2000;

/** The filter of the page's query string or request body: task, queue, since (a duration: failed within it), error text. */
export function filterOf(input: Record<string, unknown>): LedgerFilter {
  const filter: LedgerFilter = {};
  const text = (name: string) => {
    const value = input[name];
    if (value === undefined || value === null || value === '') return undefined;
    if (typeof value !== 'string' || value.length > 500) throw new InvalidArgumentError(`${name} must be text.`);
    return value;
  };
  const task = text('task');
  const queue = text('queue');
  const grep = text('grep');
  const since = text('since');
  if (task) filter.task = task;
  if (queue) filter.queue = queue;
  if (grep) filter.grep = grep;
  if (since) filter.since = Date.now() - parseDuration(since, 'since');
  return filter;
}

const iso = (date: Date | null | undefined) => (date instanceof Date ? date.toISOString() : null);

/**
 * The namespaces besides `filter.namespace` that hold records matching the filter: `home` (the dashboard's own) when
 * another is listed, then those its registry names.
 */
async function elsewhereOf(ledger: FailureLedger, filter: LedgerFilter, home: string): Promise<string[]> {
  const listed = filter.namespace ?? home;
  const [inHome, registered] = await Promise.all([
    listed === home ? false : ledger.list({ ...filter, namespace: home }, { limit: 1 }).then((p) => p.tasks.length > 0),
    // The registry is the home namespace's: otherNamespaces reads the one of the namespace it is given.
    ledger.otherNamespaces({ ...filter, namespace: home }),
  ]);
  return [...(inHome ? [home] : []), ...registered.filter((namespace) => namespace !== listed)];
}

/**
 * A page of failed tasks of `filter.namespace`, newest first, and (on the first page) the other namespaces that hold
 * matching ones.
 */
export async function listFailed(
  ledger: FailureLedger,
  filter: LedgerFilter,
  cursor: string | undefined,
  home: string,
) {
  const [page, elsewhere] = await Promise.all([
    ledger.list(filter, { limit: PAGE, cursor: cursor ?? null, maxScan: MAX_SCAN }),
    // The other namespaces holding matching records (tenants' entity groups), said once, on the first page.
    cursor ? Promise.resolve([]) : elsewhereOf(ledger, filter, home),
  ]);
  return {
    namespace: filter.namespace ?? home,
    elsewhere,
    rows: page.tasks.map((t) => ({
      key: t.key,
      task: t.task,
      queue: t.queue,
      attempts: t.attempts,
      failedAt: iso(t.failedAt),
      lastError: t.lastError,
      lastErrorCut: t.lastErrorCut,
      cloudTaskId: t.cloudTaskId,
      inline: t.inline,
    })),
    next: page.cursor,
    scanned: page.scanned,
  };
}

/**
 * One failure record: its attempts (each with where its log lines and trace are, when it had a trace: the trace is
 * named in `projectId`, as the runtime names it in its lines) and its stored call, for the task view.
 */
export async function readFailed(ledger: FailureLedger, key: string, namespace: string, projectId: string) {
  const record = await ledger.get(key, { namespace });
  if (!record) return null;
  const payload = record.payload;
  return {
    key: record.key,
    state: record.state,
    inline: record.inline,
    failedAt: iso(record.failedAt),
    history: record.history.map((a) => ({
      ...a,
      at: iso(a.at),
      ...attemptLinks(projectId, record.task, a),
    })),
    args: 'error' in payload ? null : payload.args ? formatArgs(payload.args) : null,
    retried: record.retried ? { ...record.retried, at: iso(record.retried.at) } : null,
  };
}

/**
 * Retry or discard: the keys given, or every record matching the filter, in `where.namespace` (checked by the
 * caller); a dry run says what it would do.
 */
export async function changeFailed(
  ledger: FailureLedger,
  action: 'retry' | 'discard',
  body: Record<string, unknown>,
  where: { readonly namespace: string; readonly home: string },
): Promise<{ message: string; target?: string; results: LedgerResult[]; dryRun: boolean }> {
  const { namespace } = where;
  const dryRun = body.dryRun === true;
  let results: LedgerResult[];
  let target: string;
  if (Array.isArray(body.keys)) {
    const keys = body.keys;
    if (keys.length === 0 || keys.length > 500 || !keys.every((k) => typeof k === 'string' && k.length < 1500)) {
      throw new InvalidArgumentError('keys must be a list of 1 to 500 record keys.');
    }
    results =
      action === 'retry'
        ? await ledger.retry(keys as string[], { dryRun, namespace })
        : await ledger.discard(keys as string[], { dryRun, namespace });
    target = keys.length === 1 ? (keys[0] as string) : `${keys.length} records`;
  } else if (body.filter && typeof body.filter === 'object') {
    const asked = filterOf(body.filter as Record<string, unknown>);
    const filter = { ...asked, namespace };
    results =
      action === 'retry'
        ? await ledger.retryMatching(filter, { dryRun })
        : await ledger.discardMatching(filter, { dryRun });
    target = `all matching ${JSON.stringify(asked)}`;
  } else {
    throw new InvalidArgumentError('give keys (a list of record keys) or filter (task, queue, since, grep).');
  }
  if (namespace !== where.home) target += ` in ${namespaceName(namespace)}`;
  const done = results.filter((r) => ['retried', 'discarded', 'would-retry', 'would-discard'].includes(r.status));
  const verb = dryRun ? `would ${action}` : action === 'retry' ? 'retried' : 'discarded';
  const others = results.length - done.length;
  return {
    message: `${verb} ${done.length} of ${results.length}${others ? ` (${others} not: ${[...new Set(results.filter((r) => !done.includes(r)).map((r) => r.status))].join(', ')})` : ''}`,
    target,
    results,
    dryRun,
  };
}

/**
 * Failures per hour over the last 24 hours, from the ledger's index (newest first). At most about `limit` index
 * entries are read (each billed as one entity read); beyond them the counts are marked `capped`.
 */
export async function failuresByHour(ledger: FailureLedger, nowMs: number, limit = 1000) {
  const hour = 3_600_000;
  const end = Math.floor(nowMs / hour) * hour + hour;
  const start = end - 24 * hour;
  const counts = new Array<number>(24).fill(0);
  let cursor: string | null = null;
  let read = 0;
  let capped = false;
  do {
    const page = await ledger.list({ since: start }, { limit: 1000, cursor, maxScan: Math.max(1, limit - read) });
    for (const t of page.tasks) {
      const i = Math.floor((t.failedAt.getTime() - start) / hour);
      if (i >= 0 && i < 24) counts[i]!++;
    }
    read += page.scanned;
    cursor = page.cursor;
    if (read >= limit && cursor) capped = true;
  } while (cursor && !capped);
  return {
    hours: counts.map((n, i) => ({ start: new Date(start + i * hour).toISOString(), failed: n })),
    capped,
  };
}
