/** Mapping `_DeferredTask` entities and their chunks to and from Datastore: keys, indexed properties, reads, writes. */
import type { Datastore, Key, Transaction } from '@google-cloud/datastore';
import { keyOf } from './datastore.js';
import { BadStoredPayloadError } from './errors.js';
import { formatFailedKey } from './failed-index.js';
import { boundedError, parseHistory, serializeHistory } from './history.js';
import { packPayload, packPayloadAsync, unpackPayload, type PackedPayload } from './packed-payload.js';
import {
  CHUNK_KIND,
  INDEXED_TASK_PROPERTIES,
  TASK_KIND,
  ageKey,
  finishedAgeKey,
  finishedDueMs,
  shardOf,
  type AttemptRecord,
  type DeferredTaskEntity,
} from './schema.js';

/** A task entity as read back, with its key. */
export interface StoredTask extends DeferredTaskEntity {
  readonly key: Key;
}

/** Most bytes of entity data written in one non-transactional commit (Datastore allows 10 MiB per commit, its emulators 4 MiB). */
export const COMMIT_BYTES = 3 * 1024 * 1024;

const INDEXED = new Set<string>(INDEXED_TASK_PROPERTIES);

/** The last segment of a full Cloud Task name. */
function cloudTaskIdOf(name: string): string {
  return name.slice(name.lastIndexOf('/') + 1);
}

/**
 * One property as the Datastore client takes it. A class, not a plain object: the client deep-copies every entity it
 * saves (`extend(true, {}, entity)`, per property), and passes instances of a class through by reference.
 */
export class EntityProperty {
  constructor(
    readonly name: string,
    readonly value: unknown,
    readonly excludeFromIndexes: boolean,
  ) {}
}

/**
 * Datastore's property list for a task entity stored at `key`: only INDEXED_TASK_PROPERTIES indexed, the history as
 * JSON, absent optional fields left out. The failure ledger's index properties are derived here, from the state, so
 * every writer keeps them right: `failedKey` on `failed` records, `failedTaskId` on `failed` and `retried` ones.
 */
export function taskEntityData(task: DeferredTaskEntity, key: Key): EntityProperty[] {
  const properties: EntityProperty[] = [];
  pushFields(properties, task);
  pushFailureIndex(properties, task, key);
  return properties;
}

/**
 * Fields a new `pending` entity leaves out instead of writing them as null (it has no lease, error or end yet): every
 * reader takes an absent one for null ({@link fromEntity}, the sweeper's snapshot, and theirs in earlier versions),
 * and each property costs the client's encoding and the service's write. Entities with them as null (written by
 * earlier versions, or rewritten by a state change) read the same.
 */
const ABSENT_WHEN_NULL: ReadonlySet<string> = new Set<keyof DeferredTaskEntity>([
  'leaseUntil',
  'lastError',
  'finishedAt',
]);

/**
 * Appends the properties of `fields` (a task entity's, or part of one), in their order, leaving out undefined ones
 * (and, with `leaveOutNulls`, the {@link ABSENT_WHEN_NULL} ones that are null).
 */
function pushFields(properties: EntityProperty[], fields: Partial<DeferredTaskEntity>, leaveOutNulls = false): void {
  for (const name of Object.keys(fields) as (keyof DeferredTaskEntity)[]) {
    const value = fields[name];
    if (value === undefined || (value === null && leaveOutNulls && ABSENT_WHEN_NULL.has(name))) continue;
    properties.push(
      new EntityProperty(
        name,
        name === 'history' ? serializeHistory(value as NonNullable<DeferredTaskEntity['history']>) : value,
        !INDEXED.has(name),
      ),
    );
  }
}

