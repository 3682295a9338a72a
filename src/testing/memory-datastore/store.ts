/**
 * The in-memory Datastore's state and the semantics of each RPC the client sends (lookup, runQuery, beginTransaction,
 * commit, rollback, allocateIds): entities per project and namespace, versions, optimistic transactions per entity group.
 */
import { randomBytes } from 'node:crypto';
import { Code, RpcStatusError, contention, invalidArgument, unsupported } from './rpc-status.js';
import { runQuery, type QueryMessage, type StoredEntity } from './query.js';
import {
  entityBytes,
  groupString,
  isIncomplete,
  keyString,
  namespaceOf,
  typeOf,
  valueBytes,
  type EntityMessage,
  type KeyMessage,
  type ValueMessage,
} from './values.js';

/** Longest indexed string or blob, in bytes. */
const MAX_INDEXED_BYTES = 1500;
/** Longest value of one property, in bytes (the emulators' limit and message). */
const MAX_VALUE_BYTES = 1_048_487;
/** Largest entity (Datastore's documented limit). */
const MAX_ENTITY_BYTES = 1_048_572;
/** Most entity groups one transaction may touch (the Datastore emulator's limit, as legacy Datastore's). */
export const MAX_ENTITY_GROUPS = 25;

/** A transaction in progress. */
interface TransactionState {
  readonly readOnly: boolean;
  /** The version of each entity group the transaction has read from, when it first read from it. */
  readonly groupsRead: Map<string, number>;
  done: boolean;
}

interface ReadOptions {
  readConsistency?: string;
  transaction?: Buffer;
  newTransaction?: { readOnly?: unknown; readWrite?: unknown } | null;
  readTime?: unknown;
  consistencyType?: string;
}

interface Mutation {
  operation?: 'insert' | 'update' | 'upsert' | 'delete';
  insert?: EntityMessage | null;
  update?: EntityMessage | null;
  upsert?: EntityMessage | null;
  delete?: KeyMessage | null;
  baseVersion?: string;
  propertyTransforms?: unknown[];
}

function timestamp(ms: number) {
  return { seconds: String(Math.floor(ms / 1000)), nanos: (ms % 1000) * 1_000_000 };
}

/** Datastore keeps timestamps to the microsecond. */
function truncateTimestamps(value: ValueMessage): ValueMessage {
  const type = typeOf(value);
  if (type === 'timestampValue' && value.timestampValue) {
    const nanos = value.timestampValue.nanos - (value.timestampValue.nanos % 1000);
    return { ...value, timestampValue: { ...value.timestampValue, nanos } };
  }
  if (type === 'arrayValue' && value.arrayValue) {
    return { ...value, arrayValue: { values: value.arrayValue.values.map(truncateTimestamps) } };
  }
  if (type === 'entityValue' && value.entityValue) {
    return { ...value, entityValue: truncateEntity(value.entityValue) };
  }
  return value;
}

function truncateEntity<E extends EntityMessage>(entity: E): E {
  const properties: Record<string, ValueMessage> = {};
  for (const [name, value] of Object.entries(entity.properties)) properties[name] = truncateTimestamps(value);
  return { ...entity, properties };
}

/** The whole state of one in-memory Datastore: every project, database and namespace. Share it between clients. */
export class MemoryDatastoreState {
  private readonly entities = new Map<string, Map<string, StoredEntity>>();
  private readonly groupVersions = new Map<string, number>();
  private readonly transactions = new Map<string, TransactionState>();
  private version = 0;
  /** Milliseconds since the epoch, for the create and update times of entities. */
  now: () => number = () => Date.now();

  private partition(projectId: string, databaseId: string): Map<string, StoredEntity> {
    const id = `${projectId}/${databaseId}`;
    let found = this.entities.get(id);
    if (!found) this.entities.set(id, (found = new Map()));
    return found;
  }

  /** Every entity of a project and database (tests of the store itself use it). */
  size(projectId: string, databaseId = ''): number {
    return this.partition(projectId, databaseId).size;
  }

  // ---- transactions ------------------------------------------------------------------------------------------

  beginTransaction(request: { transactionOptions?: { readOnly?: unknown; readWrite?: unknown } | null }) {
    return { transaction: this.begin(Boolean(request.transactionOptions?.readOnly)) };
  }

  private begin(readOnly: boolean): Buffer {
    const id = randomBytes(16);
    this.transactions.set(id.toString('hex'), { readOnly, groupsRead: new Map(), done: false });
    return id;
  }

