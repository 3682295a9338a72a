/**
 * Listing failed tasks newest first from the ledger's index (`failedKey`, see store/failed-index.ts): one descending
 * range per shard, read as projections of that single property (built-in indexes only, no payload read), merged in
 * memory, filtered in memory, with a bounded scan per page and a cursor to continue.
 */
import type { Datastore } from '@google-cloud/datastore';
import { InvalidArgumentError } from '../errors/invalid-argument.js';
import { andFilter, keyOf, propertyFilter } from '../store/datastore.js';
import {
  failedKeyRange,
  ledgerPosition,
  parseFailedKey,
  shardOfFailedKey,
  type FailedIndexEntry,
} from '../store/failed-index.js';
import { formatTaskKey } from '../store/key-text.js';
import { otherRegistered } from '../store/namespace-registry.js';
import { TASK_KIND } from '../store/schema.js';
import type { FailedTaskFilter, FailedTaskPage, FailedTaskPageOptions, FailedTaskSummary } from '../types.js';

const MAX_BATCH = 500;

function int(value: number | undefined, fallback: number, min: number, max: number, what: string): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new InvalidArgumentError(`${what} must be a whole number from ${min} to ${max}, got ${String(value)}.`);
  }
  return value;
}

function epochMs(value: Date | number | undefined, what: string): number | null {
  if (value === undefined) return null;
  const ms = value instanceof Date ? value.getTime() : value;
  if (typeof ms !== 'number' || !Number.isFinite(ms)) {
    throw new InvalidArgumentError(`${what} must be a Date or epoch milliseconds, got ${String(value)}.`);
  }
  return ms;
}

function list(value: string | readonly string[] | undefined): Set<string> | null {
  if (value === undefined) return null;
  return new Set(typeof value === 'string' ? [value] : value);
}

/** The in-memory part of a filter: task, queue and error text. */
function matcherOf(filter: FailedTaskFilter): (entry: FailedIndexEntry) => boolean {
  const tasks = list(filter.task);
  const queues = list(filter.queue);
  const grep = filter.grep;
  let errorMatches: ((error: string) => boolean) | null = null;
  if (grep instanceof RegExp)
    errorMatches = (error) => new RegExp(grep.source, grep.flags.replace('g', '')).test(error);
  else if (typeof grep === 'string' && grep !== '') {
    const needle = grep.toLowerCase();
    errorMatches = (error) => error.toLowerCase().includes(needle);
  } else if (grep !== undefined && grep !== '') {
    throw new InvalidArgumentError(`grep must be a string or a RegExp, got ${typeof grep}.`);
  }
  return (entry) =>
    (!tasks || tasks.has(entry.task)) &&
    (!queues || queues.has(entry.queue)) &&
    (!errorMatches || errorMatches(entry.error));
}

/** The cursor of a page: the position of the last index entry it read. */
function encodeCursor(position: string): string {
  return Buffer.from(JSON.stringify({ v: 1, after: position })).toString('base64url');
}

function decodeCursor(cursor: string): string {
  try {
    const parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as { v?: unknown; after?: unknown };
    if (parsed.v === 1 && typeof parsed.after === 'string' && /^\d{15}\|/.test(parsed.after)) return parsed.after;
  } catch {
    // reported below
  }
  throw new InvalidArgumentError(
    'cursor is not one a page of failed tasks returned; pass the `cursor` of the previous page, or null to start over.',
  );
}

/**
 * One plus the highest shard that holds a failure record (one descending query on the index: its values start with the
 * shard), 0 when there is none. Records written with more shards than this process is configured with are listed too.
 */
async function shardsInUse(datastore: Datastore, namespace: string): Promise<number> {
  const query = datastore
    .createQuery(namespace, TASK_KIND)
    .select('failedKey')
    .order('failedKey', { descending: true })
    .limit(1);
  const [rows] = await datastore.runQuery(query);
  const shard = shardOfFailedKey(rows[0]?.failedKey);
  return shard === null ? 0 : shard + 1;
}

interface ShardReader {
  readonly shard: number;
  buffer: { entry: FailedIndexEntry; position: string; row: object }[];
  /** The position of the last entry fetched: the next query starts after it. */
  after: string | null;
  more: boolean;
  batch: number;
}

function summaryOf(datastore: Datastore, entry: FailedIndexEntry, row: object): FailedTaskSummary {
  const key = keyOf(datastore, row);
  return {
    key: formatTaskKey(key),
    entityKey: key,
    task: entry.task,
    queue: entry.queue,
    attempts: entry.attempts,
    failedAt: new Date(entry.failedMs),
    lastError: entry.error,
    lastErrorCut: entry.errorCut,
    cloudTaskId: entry.cloudTaskId,
    inline: String(key.name ?? '').startsWith('failed.'),
  };
}

