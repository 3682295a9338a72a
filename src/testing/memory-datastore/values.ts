/** Datastore's value and key semantics for the in-memory store: the messages' shapes, index values, ordering and equality. */

/** A key as the Datastore API carries it (after the client's encoding: int64 ids as strings). */
export interface KeyMessage {
  partitionId?: { projectId?: string; databaseId?: string; namespaceId?: string } | null;
  path: PathElementMessage[];
}

/** One element of a key's path: a kind and an id or a name (neither: an incomplete key). */
export interface PathElementMessage {
  kind: string;
  id?: string | null;
  name?: string | null;
  idType?: 'id' | 'name';
}

/** A `google.datastore.v1.Value`, with the oneof's name in `valueType`. */
export interface ValueMessage {
  valueType?: string;
  nullValue?: string | number;
  booleanValue?: boolean;
  integerValue?: string;
  doubleValue?: number;
  timestampValue?: { seconds: string | number; nanos: number } | null;
  keyValue?: KeyMessage | null;
  stringValue?: string;
  blobValue?: Buffer | Uint8Array;
  geoPointValue?: { latitude: number; longitude: number } | null;
  entityValue?: EntityMessage | null;
  arrayValue?: { values: ValueMessage[] } | null;
  meaning?: number;
  excludeFromIndexes?: boolean;
}

/** A `google.datastore.v1.Entity`. */
export interface EntityMessage {
  key?: KeyMessage | null;
  properties: Record<string, ValueMessage>;
}

/** The kind of a value's oneof, as the client's decoding names it. */
export function typeOf(value: ValueMessage): string {
  if (value.valueType) return value.valueType;
  for (const name of [
    'nullValue',
    'booleanValue',
    'integerValue',
    'doubleValue',
    'timestampValue',
    'keyValue',
    'stringValue',
    'blobValue',
    'geoPointValue',
    'entityValue',
    'arrayValue',
  ] as const) {
    if (value[name] !== undefined && value[name] !== null) return name;
  }
  return 'nullValue';
}

/** True when the key's last path element has neither an id nor a name. */
export function isIncomplete(key: KeyMessage): boolean {
  const last = key.path[key.path.length - 1];
  return !last || (!hasId(last) && !hasName(last));
}

function hasId(element: PathElementMessage): boolean {
  return element.id !== undefined && element.id !== null && (element.idType === 'id' || element.idType === undefined);
}

function hasName(element: PathElementMessage): boolean {
  return (
    element.name !== undefined && element.name !== null && (element.idType === 'name' || element.idType === undefined)
  );
}

/** The namespace of a key ('' for the default one). */
export function namespaceOf(key: KeyMessage): string {
  return key.partitionId?.namespaceId ?? '';
}

/** A string identifying a key within its project (namespace and path), for maps. */
export function keyString(key: KeyMessage): string {
  return JSON.stringify([namespaceOf(key), ...pathParts(key.path)]);
}

/** The string identifying the entity group of a key: its namespace and root element. */
export function groupString(key: KeyMessage): string {
  return JSON.stringify([namespaceOf(key), ...pathParts(key.path.slice(0, 1))]);
}

function pathParts(path: readonly PathElementMessage[]): unknown[] {
  return path.flatMap((e) => [e.kind, hasId(e) ? { id: String(e.id) } : hasName(e) ? e.name : null]);
}

/** True when `ancestor`'s path is a prefix of `key`'s (a key is its own ancestor), in the same namespace. */
export function hasAncestor(key: KeyMessage, ancestor: KeyMessage): boolean {
  if (namespaceOf(key) !== namespaceOf(ancestor) || ancestor.path.length > key.path.length) return false;
  return ancestor.path.every((e, i) => compareElements(e, key.path[i]!) === 0);
}

function compareBytes(a: string | Buffer | Uint8Array, b: string | Buffer | Uint8Array): number {
  const x = typeof a === 'string' ? Buffer.from(a, 'utf8') : Buffer.from(a);
  const y = typeof b === 'string' ? Buffer.from(b, 'utf8') : Buffer.from(b);
  return Buffer.compare(x, y);
}