/** Appends the failure ledger's index properties a record in `task.state` carries. */
function pushFailureIndex(
  properties: EntityProperty[],
  task: Pick<
    DeferredTaskEntity,
    'state' | 'cloudTaskName' | 'shard' | 'finishedAt' | 'created' | 'queue' | 'task' | 'attempts' | 'lastError'
  >,
  key: Key,
): void {
  if (task.state === 'failed' || task.state === 'retried') {
    properties.push(new EntityProperty('failedTaskId', cloudTaskIdOf(task.cloudTaskName), false));
  }
  if (task.state === 'failed') {
    properties.push(
      new EntityProperty(
        'failedKey',
        formatFailedKey({
          shard: task.shard,
          failedMs: (task.finishedAt ?? task.created).getTime(),
          name: String(key.name ?? key.id),
          queue: task.queue,
          task: task.task,
          attempts: task.attempts,
          cloudTaskId: cloudTaskIdOf(task.cloudTaskName),
          error: task.lastError ?? '',
        }),
        false,
      ),
    );
  }
}

/** Keys of the chunk entities of a task entity: children with numeric ids 1..count. */
export function chunkKeys(datastore: Datastore, taskKey: Key, count: number): Key[] {
  const keys: Key[] = [];
  for (let id = 1; id <= count; id++) {
    keys.push(
      datastore.key({
        namespace: taskKey.namespace,
        path: [...taskKey.path, CHUNK_KIND, datastore.int(id)],
      }),
    );
  }
  return keys;
}

/** The key of a task entity named `name`, under `parent` (an entity group root) when given. */
export function taskKey(datastore: Datastore, name: string, parent?: Key | null, namespace?: string): Key {
  if (parent) return datastore.key({ namespace: parent.namespace, path: [...parent.path, TASK_KIND, name] });
  return namespace === undefined
    ? datastore.key([TASK_KIND, name])
    : datastore.key({ namespace, path: [TASK_KIND, name] });
}

/** What the runtime decides about a new task entity; the sweeper's index (`shard`, `ageKey`, `expireAt`) is derived from it here. */
export interface NewTask {
  /** The entity's key; its name picks the shard. */
  readonly key: Key;
  readonly task: string;
  readonly queue: string;
  readonly cloudTaskName: string;
  /** The stored CreateTask request (`''` when there is none to re-drive: an inline task's failure record). */
  readonly cloudTaskRequest: string;
  readonly transactional: boolean;
  readonly etaMs: number;
  readonly retentionMs: number;
}

/** When and how a new task entity is indexed for the sweeper. */
export interface TaskIndexSettings {
  /** When the entity is written. */
  readonly nowMs: number;
  /** The writers' shard count. */
  readonly shards: number;
  /** The runtime's `expireAfter`. */
  readonly expireAfterMs: number;
}

/**
 * The hard age limit of every task entity: `expireAfter` past the later of its ETA and its creation. A task due later
 * lives that much longer; a failure record of an inline task (written when its delivery failed for good, so at or
 * after its ETA) lives `expireAfter` past that moment.
 */
export function expireAtOf(etaMs: number, createdMs: number, expireAfterMs: number): Date {
  return new Date(Math.max(etaMs, createdMs) + expireAfterMs);
}

/** The one place a task entity's fields are assembled, with its sweeper index (shard from its name, ageKey, expireAt). */
function newTaskEntity(
  task: NewTask,
  settings: TaskIndexSettings,
  outcome: {
    attempts: number;
    lastError: string | null;
    finished: boolean;
    history?: readonly AttemptRecord[] | undefined;
  },
): Omit<DeferredTaskEntity, 'payload' | 'chunks' | 'encoding' | 'payloadBytes'> {
  const { nowMs } = settings;
  const shard = shardOf(String(task.key.name ?? task.key.id), settings.shards);
  const expireAt = expireAtOf(task.etaMs, nowMs, settings.expireAfterMs);
  return {
    state: outcome.finished ? 'failed' : 'pending',
    task: task.task,
    queue: task.queue,
    cloudTaskName: task.cloudTaskName,
    cloudTaskRequest: task.cloudTaskRequest,
    transactional: task.transactional,
    created: new Date(nowMs),
    eta: new Date(task.etaMs),
    attempts: outcome.attempts,
    leaseUntil: null,
    lastError: outcome.lastError === null ? null : boundedError(outcome.lastError),
    finishedAt: outcome.finished ? new Date(nowMs) : null,
    retentionMs: task.retentionMs,
    shard,
    // Unfinished: keyed by creation. Finished: keyed by when it may be swept (as completeTask keys a finished run).
    ageKey: outcome.finished
      ? finishedAgeKey(shard, finishedDueMs({ retentionMs: task.retentionMs, expireAt }, nowMs))
      : ageKey(shard, nowMs),
    expireAt,
    ...(outcome.history === undefined ? {} : { history: outcome.history }),
  };
}

