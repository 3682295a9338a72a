/**
 * Running a Datastore query over in-memory entities the way Datastore's indexes answer it: filters, the one inequality
 * property and its implicit order, multi-valued properties, projections, distinct, cursors, offset and limit.
 */
import { decodeMessage, encodeMessage } from './protos.js';
import { invalidArgument, unsupported } from './rpc-status.js';
import {
  compareKeys,
  compareValues,
  hasAncestor,
  indexValues,
  keyString,
  projectedValue,
  typeOf,
  type EntityMessage,
  type KeyMessage,
  type ValueMessage,
} from './values.js';

/** An entity as the store keeps it. */
export interface StoredEntity {
  readonly entity: EntityMessage & { key: KeyMessage };
  readonly version: number;
  readonly createMs: number;
  readonly updateMs: number;
}

/** A `google.datastore.v1.Filter` as the store receives it. */
export interface FilterMessage {
  filterType?: 'compositeFilter' | 'propertyFilter';
  compositeFilter?: { op: string; filters: FilterMessage[] } | null;
  propertyFilter?: { property: { name: string } | null; op: string; value: ValueMessage | null } | null;
}

/** A `google.datastore.v1.Query` as the store receives it. */
export interface QueryMessage {
  projection: { property: { name: string } | null }[];
  kind: { name: string }[];
  filter: FilterMessage | null;
  order: { property: { name: string } | null; direction: string }[];
  distinctOn: { name: string }[];
  startCursor: Buffer;
  endCursor: Buffer;
  offset: number;
  limit: { value: number } | null;
  findNearest?: unknown;
}

/** One row of a query's index scan: an entity with one value of each property the scan orders or ranges on. */
interface Row {
  readonly stored: StoredEntity;
  readonly values: Map<string, ValueMessage>;
}

/** What a query produced. */
export interface QueryResult {
  readonly rows: { stored: StoredEntity; entity: EntityMessage; cursor: Buffer }[];
  readonly skipped: number;
  readonly endCursor: Buffer;
  readonly moreResults: 'MORE_RESULTS_AFTER_LIMIT' | 'MORE_RESULTS_AFTER_CURSOR' | 'NO_MORE_RESULTS';
  readonly resultType: 'FULL' | 'PROJECTION' | 'KEY_ONLY';
}

const INEQUALITIES = new Set([
  'LESS_THAN',
  'LESS_THAN_OR_EQUAL',
  'GREATER_THAN',
  'GREATER_THAN_OR_EQUAL',
  'NOT_EQUAL',
  'NOT_IN',
]);
const KEY = '__key__';
/** More index rows than this for one entity and query is an exploding index (Datastore refuses such queries too). */
const MAX_ROWS_PER_ENTITY = 20_000;

interface Order {
  readonly property: string;
  readonly descending: boolean;
}

function propertyFilters(filter: FilterMessage | null, out: NonNullable<FilterMessage['propertyFilter']>[] = []) {
  if (!filter) return out;
  if (filter.filterType === 'compositeFilter' || (filter.compositeFilter && !filter.propertyFilter)) {
    for (const child of filter.compositeFilter?.filters ?? []) propertyFilters(child, out);
  } else if (filter.propertyFilter) out.push(filter.propertyFilter);
  return out;
}

/** The orders of a query after Datastore's rules: one inequality property, sorted on first (implicitly if no order). */
function ordersOf(query: QueryMessage): Order[] {
  const inequalities = new Set<string>();
  for (const f of propertyFilters(query.filter)) if (INEQUALITIES.has(f.op)) inequalities.add(f.property?.name ?? '');
  const orders: Order[] = query.order.map((o) => ({
    property: o.property?.name ?? '',
    descending: o.direction === 'DESCENDING',
  }));
  if (inequalities.size > 1) {
    const [a, b] = [...inequalities];
    throw invalidArgument(`Only one inequality filter per query is supported.  Encountered both ${a} and ${b}`);
  }
  const [inequality] = [...inequalities];
  if (inequality !== undefined) {
    if (orders.length === 0) orders.push({ property: inequality, descending: false });
    else if (orders[0]!.property !== inequality) {
      throw invalidArgument(
        `The first sort property must be the same as the property to which the inequality filter is applied.  In your query the first sort property is ${orders[0]!.property} but the inequality filter is on ${inequality}`,
      );
    }
  }
  return orders;
}