function compareBig(a: string | number, b: string | number): number {
  const x = BigInt(a);
  const y = BigInt(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

function compareElements(a: PathElementMessage, b: PathElementMessage): number {
  const kinds = compareBytes(a.kind, b.kind);
  if (kinds !== 0) return kinds;
  // Numeric ids sort before names; ids numerically, names (like kinds) by their UTF-8 bytes.
  const aId = hasId(a);
  const bId = hasId(b);
  if (aId && bId) return compareBig(a.id!, b.id!);
  if (aId !== bId) return aId ? -1 : 1;
  return compareBytes(a.name ?? '', b.name ?? '');
}

/** Datastore's key order: element by element (kind, then id before name), an ancestor before its descendants. */
export function compareKeys(a: KeyMessage, b: KeyMessage): number {
  const n = Math.min(a.path.length, b.path.length);
  for (let i = 0; i < n; i++) {
    const c = compareElements(a.path[i]!, b.path[i]!);
    if (c !== 0) return c;
  }
  return a.path.length - b.path.length;
}

/**
 * The rank of a value's type in the index order both emulators keep (checked against them): null, integers,
 * timestamps, booleans, strings and blobs (compared as bytes), doubles, geo points, keys. Integers and doubles are
 * different types: `5` does not equal `5.0`, and a range filter on a number also takes in the types ranked between.
 */
function rankOf(type: string): number {
  switch (type) {
    case 'nullValue':
      return 0;
    case 'integerValue':
      return 1;
    case 'timestampValue':
      return 2;
    case 'booleanValue':
      return 3;
    case 'stringValue':
    case 'blobValue':
      return 4;
    case 'doubleValue':
      return 5;
    case 'geoPointValue':
      return 6;
    case 'keyValue':
      return 7;
    default:
      return 8;
  }
}

function compareDoubles(a: number, b: number): number {
  if (Number.isNaN(a) || Number.isNaN(b)) return Number.isNaN(a) ? (Number.isNaN(b) ? 0 : -1) : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Total order of indexed values (the index order): by type rank, then within the type. */
export function compareValues(a: ValueMessage, b: ValueMessage): number {
  const ta = typeOf(a);
  const tb = typeOf(b);
  const ranks = rankOf(ta) - rankOf(tb);
  if (ranks !== 0) return ranks;
  switch (ta) {
    case 'nullValue':
      return 0;
    case 'integerValue':
      return compareBig(a.integerValue ?? '0', b.integerValue ?? '0');
    case 'timestampValue': {
      const seconds = compareBig(a.timestampValue?.seconds ?? 0, b.timestampValue?.seconds ?? 0);
      return seconds !== 0 ? seconds : (a.timestampValue?.nanos ?? 0) - (b.timestampValue?.nanos ?? 0);
    }
    case 'booleanValue':
      return Number(Boolean(a.booleanValue)) - Number(Boolean(b.booleanValue));
    case 'stringValue':
    case 'blobValue': {
      const bytes = compareBytes(a.stringValue ?? a.blobValue ?? '', b.stringValue ?? b.blobValue ?? '');
      if (bytes !== 0) return bytes;
      return ta === tb ? 0 : ta === 'blobValue' ? -1 : 1; // the same bytes as a blob and as a string are not equal
    }
    case 'doubleValue':
      return compareDoubles(a.doubleValue ?? 0, b.doubleValue ?? 0);
    case 'geoPointValue': {
      const lat = compareDoubles(a.geoPointValue?.latitude ?? 0, b.geoPointValue?.latitude ?? 0);
      return lat !== 0 ? lat : compareDoubles(a.geoPointValue?.longitude ?? 0, b.geoPointValue?.longitude ?? 0);
    }
    case 'keyValue':
      return compareKeys(a.keyValue!, b.keyValue!);
    default:
      return 0;
  }
}

/**
 * The values a property contributes to the indexes: none when it is excluded from indexes (or is an embedded entity
 * or an empty array), one per distinct element for an array. `path` may name a property of an embedded entity
 * (`address.city`), as Datastore indexes them.
 */
export function indexValues(entity: EntityMessage, path: string): ValueMessage[] {
  const found: ValueMessage[] = [];
  collect(entity, path, found);
  const distinct: ValueMessage[] = [];
  for (const value of found) if (!distinct.some((d) => compareValues(d, value) === 0)) distinct.push(value);
  return distinct;
}

function collect(entity: EntityMessage, path: string, out: ValueMessage[]): void {
  const direct = entity.properties[path];
  if (direct) {
    pushIndexed(direct, out);
    return;
  }
  const dot = path.indexOf('.');
  if (dot < 0) return;
  // `a.b.c`: the longest prefix that names a property, then the rest inside its entity value(s).
  for (let cut = path.lastIndexOf('.'); cut > 0; cut = path.lastIndexOf('.', cut - 1)) {
    const head = entity.properties[path.slice(0, cut)];
    if (!head) continue;
    const rest = path.slice(cut + 1);
    for (const nested of entitiesIn(head)) collect(nested, rest, out);
    return;
  }
}

function entitiesIn(value: ValueMessage): EntityMessage[] {
  if (value.excludeFromIndexes) return [];
  const type = typeOf(value);
  if (type === 'entityValue' && value.entityValue) return [value.entityValue];
  if (type === 'arrayValue') {
    return (value.arrayValue?.values ?? []).flatMap((v) =>
      typeOf(v) === 'entityValue' && v.entityValue && !v.excludeFromIndexes ? [v.entityValue] : [],
    );
  }
  return [];
}

function pushIndexed(value: ValueMessage, out: ValueMessage[]): void {
  const type = typeOf(value);
  if (type === 'arrayValue') {
    for (const element of value.arrayValue?.values ?? []) {
      const t = typeOf(element);
      if (!element.excludeFromIndexes && t !== 'arrayValue' && t !== 'entityValue') out.push(element);
    }
    return;
  }
  if (value.excludeFromIndexes || type === 'entityValue') return;
  out.push(value);
}

/** A value's indexed form in a projection: timestamps come back as integer microseconds, as the emulators answer. */
export function projectedValue(value: ValueMessage): ValueMessage {
  if (typeOf(value) === 'timestampValue') {
    const t = value.timestampValue!;
    const micros = BigInt(t.seconds) * 1_000_000n + BigInt(Math.floor(t.nanos / 1000));
    return { valueType: 'integerValue', integerValue: micros.toString() };
  }
  const { meaning: _meaning, excludeFromIndexes: _excluded, ...rest } = value;
  return rest;
}

/** UTF-8 bytes of a value as far as Datastore's size limits count them (strings and blobs; nested values summed). */
export function valueBytes(value: ValueMessage): number {
  switch (typeOf(value)) {
    case 'stringValue':
      return Buffer.byteLength(value.stringValue ?? '', 'utf8');
    case 'blobValue':
      return value.blobValue?.length ?? 0;
    case 'arrayValue':
      return (value.arrayValue?.values ?? []).reduce((sum, v) => sum + valueBytes(v), 0);
    case 'entityValue':
      return entityBytes(value.entityValue ?? { properties: {} });
    default:
      return 8;
  }
}

/** An estimate of an entity's stored size (property names and values), for the 1 MiB limit. */
export function entityBytes(entity: EntityMessage): number {
  let size = 0;
  for (const [name, value] of Object.entries(entity.properties)) size += Buffer.byteLength(name) + valueBytes(value);
  return size;
}
