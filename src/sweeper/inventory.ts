/** An inventory of the transient entities in a namespace: task entities by state and age, chunks, and other underscore kinds (what `deferred stats` prints). */
import type { Datastore, Key, PropertyFilter } from '@google-cloud/datastore';
import { keyOf, propertyFilter } from '../store/datastore.js';
import { CHUNK_KIND, TASK_KIND, parseAgeKey } from '../store/schema.js';
import { keyId } from '../store/keys.js';
import { kindsToSweep } from './kinds.js';

/**
 * Age buckets of the inventory, from the age key: an unfinished entity's age since it was created; a finished one's
 * since its retention ended (still retained counts as `< 1h`), so finished entities past `< 1h` mean the sweeper is
 * behind. Finished entities written by earlier versions of cloud-deferred carry their creation time.
 */
export const AGE_BUCKETS = [
  { label: '< 1h', maxMs: 3_600_000 },
  { label: '1h - 1d', maxMs: 86_400_000 },
  { label: '1d - 7d', maxMs: 7 * 86_400_000 },
  { label: '>= 7d', maxMs: Infinity },
] as const;

/** What {@link inventory} found. */
export interface Inventory {
  /** Task entities per state (`unknown`: no state this version knows), then per age bucket label. */
  tasks: Record<string, Record<string, number>>;
  totalTasks: number;
  /** Task entities past their `expireAt`. */
  expiredTasks: number;
  chunks: number;
  /** Other underscore kinds (discovered or configured): how many entities, how many past `expireAt`. */
  kinds: Record<string, { entities: number; expired: number }>;
}

const STATES = ['pending', 'running', 'done', 'failed'] as const;

async function keysOf(
  datastore: Datastore,
  namespace: string,
  kind: string,
  filter?: PropertyFilter<string>,
): Promise<Key[]> {
  const keys: Key[] = [];
  let start: string | undefined;
  for (;;) {
    let query = datastore.createQuery(namespace, kind).select('__key__').limit(1000);
    if (filter) query = query.filter(filter);
    if (start) query = query.start(start);
    const [rows, info] = await datastore.runQuery(query);
    for (const row of rows) keys.push(keyOf(datastore, row));
    if (rows.length < 1000 || info.moreResults === 'NO_MORE_RESULTS' || !info.endCursor) return keys;
    start = info.endCursor;
  }
}

/**
 * Counts the namespace's transient entities with index-only queries (keys-only per state, a projection on `ageKey`),
 * never reading payloads.
 */
export async function inventory(
  datastore: Datastore,
  options: { namespace?: string; nowMs?: number; kinds?: readonly string[] } = {},
): Promise<Inventory> {
  const namespace = options.namespace ?? datastore.namespace ?? '';
  const nowMs = options.nowMs ?? Date.now();
  const stateOf = new Map<string, string>();
  for (const state of STATES) {
    for (const key of await keysOf(datastore, namespace, TASK_KIND, propertyFilter(datastore, 'state', '=', state))) {
      stateOf.set(keyId(key), state);
    }
  }
  const tasks: Inventory['tasks'] = {};
  let totalTasks = 0;
  let start: string | undefined;
  for (;;) {
    let query = datastore.createQuery(namespace, TASK_KIND).select('ageKey').limit(1000);
    if (start) query = query.start(start);
    const [rows, info] = await datastore.runQuery(query);
    for (const row of rows) {
      totalTasks++;
      const state = stateOf.get(keyId(keyOf(datastore, row))) ?? 'unknown';
      const since = parseAgeKey(String(row.ageKey))?.ms;
      const age = Math.max(0, nowMs - (since ?? nowMs));
      const bucket = AGE_BUCKETS.find((b) => age < b.maxMs)!.label;
      tasks[state] ??= Object.fromEntries(AGE_BUCKETS.map((b) => [b.label, 0]));
      tasks[state]![bucket]!++;
    }
    if (rows.length < 1000 || info.moreResults === 'NO_MORE_RESULTS' || !info.endCursor) break;
    start = info.endCursor;
  }
  const expiredFilter = () => propertyFilter(datastore, 'expireAt', '<=', new Date(nowMs));
  const expiredTasks = (await keysOf(datastore, namespace, TASK_KIND, expiredFilter())).length;
  const chunks = (await keysOf(datastore, namespace, CHUNK_KIND)).length;
  const kinds: Inventory['kinds'] = {};
  for (const kind of await kindsToSweep(datastore, { namespace, kinds: options.kinds })) {
    const entities = (await keysOf(datastore, namespace, kind)).length;
    const expired = (await keysOf(datastore, namespace, kind, expiredFilter())).length;
    if (entities > 0 || options.kinds?.includes(kind)) kinds[kind] = { entities, expired };
  }
  return { tasks, totalTasks, expiredTasks, chunks, kinds };
}