  private transactionOf(id: Buffer | undefined): TransactionState {
    const state = id && id.length > 0 ? this.transactions.get(id.toString('hex')) : undefined;
    if (!state || state.done) throw invalidArgument('The referenced transaction has expired or is no longer valid.');
    return state;
  }

  /** The transaction a read runs in (an existing one, or one it begins), or null for a read outside transactions. */
  private readTransaction(options: ReadOptions | null | undefined): { state: TransactionState; begun?: Buffer } | null {
    if (!options) return null;
    if (options.newTransaction && (options.consistencyType === 'newTransaction' || !options.transaction?.length)) {
      const begun = this.begin(Boolean(options.newTransaction.readOnly));
      return { state: this.transactions.get(begun.toString('hex'))!, begun };
    }
    if (options.transaction && options.transaction.length > 0)
      return { state: this.transactionOf(options.transaction) };
    return null;
  }

  /** Notes that a transaction read from a key's entity group (and checks the entity-group limit). */
  private noteRead(state: TransactionState, key: KeyMessage): void {
    const group = groupString(key);
    if (state.groupsRead.has(group)) return;
    if (state.groupsRead.size >= MAX_ENTITY_GROUPS) {
      throw invalidArgument('operating on too many entity groups in a single transaction.');
    }
    state.groupsRead.set(group, this.groupVersions.get(group) ?? 0);
  }

  rollback(request: { transaction: Buffer }) {
    this.transactionOf(request.transaction).done = true;
    return {};
  }

  // ---- reads -------------------------------------------------------------------------------------------------

  lookup(request: { projectId: string; databaseId: string; readOptions?: ReadOptions | null; keys: KeyMessage[] }) {
    const tx = this.readTransaction(request.readOptions);
    const partition = this.partition(request.projectId, request.databaseId);
    const found: unknown[] = [];
    const missing: unknown[] = [];
    for (const key of request.keys) {
      checkKey(key, 'lookup');
      if (tx) this.noteRead(tx.state, key);
      const stored = partition.get(keyString(key));
      if (stored) found.push(this.resultOf(stored, stored.entity));
      else missing.push({ entity: { key }, version: String(this.version) });
    }
    return {
      found,
      missing,
      deferred: [],
      ...(tx?.begun ? { transaction: tx.begun } : {}),
      readTime: timestamp(this.now()),
    };
  }

  private resultOf(stored: StoredEntity, entity: EntityMessage, cursor?: Buffer) {
    return {
      entity,
      version: String(stored.version),
      createTime: timestamp(stored.createMs),
      updateTime: timestamp(stored.updateMs),
      ...(cursor ? { cursor } : {}),
    };
  }

  runQuery(request: {
    projectId: string;
    databaseId: string;
    partitionId?: { namespaceId?: string } | null;
    readOptions?: ReadOptions | null;
    query?: QueryMessage | null;
    gqlQuery?: unknown;
    queryType?: string;
  }) {
    if (request.gqlQuery || request.queryType === 'gqlQuery') throw unsupported('A GQL query');
    const query = request.query;
    if (!query) throw invalidArgument('RunQueryRequest.query is required.');
    const tx = this.readTransaction(request.readOptions);
    const namespace = request.partitionId?.namespaceId ?? '';
    const ancestor = ancestorOf(query);
    if (tx && !ancestor) throw invalidArgument('Only ancestor queries are allowed inside transactions.');
    if (tx && ancestor) this.noteRead(tx.state, ancestor);
    if (query.kind.length > 1) throw invalidArgument('A query may name at most one kind.');
    const kind = query.kind[0]?.name;
    const candidates = this.candidates(request.projectId, request.databaseId, namespace, kind);
    const result = runQuery(query, candidates);
    return {
      batch: {
        skippedResults: result.skipped,
        entityResultType: result.resultType,
        entityResults: result.rows.map((row) => this.resultOf(row.stored, row.entity, row.cursor)),
        endCursor: result.endCursor,
        moreResults: result.moreResults,
        snapshotVersion: String(this.version),
        readTime: timestamp(this.now()),
      },
      ...(tx?.begun ? { transaction: tx.begun } : {}),
    };
  }