/**
 * The mutations that store a new `pending` task entity (an entity-backed deferral) with its packed payload; its null
 * lease, error and end are left out (see {@link ABSENT_WHEN_NULL}).
 */
export function pendingTaskMutations(
  datastore: Datastore,
  task: NewTask,
  settings: TaskIndexSettings,
  packed: PackedPayload,
): { key: Key; data: unknown }[] {
  return entityMutations(
    datastore,
    task.key,
    newTaskEntity(task, settings, { attempts: 0, lastError: null, finished: false }),
    packed,
    true,
  );
}

/** The name of the `failed` record of an inline task: `failed.<queue>.<Cloud Task id>`. */
export function inlineFailureName(queue: string, cloudTaskId: string): string {
  return `failed.${queue}.${cloudTaskId}`;
}

/**
 * The mutations that store the `failed` record of an inline task (finished now, with its payload and its attempt
 * history) for inspection and replay.
 */
export function failedTaskMutations(
  datastore: Datastore,
  task: NewTask,
  failure: { readonly attempts: number; readonly lastError: string; readonly history?: readonly AttemptRecord[] },
  settings: TaskIndexSettings,
  packed: PackedPayload,
): { key: Key; data: unknown }[] {
  return taskMutations(datastore, task.key, newTaskEntity(task, settings, { ...failure, finished: true }), packed);
}

/**
 * All the mutations that store a task entity with its packed payload (the task entity first). Chunks carry their task's
 * `expireAt` (unindexed: nothing queries it), so a TTL policy on the chunk kind reclaims them too: TTL deletes no
 * descendants. The runtime writes new task entities through {@link pendingTaskMutations} and
 * {@link failedTaskMutations}, which derive the index fields; this raw form is for test and benchmark fixtures.
 */
export function taskMutations(
  datastore: Datastore,
  key: Key,
  task: Omit<DeferredTaskEntity, 'payload' | 'chunks' | 'encoding' | 'payloadBytes'>,
  packed: PackedPayload,
): { key: Key; data: unknown }[] {
  return entityMutations(datastore, key, task, packed, false);
}

/** {@link taskMutations}; `leaveOutNulls` leaves the {@link ABSENT_WHEN_NULL} fields out when null (new pending entities). */
function entityMutations(
  datastore: Datastore,
  key: Key,
  task: Omit<DeferredTaskEntity, 'payload' | 'chunks' | 'encoding' | 'payloadBytes'>,
  packed: PackedPayload,
  leaveOutNulls: boolean,
): { key: Key; data: unknown }[] {
  // The properties of `{ ...task, payload, chunks, encoding, payloadBytes }`, in that order, without building it.
  const data: EntityProperty[] = [];
  pushFields(data, task, leaveOutNulls);
  data.push(
    new EntityProperty('payload', packed.payload, true),
    new EntityProperty('chunks', packed.chunks.length, true),
    new EntityProperty('encoding', packed.encoding, true),
    new EntityProperty('payloadBytes', packed.payloadBytes, true),
  );
  pushFailureIndex(data, task, key);
  const mutations: { key: Key; data: unknown }[] = [{ key, data }];
  if (packed.chunks.length === 0) return mutations;
  const keys = chunkKeys(datastore, key, packed.chunks.length);
  packed.chunks.forEach((chunk, i) =>
    mutations.push({
      key: keys[i]!,
      data: [new EntityProperty('data', chunk, true), new EntityProperty('expireAt', task.expireAt, true)],
    }),
  );
  return mutations;
}

/** Writes a task entity and its chunks in the caller's transaction. */
export function saveTaskInTransaction(tx: Transaction, mutations: { key: Key; data: unknown }[]): void {
  tx.save(mutations as Parameters<Transaction['save']>[0]);
}

/**
 * Writes a task entity and its chunks outside a transaction, in commits of at most ~3 MiB (the emulators refuse gRPC messages over 4 MiB). The task entity goes in the
 * first commit: if a later one fails, the sweeper still finds (and deletes) the entity and its children.
 */
