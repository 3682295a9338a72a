/** An inventory of the transient entities in the namespaces a runtime writes to: task entities by state and age, chunks, and other underscore kinds (what `deferred stats` prints). */
import type { Datastore, Key, PropertyFilter } from '@google-cloud/datastore';
import pLimit from 'p-limit';
import { andFilter, keyOf, propertyFilter } from '../store/datastore.js';
import { CHUNK_KIND, TASK_KIND, ageKeyRange, finishedAgeKeyRange, parseAgeKey } from '../store/schema.js';
import { keyId } from '../store/keys.js';
import type { Logger } from '../types.js';
import { kindsToSweep } from './kinds.js';
import { namespacesToSweep } from './sweep-namespaces.js';

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

const STATES = ['pending', 'running', 'done', 'failed', 'retried'] as const;

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
  options: { namespace?: string; nowMs?: number; kinds?: readonly string[]; otherKinds?: boolean } = {},
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
  for await (const { rows } of ageKeyPages(datastore, namespace)) {
    for (const row of rows) {
      totalTasks++;
      const state = stateOf.get(keyId(keyOf(datastore, row))) ?? 'unknown';
      const since = parseAgeKey(String(row.ageKey))?.ms;
      const age = Math.max(0, nowMs - (since ?? nowMs));
      const bucket = AGE_BUCKETS.find((b) => age < b.maxMs)!.label;
      tasks[state] ??= Object.fromEntries(AGE_BUCKETS.map((b) => [b.label, 0]));
      tasks[state]![bucket]!++;
    }
  }
  const expiredFilter = () => propertyFilter(datastore, 'expireAt', '<=', new Date(nowMs));
  const expiredTasks = (await keysOf(datastore, namespace, TASK_KIND, expiredFilter())).length;
  const chunks = (await keysOf(datastore, namespace, CHUNK_KIND)).length;
  const kinds: Inventory['kinds'] = {};
  const otherKinds =
    options.otherKinds === false ? [] : await kindsToSweep(datastore, { namespace, kinds: options.kinds });
  for (const kind of otherKinds) {
    const entities = (await keysOf(datastore, namespace, kind)).length;
    const expired = (await keysOf(datastore, namespace, kind, expiredFilter())).length;
    if (entities > 0 || options.kinds?.includes(kind)) kinds[kind] = { entities, expired };
  }
  return { tasks, totalTasks, expiredTasks, chunks, kinds };
}

/** The inventory of several namespaces: their sum, and each one's. */
export interface NamespacesInventory extends Inventory {
  /** Each namespace's inventory with its name (`''`: the default namespace), the runtime's own first. */
  namespaces: (Inventory & { namespace: string })[];
}

/** Adds `b` into `a` (mutates and returns `a`). */
function addInventory(a: Inventory, b: Inventory): Inventory {
  for (const [state, buckets] of Object.entries(b.tasks)) {
    a.tasks[state] ??= Object.fromEntries(AGE_BUCKETS.map((bucket) => [bucket.label, 0]));
    for (const [label, n] of Object.entries(buckets)) a.tasks[state]![label] = (a.tasks[state]![label] ?? 0) + n;
  }
  a.totalTasks += b.totalTasks;
  a.expiredTasks += b.expiredTasks;
  a.chunks += b.chunks;
  for (const [kind, counts] of Object.entries(b.kinds)) {
    a.kinds[kind] = {
      entities: (a.kinds[kind]?.entities ?? 0) + counts.entities,
      expired: (a.kinds[kind]?.expired ?? 0) + counts.expired,
    };
  }
  return a;
}

/**
 * The inventory of the runtime's own namespace (`namespace`, default: the client's) and of every namespace a sweep
 * covers (its registry, `namespaces`, and with `discover` every namespace the store lists): their sum at the top, each
 * one under `namespaces`. Other underscore kinds are counted in the runtime's own namespace only.
 */
export async function inventoryAll(
  datastore: Datastore,
  options: {
    namespace?: string;
    namespaces?: readonly string[];
    discover?: boolean;
    nowMs?: number;
    kinds?: readonly string[];
    /** Warned when `discover` was asked for but the store does not answer `__namespace__` queries. @default nothing */
    log?: Logger;
  } = {},
): Promise<NamespacesInventory> {
  const home = options.namespace ?? datastore.namespace ?? '';
  const nowMs = options.nowMs ?? Date.now();
  const list = await namespacesToSweep(datastore, {
    home,
    namespaces: options.namespaces,
    discover: options.discover,
    log: options.log,
  });
  const total: Inventory = { tasks: {}, totalTasks: 0, expiredTasks: 0, chunks: 0, kinds: {} };
  const namespaces: NamespacesInventory['namespaces'] = [];
  for (const namespace of list) {
    const found =
      namespace === home
        ? await inventory(datastore, { namespace, nowMs, kinds: options.kinds })
        : await inventory(datastore, { namespace, nowMs, kinds: [], otherKinds: false });
    namespaces.push({ namespace, ...found });
    addInventory(total, structuredClone(found));
  }
  return { ...total, namespaces };
}