function listOf(value: ValueMessage | null): ValueMessage[] {
  if (!value || typeOf(value) !== 'arrayValue') throw invalidArgument('An IN or NOT_IN filter needs an array value.');
  return value.arrayValue?.values ?? [];
}

function test(op: string, candidate: ValueMessage, value: ValueMessage | null): boolean {
  if (op === 'IN') return listOf(value).some((v) => compareValues(candidate, v) === 0);
  if (op === 'NOT_IN') return listOf(value).every((v) => compareValues(candidate, v) !== 0);
  if (!value) throw invalidArgument('A property filter needs a value.');
  const c = compareValues(candidate, value);
  switch (op) {
    case 'EQUAL':
      return c === 0;
    case 'NOT_EQUAL':
      return c !== 0;
    case 'LESS_THAN':
      return c < 0;
    case 'LESS_THAN_OR_EQUAL':
      return c <= 0;
    case 'GREATER_THAN':
      return c > 0;
    case 'GREATER_THAN_OR_EQUAL':
      return c >= 0;
    default:
      throw invalidArgument(`Unknown filter operator ${op}.`);
  }
}

function keyValue(key: KeyMessage): ValueMessage {
  return { valueType: 'keyValue', keyValue: key };
}

/** Does a row pass the filter? Properties the scan orders or ranges on use the row's value, others any indexed value. */
function matches(filter: FilterMessage | null, row: Row, rowProperties: ReadonlySet<string>): boolean {
  if (!filter) return true;
  if (filter.filterType === 'compositeFilter' || (filter.compositeFilter && !filter.propertyFilter)) {
    const children = filter.compositeFilter?.filters ?? [];
    return filter.compositeFilter?.op === 'OR'
      ? children.some((child) => matches(child, row, rowProperties))
      : children.every((child) => matches(child, row, rowProperties));
  }
  const f = filter.propertyFilter;
  if (!f) return true;
  const name = f.property?.name ?? '';
  const key = row.stored.entity.key;
  if (f.op === 'HAS_ANCESTOR') {
    if (name !== KEY || !f.value?.keyValue) throw invalidArgument('An ancestor filter must be on __key__ with a key.');
    return hasAncestor(key, f.value.keyValue);
  }
  const candidates =
    name === KEY
      ? [keyValue(key)]
      : rowProperties.has(name)
        ? [row.values.get(name)!]
        : indexValues(row.stored.entity, name);
  return candidates.some((candidate) => test(f.op, candidate, f.value));
}

/** The index rows of an entity: one per combination of the values of the row properties; none if one is missing. */
function rowsOf(stored: StoredEntity, rowProperties: readonly string[]): Row[] {
  let rows: Map<string, ValueMessage>[] = [new Map()];
  for (const property of rowProperties) {
    const values = indexValues(stored.entity, property);
    if (values.length === 0) return [];
    const next: Map<string, ValueMessage>[] = [];
    for (const row of rows) for (const value of values) next.push(new Map(row).set(property, value));
    if (next.length > MAX_ROWS_PER_ENTITY) {
      throw invalidArgument(`The query needs more than ${MAX_ROWS_PER_ENTITY} index entries for one entity.`);
    }
    rows = next;
  }
  return rows.map((values) => ({ stored, values }));
}

/** A position in a query's order: the row's values of each order, and its key. */
interface Position {
  readonly values: ValueMessage[];
  readonly key: KeyMessage;
}

function positionOf(row: Row, orders: readonly Order[]): Position {
  const key = row.stored.entity.key;
  return { values: orders.map((o) => (o.property === KEY ? keyValue(key) : row.values.get(o.property)!)), key };
}

function comparePositions(a: Position, b: Position, orders: readonly Order[]): number {
  for (let i = 0; i < orders.length; i++) {
    const c = compareValues(a.values[i]!, b.values[i]!);
    if (c !== 0) return orders[i]!.descending ? -c : c;
  }
  return orders.some((o) => o.property === KEY) ? 0 : compareKeys(a.key, b.key);
}

function encodeCursor(position: Position): Buffer {
  return Buffer.from(
    JSON.stringify({
      v: position.values.map((value) => encodeMessage('Value', value).toString('base64')),
      k: encodeMessage('Key', position.key).toString('base64'),
    }),
  );
}