export async function saveTask(datastore: Datastore, mutations: { key: Key; data: unknown }[]): Promise<void> {
  let batch: { key: Key; data: unknown }[] = [];
  let bytes = 0;
  for (const mutation of mutations) {
    const size = mutationBytes(mutation);
    if (batch.length > 0 && bytes + size > COMMIT_BYTES) {
      await datastore.save(batch as Parameters<Datastore['save']>[0]);
      batch = [];
      bytes = 0;
    }
    batch.push(mutation);
    bytes += size;
  }
  if (batch.length > 0) await datastore.save(batch as Parameters<Datastore['save']>[0]);
}

/** An upper estimate of the bytes one mutation adds to a commit: its Buffer and string values plus 1 KiB for the rest. */
export function mutationBytes(mutation: { data: unknown }): number {
  let size = 1024;
  for (const property of mutation.data as { value: unknown }[]) {
    if (Buffer.isBuffer(property.value)) size += property.value.length;
    else if (typeof property.value === 'string') size += property.value.length;
  }
  return size;
}

function asDate(value: unknown): Date | null {
  if (value === null || value === undefined) return null;
  return value instanceof Date ? value : new Date(value as string);
}

/** Normalises an entity read from Datastore into a {@link StoredTask}. */
export function fromEntity(datastore: Datastore, entity: Record<string | symbol, unknown>): StoredTask {
  const e = entity as Record<string, unknown>;
  return {
    key: keyOf(datastore, entity),
    state: e.state as DeferredTaskEntity['state'],
    task: String(e.task ?? ''),
    queue: String(e.queue ?? ''),
    cloudTaskName: String(e.cloudTaskName ?? ''),
    cloudTaskRequest: String(e.cloudTaskRequest ?? ''),
    transactional: e.transactional === true,
    created: asDate(e.created)!,
    eta: asDate(e.eta)!,
    attempts: Number(e.attempts ?? 0),
    leaseUntil: asDate(e.leaseUntil),
    lastError: (e.lastError as string | null | undefined) ?? null,
    finishedAt: asDate(e.finishedAt),
    retentionMs: Number(e.retentionMs ?? 0),
    shard: Number(e.shard ?? 0),
    ageKey: String(e.ageKey ?? ''),
    expireAt: asDate(e.expireAt)!,
    payload: Buffer.isBuffer(e.payload) ? e.payload : Buffer.alloc(0),
    chunks: Number(e.chunks ?? 0),
    encoding: (e.encoding as DeferredTaskEntity['encoding']) ?? 'identity',
    payloadBytes: Number(e.payloadBytes ?? 0),
    history: parseHistory(e.history),
    ...(e.retriedAs === undefined ? {} : { retriedAs: (e.retriedAs as string | null) ?? null }),
    ...(e.retriedAt === undefined ? {} : { retriedAt: asDate(e.retriedAt) }),
    ...(e.retriedEntity === undefined ? {} : { retriedEntity: (e.retriedEntity as string | null) ?? null }),
  };
}

/** The plain entity fields of a stored task (without its key), for writing it back changed. */
export function withoutKey(task: StoredTask): DeferredTaskEntity {
  const { key: _key, ...rest } = task;
  return rest;
}

/** Reads a task's payload: inline, or from its chunk entities; then decompresses it. */
export async function readPayload(datastore: Datastore, task: StoredTask): Promise<Buffer> {
  if (task.chunks === 0) return unpackPayload(task, []);
  const keys = chunkKeys(datastore, task.key, task.chunks);
  const [found] = await datastore.get(keys);
  const byId = new Map<string, Buffer>();
  for (const entity of found as Record<string | symbol, unknown>[]) {
    const key = keyOf(datastore, entity);
    byId.set(String(key.id), entity.data as Buffer);
  }
  const chunks = keys.map((key) => {
    const data = byId.get(String(key.id));
    if (!Buffer.isBuffer(data)) throw new BadStoredPayloadError(`chunk ${key.id} of ${task.chunks} is missing`);
    return data;
  });
  return unpackPayload(task, chunks);
}

export { packPayload, packPayloadAsync };