/** What a sweep with a given cut-off leaves unread: see {@link notYetSweepable}. */
export interface NotYetSweepable {
  /** Unfinished task entities created at or after the cut-off (younger than `--older-than`). */
  younger: number;
  /** Finished ones whose retention has not ended by `nowMs`. */
  retained: number;
  /** True when counting stopped at the limit (the counts are lower bounds). */
  capped: boolean;
}

/**
 * Counts the task entities a sweep at `nowMs` with this age cut-off does not read (why it `scanned 0`): one index-only
 * projection on `ageKey`, at most `limit` entries read.
 */
export async function notYetSweepable(
  datastore: Datastore,
  options: { namespace?: string; cutoffMs: number; nowMs: number; limit?: number },
): Promise<NotYetSweepable> {
  const namespace = options.namespace ?? datastore.namespace ?? '';
  const limit = options.limit ?? 100_000;
  const found: NotYetSweepable = { younger: 0, retained: 0, capped: false };
  let read = 0;
  for await (const { rows, more } of ageKeyPages(datastore, namespace)) {
    for (const row of rows) {
      const age = parseAgeKey(String(row.ageKey));
      if (!age) continue;
      if (age.finished ? age.ms > options.nowMs : age.ms >= options.cutoffMs) {
        if (age.finished) found.retained++;
        else found.younger++;
      }
    }
    read += rows.length;
    if (more && read >= limit) return { ...found, capped: true };
  }
  return found;
}

/** Every task entity of the namespace with its age key (an index-only projection on `ageKey`), 1,000 a page. */
async function* ageKeyPages(
  datastore: Datastore,
  namespace: string,
): AsyncGenerator<{ rows: Record<string | symbol, unknown>[]; more: boolean }> {
  let start: string | undefined;
  for (;;) {
    let query = datastore.createQuery(namespace, TASK_KIND).select('ageKey').limit(1000);
    if (start) query = query.start(start);
    const [rows, info] = await datastore.runQuery(query);
    const more = rows.length === 1000 && info.moreResults !== 'NO_MORE_RESULTS' && Boolean(info.endCursor);
    yield { rows, more };
    if (!more) return;
    start = info.endCursor;
  }
}

/**
 * How many task entities a sweep would read: its two age-key ranges per shard (unfinished ones created before
 * `cutoffMs`, finished ones due before `dueBeforeMs`, or all finished ones when null), counted keys-only (an index-only
 * read). Null when there are more than `limit` (counting stops there). The CLI's progress bar fills by this total.
 */
export async function sweepCandidates(
  datastore: Datastore,
  options: { namespace?: string; shards: number; cutoffMs: number; dueBeforeMs: number | null; limit?: number },
): Promise<number | null> {
  const namespace = options.namespace ?? datastore.namespace ?? '';
  const limit = options.limit ?? 100_000;
  let total = 0;
  const countRange = async (range: { lower: string; upper: string }) => {
    let start: string | undefined;
    for (;;) {
      if (total > limit) return;
      let query = datastore
        .createQuery(namespace, TASK_KIND)
        .select('__key__')
        .filter(
          andFilter(datastore, [
            propertyFilter(datastore, 'ageKey', '>=', range.lower),
            propertyFilter(datastore, 'ageKey', '<', range.upper),
          ]),
        )
        .limit(1000);
      if (start) query = query.start(start);
      const [rows, info] = await datastore.runQuery(query);
      total += rows.length;
      if (rows.length < 1000 || info.moreResults === 'NO_MORE_RESULTS' || !info.endCursor) return;
      start = info.endCursor;
    }
  };
  const run = pLimit(4);
  await Promise.all(
    Array.from({ length: options.shards }, (_, shard) => [
      run(() => countRange(ageKeyRange(shard, options.cutoffMs))),
      run(() => countRange(finishedAgeKeyRange(shard, options.dueBeforeMs))),
    ]).flat(),
  );
  return total > limit ? null : total;
}