function decodeCursor(bytes: Buffer, orders: readonly Order[]): Position | null {
  if (bytes.length === 0) return null;
  try {
    const parsed = JSON.parse(bytes.toString('utf8')) as { v: string[]; k: string };
    if (!Array.isArray(parsed.v) || parsed.v.length !== orders.length) throw new Error('orders differ');
    return {
      values: parsed.v.map((v) => decodeMessage<ValueMessage>('Value', Buffer.from(v, 'base64'))),
      key: decodeMessage<KeyMessage>('Key', Buffer.from(parsed.k, 'base64')),
    };
  } catch {
    throw invalidArgument('Invalid query cursor: pass an endCursor of a query with the same sort orders.');
  }
}

/** Runs a (non-GQL) query over the entities of its kind (or every kind) in its namespace. */
export function runQuery(query: QueryMessage, candidates: readonly StoredEntity[]): QueryResult {
  if (query.findNearest) throw unsupported('A vector (find nearest) query');
  const projection = query.projection.map((p) => p.property?.name ?? '');
  const orders = ordersOf(query);
  // A projection is read from the index of its properties: without an order of its own, in that index's order.
  if (orders.length === 0) {
    for (const p of projection) if (p !== KEY) orders.push({ property: p, descending: false });
  }
  const keysOnly = projection.length > 0 && projection.every((p) => p === KEY);
  const projected = projection.filter((p) => p !== KEY);
  const inequalityProperties = propertyFilters(query.filter)
    .filter((f) => INEQUALITIES.has(f.op))
    .map((f) => f.property?.name ?? '');
  const rowProperties = [
    ...new Set([...inequalityProperties, ...orders.map((o) => o.property), ...projected].filter((p) => p !== KEY)),
  ];
  const rowSet = new Set(rowProperties);

  let rows: Row[] = [];
  for (const stored of candidates) {
    for (const row of rowsOf(stored, rowProperties)) if (matches(query.filter, row, rowSet)) rows.push(row);
  }
  rows.sort((a, b) => comparePositions(positionOf(a, orders), positionOf(b, orders), orders));

  // An entity appears once; a projection once per distinct combination of its projected values.
  const seen = new Set<string>();
  const distinctOn = query.distinctOn.map((d) => d.name);
  rows = rows.filter((row) => {
    const key = keyString(row.stored.entity.key);
    const identity =
      distinctOn.length > 0
        ? JSON.stringify(distinctOn.map((p) => encodeMessage('Value', row.values.get(p) ?? {}).toString('base64')))
        : projected.length > 0
          ? JSON.stringify([
              key,
              ...projected.map((p) => encodeMessage('Value', row.values.get(p)!).toString('base64')),
            ])
          : key;
    if (seen.has(identity)) return false;
    seen.add(identity);
    return true;
  });

  const start = decodeCursor(query.startCursor, orders);
  const end = decodeCursor(query.endCursor, orders);
  if (start) rows = rows.filter((row) => comparePositions(positionOf(row, orders), start, orders) > 0);
  let cutByEnd = false;
  if (end) {
    const before = rows.length;
    rows = rows.filter((row) => comparePositions(positionOf(row, orders), end, orders) <= 0);
    cutByEnd = rows.length < before;
  }
  const offset = Math.max(0, query.offset ?? 0);
  const skippedRows = rows.slice(0, offset);
  rows = rows.slice(offset);
  const limit = query.limit?.value;
  const limited = limit !== undefined && limit !== null && limit >= 0 && rows.length >= limit;
  const returned = limited ? rows.slice(0, limit) : rows;

  const results = returned.map((row) => {
    const key = row.stored.entity.key;
    let entity: EntityMessage;
    if (keysOnly) entity = { key, properties: {} };
    else if (projected.length > 0) {
      entity = {
        key,
        properties: Object.fromEntries(projected.map((p) => [p, projectedValue(row.values.get(p)!)])),
      };
    } else entity = row.stored.entity;
    return { stored: row.stored, entity, cursor: encodeCursor(positionOf(row, orders)) };
  });
  const last = returned[returned.length - 1] ?? skippedRows[skippedRows.length - 1];
  const endCursor = last ? encodeCursor(positionOf(last, orders)) : start ? encodeCursor(start) : Buffer.alloc(0);
  return {
    rows: results,
    skipped: skippedRows.length,
    endCursor,
    moreResults: limited ? 'MORE_RESULTS_AFTER_LIMIT' : cutByEnd ? 'MORE_RESULTS_AFTER_CURSOR' : 'NO_MORE_RESULTS',
    resultType: keysOnly ? 'KEY_ONLY' : projected.length > 0 ? 'PROJECTION' : 'FULL',
  };
}
