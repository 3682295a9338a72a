/** Datastore keys in payloads: recognising `@google-cloud/datastore` Key objects and rebuilding them as real `Key` instances. */
import datastore from '@google-cloud/datastore';

const { Key, Datastore } = datastore;
type Key = InstanceType<typeof Key>;

/** The symbol under which `@google-cloud/datastore` keeps an entity's key on the entity object (`datastore.KEY`). */
export const ENTITY_KEY: symbol = Datastore.KEY;

type Wrapper = abstract new (...args: never[]) => { value: unknown };
/** The library's value wrappers (`datastore.int()`, `datastore.double()`, `datastore.geoPoint()`), kept as such in payloads. */
export const DatastoreInt = Datastore.int(0).constructor as Wrapper;
export const DatastoreDouble = Datastore.double(0).constructor as Wrapper;
export const DatastoreGeoPoint = Datastore.geoPoint({ latitude: 0, longitude: 0 }).constructor as Wrapper;

/** Rebuilds `datastore.int(value)`; undefined when the value is not an integer string. */
export function decodeInt(value: unknown): InstanceType<Wrapper> | undefined {
  return typeof value === 'string' && /^-?\d+$/.test(value) ? Datastore.int(value) : undefined;
}

/** Rebuilds `datastore.double(value)`; undefined when the value is not a number. */
export function decodeDouble(value: unknown): InstanceType<Wrapper> | undefined {
  return typeof value === 'number' ? Datastore.double(value) : undefined;
}

/** Rebuilds `datastore.geoPoint(value)`; undefined when the value is not `{ latitude, longitude }`. */
export function decodeGeoPoint(value: unknown): InstanceType<Wrapper> | undefined {
  const v = value as { latitude?: unknown; longitude?: unknown } | null;
  if (v === null || typeof v !== 'object' || typeof v.latitude !== 'number' || typeof v.longitude !== 'number') {
    return undefined;
  }
  return Datastore.geoPoint({ latitude: v.latitude, longitude: v.longitude });
}

/** One path element as written in a payload: a kind or name (string), a numeric id (number), or an int64 id kept exact (`{"id":"..."}`). */
export type EncodedPathElement = string | number | { id: string };

/** True for Datastore Key objects, including ones from another copy of `@google-cloud/datastore`. */
export function isDatastoreKey(value: object): value is Key {
  if (value instanceof Key) return true;
  const candidate = value as { constructor?: { name?: unknown }; kind?: unknown; path?: unknown };
  return candidate.constructor?.name === 'Key' && typeof candidate.kind === 'string' && Array.isArray(candidate.path);
}

/** The key's path with ids kept exact: names stay strings, numeric ids stay numbers, string ids become `{"id":"..."}`. */
export function encodeKeyPath(key: Key): EncodedPathElement[] {
  const chain: Key[] = [];
  for (let k: Key | undefined = key; k !== undefined; k = k.parent) chain.push(k);
  const path: EncodedPathElement[] = [];
  for (let i = chain.length - 1; i >= 0; i--) {
    const k = chain[i]!;
    path.push(k.kind);
    if (k.name !== undefined && k.name !== null) path.push(k.name);
    else if (typeof k.id === 'number') path.push(k.id);
    else if (k.id !== undefined && k.id !== null) path.push({ id: String(k.id) });
    else if (i !== 0) throw new Error(`ancestor ${k.kind} of the key has neither a name nor an id`);
  }
  return path;
}

/** Rebuilds a real `Key`; returns undefined when the data is not a valid key path. */
export function decodeKey(path: unknown, namespace: unknown): Key | undefined {
  if (!Array.isArray(path) || path.length === 0) return undefined;
  if (namespace !== undefined && typeof namespace !== 'string') return undefined;
  const elements: (string | number | ReturnType<typeof Datastore.int>)[] = [];
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
      elements.push(Datastore.int(id));
    } else {
      return undefined;
    }
  }
  return new Key(namespace === undefined ? { path: elements } : { namespace, path: elements });
}