  /** The entities a query scans: of its kind in its namespace; the `__kind__` and `__namespace__` metadata kinds. */
  private candidates(projectId: string, databaseId: string, namespace: string, kind: string | undefined) {
    const all = [...this.partition(projectId, databaseId).values()];
    const synthetic = (path: KeyMessage['path'], ns: string): StoredEntity => ({
      entity: { key: { partitionId: { projectId, databaseId, namespaceId: ns }, path }, properties: {} },
      version: this.version,
      createMs: 0,
      updateMs: 0,
    });
    if (kind === '__kind__') {
      const kinds = new Set(all.filter((s) => namespaceOf(s.entity.key) === namespace).map((s) => lastKind(s)));
      return [...kinds].sort().map((k) => synthetic([{ kind: '__kind__', name: k, idType: 'name' }], namespace));
    }
    if (kind === '__namespace__') {
      const namespaces = new Set(all.map((s) => namespaceOf(s.entity.key)));
      return [...namespaces].map((ns) =>
        synthetic(
          [
            ns === ''
              ? { kind: '__namespace__', id: '1', idType: 'id' }
              : { kind: '__namespace__', name: ns, idType: 'name' },
          ],
          '',
        ),
      );
    }
    if (kind?.startsWith('__')) throw unsupported(`A query of the metadata kind ${kind}`);
    return all.filter(
      (s) =>
        namespaceOf(s.entity.key) === namespace &&
        (kind === undefined ? !lastKind(s).startsWith('__') : lastKind(s) === kind),
    );
  }

  // ---- writes ------------------------------------------------------------------------------------------------

  allocateIds(request: { keys: KeyMessage[] }) {
    return {
      keys: request.keys.map((key) => {
        if (!isIncomplete(key)) throw invalidArgument('AllocateIds takes incomplete keys (a kind without an id).');
        checkKey(key, 'allocateIds');
        return this.completed(key);
      }),
    };
  }

  reserveIds() {
    return {};
  }

  /** A scattered id like the ones Datastore allocates (16 digits, no hotspots), unused in this state. */
  private completed(key: KeyMessage): KeyMessage {
    const last = key.path[key.path.length - 1]!;
    return { ...key, path: [...key.path.slice(0, -1), { kind: last.kind, id: scatteredId(), idType: 'id' }] };
  }

  commit(request: {
    projectId: string;
    databaseId: string;
    mode: string;
    transaction?: Buffer;
    singleUseTransaction?: unknown;
    mutations: Mutation[];
  }) {
    const transactional = request.mode === 'TRANSACTIONAL' || (request.transaction?.length ?? 0) > 0;
    const tx = transactional ? this.transactionOf(request.transaction) : null;
    try {
      return this.apply(request, tx);
    } finally {
      if (tx) tx.done = true; // committed or failed: either way the transaction is over
    }
  }

  private apply(
    request: { projectId: string; databaseId: string; mutations: Mutation[] },
    tx: TransactionState | null,
  ) {
    const partition = this.partition(request.projectId, request.databaseId);
    const mutations = request.mutations.map((m) => this.checkMutation(m));
    if (tx) {
      if (tx.readOnly && mutations.length > 0) {
        throw invalidArgument('A read-only transaction cannot write; begin a read-write transaction.');
      }
      const groups = new Set([...tx.groupsRead.keys(), ...mutations.map((m) => groupString(m.key))]);
      if (groups.size > MAX_ENTITY_GROUPS) {
        throw invalidArgument('operating on too many entity groups in a single transaction.');
      }
      for (const [group, seen] of tx.groupsRead) {
        if ((this.groupVersions.get(group) ?? 0) !== seen) throw contention();
      }
    } else {
      const keys = new Set<string>();
      for (const m of mutations) {
        if (isIncomplete(m.key)) continue;
        const id = keyString(m.key);
        if (keys.has(id)) {
          throw invalidArgument(
            'A non-transactional commit may not contain multiple mutations affecting the same entity.',
          );
        }
        keys.add(id);
      }
    }
    // Every check before any write: a commit is applied whole or not at all.
    for (const m of mutations) {
      if (isIncomplete(m.key)) continue;
      const exists = partition.has(keyString(m.key));
      if (m.operation === 'insert' && exists) throw new RpcStatusError(Code.ALREADY_EXISTS, 'entity already exists');
      if (m.operation === 'update' && !exists) throw new RpcStatusError(Code.NOT_FOUND, 'no entity to update');
    }
    const now = this.now();
    this.version++;
    const results = mutations.map((m) => {
      const allocated = isIncomplete(m.key) ? this.completed(m.key) : null;
      const key = allocated ?? m.key;
      const id = keyString(key);
      const group = groupString(key);
      this.groupVersions.set(group, this.version);
      if (m.operation === 'delete') {
        partition.delete(id);
      } else {
        const previous = partition.get(id);
        partition.set(id, {
          entity: truncateEntity({ ...m.entity!, key }),
          version: this.version,
          createMs: previous?.createMs ?? now,
          updateMs: now,
        });
      }
      return { key: allocated, version: String(this.version), conflictDetected: false, updateTime: timestamp(now) };
    });
    return { mutationResults: results, indexUpdates: 0, commitTime: timestamp(now) };
  }

