/** Datastore values in payloads (keys, entity keys, `int`/`double`/`geoPoint` wrappers), recognised and rebuilt with the app's own `Datastore` instance. */
import type { Datastore, Key } from '@google-cloud/datastore';

/** A `datastore.int()`, `datastore.double()` or `datastore.geoPoint()` wrapper: its payload is `value`. */
type Wrapper = { readonly value: unknown };

/**
 * What the codec needs from `@google-cloud/datastore`, taken from the app's instance, never from a copy of the package
 * of cloud-deferred's own: keys decoded with it are the app's keys, so saving one writes a key value.
 */
export interface DatastoreValues {
  /** The symbol under which the client keeps an entity's key (`datastore.KEY`). */
  readonly KEY: symbol;
  isKey(value: object): value is Key;
  isInt(value: object): value is Wrapper;
  isDouble(value: object): value is Wrapper;
  isGeoPoint(value: object): value is Wrapper;
  key(namespace: string | undefined, path: (string | number | object)[]): Key;
  int(value: string): object;
  double(value: number): object;
  geoPoint(value: { latitude: number; longitude: number }): object;
}

const cache = new WeakMap<object, DatastoreValues>();

/** The codec's view of a `Datastore` instance (cached per instance). */
export function datastoreValues(datastore: Datastore): DatastoreValues {
  let values = cache.get(datastore);
  if (values === undefined) {
    const Int = datastore.int('0').constructor;
    const Double = datastore.double(0).constructor;
    const GeoPoint = datastore.geoPoint({ latitude: 0, longitude: 0 }).constructor;
    values = {
      KEY: datastore.KEY as unknown as symbol,
      isKey: (value): value is Key => datastore.isKey(value) || looksLikeKey(value),
      isInt: (value): value is Wrapper => value instanceof Int,
      isDouble: (value): value is Wrapper => value instanceof Double,
      isGeoPoint: (value): value is Wrapper => value instanceof GeoPoint,
      key: (namespace, path) =>
        datastore.key(namespace === undefined ? { path: path as never } : { namespace, path: path as never }),
      int: (value) => datastore.int(value),
      double: (value) => datastore.double(value),
      geoPoint: (value) => datastore.geoPoint(value),
    };
    cache.set(datastore, values);
  }
  return values;
}

/**
 * A Datastore key from any copy of `@google-cloud/datastore` (the encoder accepts keys from a client other than the
 * runtime's: they are plain data once encoded).
 */
export function looksLikeKey(value: object): value is Key {
  const candidate = value as { constructor?: { name?: unknown }; kind?: unknown; path?: unknown };
  return candidate.constructor?.name === 'Key' && typeof candidate.kind === 'string' && Array.isArray(candidate.path);
}

/**
 * A wrapper of any copy of the client: `Int` and `Double` carry a `type` tag (`DatastoreInt`, `DatastoreDouble`),
 * `GeoPoint` only its class name and `{ latitude, longitude }`.
 */
export function wrapperType(value: object): 'int' | 'double' | 'geoPoint' | undefined {
  const v = value as { type?: unknown; value?: unknown; constructor?: { name?: unknown } };
  if (!('value' in v)) return undefined;
  if (v.type === 'DatastoreInt') return 'int';
  if (v.type === 'DatastoreDouble') return 'double';
  const point = v.value as { latitude?: unknown; longitude?: unknown } | null;
  if (v.constructor?.name === 'GeoPoint' && typeof point?.latitude === 'number' && typeof point.longitude === 'number')
    return 'geoPoint';
  return undefined;
}

/** One path element as written in a payload: a kind or name (string), a numeric id (number), or an int64 id kept exact (`{"id":"..."}`). */
export type EncodedPathElement = string | number | { id: string };

/** A key and its ancestors, root first (the one walk up a key's parents; every key-path helper starts from it). */
export function keyChain(key: Key): Key[] {
  const chain: Key[] = [];
  for (let k: Key | undefined = key; k !== undefined; k = k.parent) chain.push(k);
  return chain.reverse();
}

/** The key's path with ids kept exact: names stay strings, numeric ids stay numbers, string ids become `{"id":"..."}`. */
export function encodeKeyPath(key: Key): EncodedPathElement[] {
  const chain = keyChain(key);
  const path: EncodedPathElement[] = [];
  chain.forEach((k, i) => {
    path.push(k.kind);
    if (k.name !== undefined && k.name !== null) path.push(k.name);
    else if (typeof k.id === 'number') path.push(k.id);
    else if (k.id !== undefined && k.id !== null) path.push({ id: String(k.id) });
    else if (i !== chain.length - 1) throw new Error(`ancestor ${k.kind} of the key has neither a name nor an id`);
  });
  return path;
}

/** Rebuilds `datastore.int(value)`; undefined when the value is not an integer string. */
export function decodeInt(values: DatastoreValues, value: unknown): object | undefined {
  return typeof value === 'string' && /^-?\d+$/.test(value) ? values.int(value) : undefined;
}

/** Rebuilds `datastore.double(value)`; undefined when the value is not a number. */
export function decodeDouble(values: DatastoreValues, value: unknown): object | undefined {
  return typeof value === 'number' ? values.double(value) : undefined;
}

/** Rebuilds `datastore.geoPoint(value)`; undefined when the value is not `{ latitude, longitude }`. */
export function decodeGeoPoint(values: DatastoreValues, value: unknown): object | undefined {
  const v = value as { latitude?: unknown; longitude?: unknown } | null;
  if (v === null || typeof v !== 'object' || typeof v.latitude !== 'number' || typeof v.longitude !== 'number') {
    return undefined;
  }
  return values.geoPoint({ latitude: v.latitude, longitude: v.longitude });
}

/** Rebuilds the app's `Key`; returns undefined when the data is not a valid key path. */
export function decodeKey(values: DatastoreValues, path: unknown, namespace: unknown): Key | undefined {
  if (!Array.isArray(path) || path.length === 0) return undefined;
  if (namespace !== undefined && typeof namespace !== 'string') return undefined;
  const elements: (string | number | object)[] = [];
  for (let i = 0; i < path.length; i++) {
    const e: unknown = path[i];
    if (i % 2 === 0) {
      if (typeof e !== 'string' || e === '') return undefined;
      elements.push(e);
    } else if (typeof e === 'string' || (typeof e === 'number' && Number.isSafeInteger(e))) {
      elements.push(e);
    } else if (e !== null && typeof e === 'object' && typeof (e as { id?: unknown }).id === 'string') {
      const id = (e as { id: string }).id;
      if (!/^-?\d+$/.test(id)) return undefined;
      elements.push(values.int(id));
    } else {
      return undefined;
    }
  }
  return values.key(namespace, elements);
}