/** A page of failed tasks matching `filter`, newest first (see {@link FailureLedger.list}). */
export async function listFailedTasks(
  datastore: Datastore,
  filter: FailedTaskFilter = {},
  page: FailedTaskPageOptions = {},
): Promise<FailedTaskPage> {
  const namespace = filter.namespace ?? datastore.namespace ?? '';
  const limit = int(page.limit, 50, 1, 1000, 'limit');
  const maxScan = int(page.maxScan, 1000, 1, 100_000, 'maxScan');
  const sinceMs = epochMs(filter.since, 'since');
  const untilMs = epochMs(filter.until, 'until');
  const start = page.cursor ? decodeCursor(page.cursor) : null;
  const matches = matcherOf(filter);
  const shards = await shardsInUse(datastore, namespace);
  const firstBatch = Math.min(MAX_BATCH, Math.max(5, Math.ceil((2 * limit) / Math.max(1, shards))));
  const readers: ShardReader[] = Array.from({ length: shards }, (_, shard) => ({
    shard,
    buffer: [],
    after: start,
    more: true,
    batch: firstBatch,
  }));

  const fetch = async (reader: ShardReader): Promise<void> => {
    const { lower, upper } = failedKeyRange(reader.shard, { sinceMs, untilMs, after: reader.after });
    if (lower >= upper) {
      reader.more = false;
      return;
    }
    const query = datastore
      .createQuery(namespace, TASK_KIND)
      .select('failedKey')
      .filter(
        andFilter(datastore, [
          propertyFilter(datastore, 'failedKey', '>=', lower),
          propertyFilter(datastore, 'failedKey', '<', upper),
        ]),
      )
      .order('failedKey', { descending: true })
      .limit(reader.batch);
    const [rows] = await datastore.runQuery(query);
    for (const row of rows) {
      const entry = parseFailedKey(row.failedKey);
      if (!entry) continue;
      const position = ledgerPosition(entry);
      reader.buffer.push({ entry, position, row });
      reader.after = position;
    }
    reader.more = rows.length === reader.batch;
    reader.batch = Math.min(MAX_BATCH, reader.batch * 2);
  };

  const tasks: FailedTaskSummary[] = [];
  let scanned = 0;
  let last: string | null = null;
  while (tasks.length < limit && scanned < maxScan) {
    const empty = readers.filter((r) => r.buffer.length === 0 && r.more);
    if (empty.length > 0) await Promise.all(empty.map(fetch));
    let best: ShardReader | undefined;
    for (const reader of readers) {
      if (reader.buffer.length > 0 && (!best || reader.buffer[0]!.position > best.buffer[0]!.position)) best = reader;
    }
    if (!best) break;
    const next = best.buffer.shift()!;
    scanned++;
    last = next.position;
    if (matches(next.entry)) tasks.push(summaryOf(datastore, next.entry, next.row));
  }
  const exhausted = readers.every((r) => r.buffer.length === 0 && !r.more);
  return { tasks, cursor: exhausted || last === null ? null : encodeCursor(last), scanned };
}

/** Every failed task matching `filter`, newest first, page after page (see {@link FailureLedger.matching}). */
export async function* matchingFailedTasks(
  datastore: Datastore,
  filter: FailedTaskFilter = {},
): AsyncGenerator<FailedTaskSummary> {
  let cursor: string | null = null;
  do {
    const page: FailedTaskPage = await listFailedTasks(datastore, filter, { cursor, limit: 1000 });
    yield* page.tasks;
    cursor = page.cursor;
  } while (cursor);
}

/** Most other namespaces {@link namespacesWithFailures} looks into. */
export const OTHER_NAMESPACES_CHECKED = 20;

/**
 * The namespaces besides `home` that `home`'s registry names (where that runtime writes task entities: tenants' entity
 * groups), its first {@link OTHER_NAMESPACES_CHECKED} in key order: the ones the ledger's other-namespace views look into.
 */
export function otherRegisteredNamespaces(datastore: Datastore, home: string): Promise<string[]> {
  return otherRegistered(datastore, home, OTHER_NAMESPACES_CHECKED);
}

/**
 * The namespaces besides the listed one (`filter.namespace`, else the client's) that its registry names and that hold
 * failure records matching `filter` (see {@link otherRegisteredNamespaces}), one index read each.
 */
export async function namespacesWithFailures(datastore: Datastore, filter: FailedTaskFilter = {}): Promise<string[]> {
  const others = await otherRegisteredNamespaces(datastore, filter.namespace ?? datastore.namespace ?? '');
  const found = await Promise.all(
    others.map(async (namespace) => {
      const page = await listFailedTasks(datastore, { ...filter, namespace }, { limit: 1 });
      return page.tasks.length > 0 ? namespace : null;
    }),
  );
  return found.filter((namespace): namespace is string => namespace !== null);
}