  private checkMutation(m: Mutation): {
    operation: NonNullable<Mutation['operation']>;
    key: KeyMessage;
    entity?: EntityMessage;
  } {
    if ((m.propertyTransforms?.length ?? 0) > 0) throw unsupported('A property transform');
    const operation =
      m.operation ??
      (m.insert ? 'insert' : m.update ? 'update' : m.upsert ? 'upsert' : m.delete ? 'delete' : undefined);
    if (!operation) throw invalidArgument('A mutation needs an operation.');
    if (operation === 'delete') {
      const key = m.delete!;
      checkKey(key, 'delete');
      if (isIncomplete(key)) throw invalidArgument('A delete needs a complete key.');
      return { operation, key };
    }
    const entity = m[operation]!;
    if (!entity.key) throw invalidArgument('An entity to write needs a key.');
    checkKey(entity.key, 'write');
    if (operation === 'update' && isIncomplete(entity.key)) throw invalidArgument('An update needs a complete key.');
    checkEntity(entity);
    return { operation, key: entity.key, entity };
  }
}

/** A random 16-digit id (1e15 to 9e15), as scattered as Datastore's. */
function scatteredId(): string {
  return String(1_000_000_000_000_000n + (randomBytes(8).readBigUInt64BE() % 8_000_000_000_000_000n));
}

function lastKind(stored: StoredEntity): string {
  return stored.entity.key.path[stored.entity.key.path.length - 1]!.kind;
}

/** The key of a query's ancestor filter, if it has one (at its top level or in a top-level AND). */
function ancestorOf(query: QueryMessage): KeyMessage | null {
  const filters = query.filter?.compositeFilter?.op === 'AND' ? query.filter.compositeFilter.filters : [query.filter];
  for (const f of filters) {
    const p = f?.propertyFilter;
    if (p?.op === 'HAS_ANCESTOR' && p.value?.keyValue) return p.value.keyValue;
  }
  return null;
}

function checkKey(key: KeyMessage, _operation: string): void {
  if (!key || key.path.length === 0) throw invalidArgument('A key needs at least one path element.');
  key.path.forEach((element, i) => {
    if (!element.kind) throw invalidArgument('A key path element needs a kind.');
    if (/^__.*__$/.test(element.kind) && _operation !== 'lookup') {
      throw invalidArgument(`The kind "${element.kind}" is reserved.`);
    }
    if (element.name !== undefined && element.name !== null && /^__.*__$/.test(element.name)) {
      throw invalidArgument(`The key path element name "${element.name}" is reserved.`);
    }
    if (i < key.path.length - 1 && !element.id && !element.name) {
      throw invalidArgument('Only the last element of a key path may be incomplete.');
    }
  });
}

function checkValue(name: string, value: ValueMessage, indexedByParent: boolean): void {
  const type = typeOf(value);
  const indexed = indexedByParent && !value.excludeFromIndexes;
  if (type === 'arrayValue') {
    for (const element of value.arrayValue?.values ?? []) checkValue(name, element, indexedByParent);
    return;
  }
  if (type === 'entityValue') {
    for (const [inner, v] of Object.entries(value.entityValue?.properties ?? {}))
      checkValue(`${name}.${inner}`, v, indexed);
    return;
  }
  const bytes = valueBytes(value);
  if (bytes > MAX_VALUE_BYTES)
    throw invalidArgument(`The value of property "${name}" is longer than ${MAX_VALUE_BYTES} bytes.`);
  if (indexed && (type === 'stringValue' || type === 'blobValue') && bytes > MAX_INDEXED_BYTES) {
    throw invalidArgument(`The value of property "${name}" is longer than ${MAX_INDEXED_BYTES} bytes.`);
  }
}

function checkEntity(entity: EntityMessage): void {
  for (const [name, value] of Object.entries(entity.properties)) checkValue(name, value, true);
  const size = entityBytes(entity);
  if (size > MAX_ENTITY_BYTES) {
    throw invalidArgument(
      `The entity is ${size} bytes; Datastore stores at most ${MAX_ENTITY_BYTES} bytes per entity.`,
    );
  }
}
