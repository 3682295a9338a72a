/** The value decoder: rebuilds JavaScript values from the encoder's tagged tree, depth-limited, without eval, awaiting async class codecs. */
import { Buffer } from 'node:buffer';
import { BadEnvelopeError } from '../errors/payload.js';
import { TYPED_ARRAYS, base64ToArrayBuffer } from './binary.js';
import type { Datastore } from '@google-cloud/datastore';
import {
  datastoreValues,
  decodeDouble,
  decodeGeoPoint,
  decodeInt,
  decodeKey,
  type DatastoreValues,
} from './datastore-key.js';
import { DEFAULT_MAX_DEPTH } from './encode.js';
import { CodecRegistry, type ClassCodec } from './registry.js';
import { isThenable } from '../util/thenable.js';

/** Options of `decodeValue`. */
export interface DecodeOptions {
  /** Class codecs for the `$class` values in the payload. @default an empty registry (`$class` values are rejected) */
  registry?: CodecRegistry;
  /** Deepest allowed nesting of JSON containers in the input, the root counting as 1. @default 64 */
  maxDepth?: number;
  /** How the value is named in error messages, e.g. `args` gives `args[1].user`. @default 'value' */
  path?: string;
  /**
   * The app's Datastore client, which rebuilds `$key`, `$entitykey` and `$dsint`/`$dsdouble`/`$geopoint` values as its
   * own keys and wrappers, so that saving one writes a key (or integer, double, geo point) value. Required by payloads
   * that hold such values (the runtime always passes its `datastore`).
   * @default none
   */
  datastore?: Datastore;
}

const EMPTY_REGISTRY = new CodecRegistry();
/** Marks an id whose class instance is still being rebuilt: a `$ref` to it is a cycle through a class codec. */
const IN_PROGRESS = Symbol('in progress');
const NOOP = (): void => {};

/** A value that an async class codec is still producing; the containers holding it are patched when it arrives. */
class Pending {
  value: unknown;
  settled = false;
  /** pairs of (container, key); a Map or Set container is rebuilt instead */
  readonly slots: unknown[] = [];
  readonly promise: Promise<void>;

  constructor(source: Promise<unknown>) {
    this.promise = source.then((value) => this.settle(value));
    this.promise.catch(NOOP); // awaited by decodeValue; this only stops an early failure elsewhere looking unhandled
  }

  private settle(value: unknown): void {
    this.value = value;
    this.settled = true;
    const slots = this.slots;
    for (let i = 0; i < slots.length; i += 2) {
      const container = slots[i];
      if (container instanceof Map) rebuildMap(container);
      else if (container instanceof Set) rebuildSet(container);
      else assign(container as Record<PropertyKey, unknown>, slots[i + 1] as PropertyKey, value);
    }
  }
}

function settled(value: unknown): unknown {
  return value instanceof Pending && value.settled ? value.value : value;
}

function rebuildMap(map: Map<unknown, unknown>): void {
  const entries = [...map];
  map.clear();
  for (const [key, value] of entries) map.set(settled(key), settled(value));
}

function rebuildSet(set: Set<unknown>): void {
  const items = [...set];
  set.clear();
  for (const item of items) set.add(settled(item));
}

function assign(target: Record<PropertyKey, unknown>, key: PropertyKey, value: unknown): void {
  if (key === '__proto__') {
    Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  } else {
    target[key] = value;
  }
}

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

/** A decoding failure on its way out: segments are collected innermost first while the recursion unwinds. */
class DecodeFailure {
  readonly segments: string[] = [];
  constructor(
    readonly what: string,
    readonly malformed = true,
    readonly cause?: unknown,
  ) {}

  toError(base: string): BadEnvelopeError {
    let path = base;
    for (let i = this.segments.length - 1; i >= 0; i--) path += this.segments[i];
    const message = this.malformed
      ? `Malformed payload at ${path}: ${this.what}.`
      : `Cannot decode ${path}: ${this.what}`;
    return new BadEnvelopeError(message, this.cause === undefined ? undefined : { cause: this.cause });
  }
}

function bad(message: string): DecodeFailure {
  return new DecodeFailure(message);
}

/** Adds a path segment to a decoding failure bubbling up; other errors (from user class codecs) pass unchanged. */
function at(error: unknown, segment: string): unknown {
  if (error instanceof DecodeFailure) error.segments.push(segment);
  return error;
}

type Node = Record<string, unknown>;

/** One decoding run: the ids seen so far and the values async class codecs still owe. */
class Decoder {
  private readonly refs = new Map<number, unknown>();
  /** every Pending created, awaited at the end */
  readonly pendings: Pending[] = [];
  /** every Pending placed into a container, in order; a class codec waits for those inside its data */
  private readonly placed: Pending[] = [];

  constructor(
    private readonly registry: CodecRegistry,
    private readonly maxDepth: number,
    private readonly datastore: DatastoreValues | undefined,
  ) {}

  /** The app's Datastore values, which a Datastore-valued tag needs. */
  private values(tag: string): DatastoreValues {
    if (this.datastore === undefined)
      throw new DecodeFailure(
        `${tag} is a Datastore value, and decoding one needs the app's Datastore client: pass { datastore } to decodeValue`,
        false,
      );
    return this.datastore;
  }

  decode(node: unknown, depth: number): unknown {
    switch (typeof node) {
      case 'string':
      case 'number':
      case 'boolean':
        return node;
      case 'object':
        break;
      default:
        throw bad(`a ${typeof node} is not valid payload data`);
    }
    if (node === null) return null;
    if (depth > this.maxDepth) throw bad(`payload nested deeper than ${this.maxDepth} levels`);
    if (Array.isArray(node)) return this.decodeArray(node, depth);
    let first: string | undefined;
    for (const key in node) {
      first = key;
      break;
    }
    if (
      first !== undefined &&
      first.charCodeAt(0) === 36 &&
      first.charCodeAt(1) !== 36 &&
      first !== '$id' &&
      first !== '$entitykey'
    ) {
      return this.decodeTagged(first, node as Node, depth);
    }
    return this.decodePlain(node as Node, depth);
  }

  private place(value: Pending, container: unknown, key: unknown): void {
    value.slots.push(container, key);
    this.placed.push(value);
  }

  private define(id: unknown, value: unknown): void {
    if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 1) throw bad(`invalid id ${JSON.stringify(id)}`);
    if (this.refs.has(id) && this.refs.get(id) !== IN_PROGRESS) throw bad(`id ${id} is defined twice`);
    this.refs.set(id, value);
  }

  private decodeArray(node: unknown[], depth: number): unknown[] {
    const out: unknown[] = [];
    let i = 0;
    const first = node[0];
    if (first !== null && typeof first === 'object' && (first as Node).$arrayid !== undefined) {
      this.define((first as Node).$arrayid, out);
      i = 1;
    }
    const offset = i;
    try {
      for (; i < node.length; i++) {
        const value = this.decode(node[i], depth + 1);
        if (value instanceof Pending) this.place(value, out, out.length);
        out.push(value);
      }
    } catch (error) {
      throw at(error, `[${i - offset}]`);
    }
    return out;
  }

  private decodePlain(node: Node, depth: number): Node {
    const out: Node = {};
    if (node.$id !== undefined) this.define(node.$id, out);
    let key = '';
    try {
      for (const encodedKey in node) {
        key = encodedKey;
        if (key.charCodeAt(0) === 36) {
          if (key === '$id') continue;
          if (key === '$entitykey') {
            key = '[datastore.KEY]';
            this.decodeEntityKey(out, node[encodedKey], depth + 1);
            continue;
          }
          if (key.charCodeAt(1) !== 36) throw bad(`unexpected tag ${JSON.stringify(key)} inside an object`);
          key = key.slice(1);
        }
        const value = this.decode(node[encodedKey], depth + 1);
        if (value instanceof Pending) this.place(value, out, key);
        if (key === '__proto__') assign(out, key, value);
        else out[key] = value;
      }
    } catch (error) {
      throw at(error, key === '[datastore.KEY]' ? key : IDENTIFIER.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`);
    }
    return out;
  }

  private decodeEntityKey(out: Node, encoded: unknown, depth: number): void {
    const values = this.values('$entitykey');
    const key = this.decode(encoded, depth);
    if (key === null || typeof key !== 'object' || !values.isKey(key))
      throw bad('$entitykey must hold a Datastore $key');
    (out as Record<symbol, unknown>)[values.KEY] = key;
  }

  private identify<T>(node: Node, value: T): T {
    if (node.$id !== undefined) this.define(node.$id, value);
    return value;
  }

  private decodeTagged(tag: string, node: Node, depth: number): unknown {
    const data = node[tag];
    switch (tag) {
      case '$ref': {
        const value = this.refs.get(data as number);
        if (value === IN_PROGRESS) throw bad(`reference ${String(data)} points into the class instance being rebuilt`);
        if (value === undefined && !this.refs.has(data as number))
          throw bad(`reference to unknown id ${JSON.stringify(data)}`);
        return value;
      }
      case '$undefined':
        return undefined;
      case '$number':
        switch (data) {
          case 'NaN':
            return NaN;
          case 'Infinity':
            return Infinity;
          case '-Infinity':
            return -Infinity;
          case '-0':
            return -0;
        }
        throw bad(`invalid $number ${JSON.stringify(data)}`);
      case '$bigint':
        if (typeof data !== 'string' || !/^-?\d+$/.test(data)) throw bad(`invalid $bigint ${JSON.stringify(data)}`);
        return BigInt(data);
      case '$date':
        if (data !== null && typeof data !== 'string') throw bad('invalid $date');
        return this.identify(node, new Date(data === null ? NaN : data));
      case '$map':
        return this.decodeMap(node, data, depth);
      case '$set':
        return this.decodeSet(node, data, depth);
      case '$class':
        return this.decodeClass(node, data, depth);
      case '$buffer':
        if (typeof data !== 'string') throw bad('invalid $buffer');
        return this.identify(node, Buffer.from(data, 'base64'));
      case '$typed': {
        const type = typeof data === 'string' ? TYPED_ARRAYS.get(data) : undefined;
        if (type === undefined) throw bad(`unknown typed array type ${JSON.stringify(data)}`);
        const buffer = base64ToArrayBuffer(node.data);
        if (buffer === undefined || buffer.byteLength % type.BYTES_PER_ELEMENT !== 0)
          throw bad(`invalid ${data} bytes`);
        return this.identify(node, new type(buffer));
      }
      case '$arraybuffer': {
        const buffer = base64ToArrayBuffer(data);
        if (buffer === undefined) throw bad('invalid $arraybuffer');
        return this.identify(node, buffer);
      }
      case '$dataview': {
        const buffer = base64ToArrayBuffer(data);
        if (buffer === undefined) throw bad('invalid $dataview');
        return this.identify(node, new DataView(buffer));
      }
      case '$regexp': {
        if (typeof data !== 'string' || typeof node.flags !== 'string') throw bad('invalid $regexp');
        try {
          return this.identify(node, new RegExp(data, node.flags));
        } catch (error) {
          throw new DecodeFailure(`invalid $regexp (${(error as Error).message})`, true, error);
        }
      }
      case '$dsint': {
        const value = decodeInt(this.values(tag), data);
        if (value === undefined) throw bad('invalid $dsint');
        return this.identify(node, value);
      }
      case '$dsdouble': {
        const value = decodeDouble(this.values(tag), this.decode(data, depth + 1));
        if (value === undefined) throw bad('invalid $dsdouble');
        return this.identify(node, value);
      }
      case '$geopoint': {
        const value = decodeGeoPoint(this.values(tag), data);
        if (value === undefined) throw bad('invalid $geopoint');
        return this.identify(node, value);
      }
      case '$key': {
        const key = decodeKey(this.values(tag), data, node.namespace);
        if (key === undefined) throw bad('invalid Datastore $key');
        return this.identify(node, key);
      }
    }
    throw bad(`unknown tag ${JSON.stringify(tag)} (written by a newer cloud-deferred?)`);
  }

  private decodeMap(node: Node, entries: unknown, depth: number): Map<unknown, unknown> {
    if (!Array.isArray(entries)) throw bad('$map needs an array of [key, value] pairs');
    const map = this.identify(node, new Map<unknown, unknown>());
    for (let i = 0; i < entries.length; i++) {
      const pair: unknown = entries[i];
      if (!Array.isArray(pair) || pair.length !== 2) throw bad('$map needs an array of [key, value] pairs');
      if (depth + 2 > this.maxDepth) throw bad(`payload nested deeper than ${this.maxDepth} levels`);
      let key: unknown;
      let value: unknown;
      try {
        key = this.decode(pair[0], depth + 3);
      } catch (error) {
        throw at(error, `.keys()[${i}]`);
      }
      try {
        value = this.decode(pair[1], depth + 3);
      } catch (error) {
        throw at(error, `.values()[${i}]`);
      }
      map.set(key, value);
      if (key instanceof Pending) this.place(key, map, undefined);
      if (value instanceof Pending) this.place(value, map, undefined);
    }
    return map;
  }

  private decodeSet(node: Node, items: unknown, depth: number): Set<unknown> {
    if (!Array.isArray(items)) throw bad('$set needs an array');
    const set = this.identify(node, new Set<unknown>());
    let i = 0;
    try {
      for (; i < items.length; i++) {
        const value = this.decode(items[i], depth + 2);
        set.add(value);
        if (value instanceof Pending) this.place(value, set, undefined);
      }
    } catch (error) {
      throw at(error, `.values()[${i}]`);
    }
    return set;
  }

  private decodeClass(node: Node, name: unknown, depth: number): unknown {
    const codec: ClassCodec | undefined = typeof name === 'string' ? this.registry.get(name) : undefined;
    if (codec === undefined) {
      throw new DecodeFailure(
        `it is an instance of class ${JSON.stringify(name)}, which has no class codec registered in this worker; ` +
          'register the same ClassCodec where tasks run: createDeferred({ codecs: new CodecRegistry().register(codec) }).',
        false,
      );
    }
    const id = node.$id;
    if (id !== undefined) this.define(id, IN_PROGRESS);
    const before = this.placed.length;
    let data: unknown;
    try {
      data = this.decode(node.data, depth + 1);
    } catch (error) {
      throw at(error, `<${codec.name}>`);
    }
    const waits: Promise<void>[] = [];
    for (let i = before; i < this.placed.length; i++) waits.push(this.placed[i]!.promise);
    if (data instanceof Pending) waits.push(data.promise);
    let result: unknown;
    if (waits.length > 0) {
      result = this.pending(Promise.all(waits).then(() => codec.decode(settled(data))));
    } else {
      const value = codec.decode(data);
      result = isThenable(value) ? this.pending(Promise.resolve(value)) : value;
    }
    if (id !== undefined) this.refs.set(id as number, result);
    return result;
  }

  private pending(source: Promise<unknown>): Pending {
    const value = new Pending(source);
    this.pendings.push(value);
    return value;
  }
}

/**
 * Rebuilds the value `encodeValue` produced (after a JSON round trip or not). Depth-limited, never evaluates code;
 * throws `BadEnvelopeError` on malformed input; waits for async class codecs (e.g. ones that load an entity by key).
 */
export async function decodeValue(encoded: unknown, options: DecodeOptions = {}): Promise<unknown> {
  const value = decodeValueNow(encoded, options);
  return value instanceof ValuePromise ? value.promise : value;
}

/**
 * {@link decodeValue}, returning the value itself (no promise) when no async class codec is involved: the handler's
 * hot path, where every promise costs. Otherwise a {@link ValuePromise} of the value.
 */
export function decodeValueNow(encoded: unknown, options: DecodeOptions = {}): unknown {
  const decoder = new Decoder(
    options.registry ?? EMPTY_REGISTRY,
    options.maxDepth ?? DEFAULT_MAX_DEPTH,
    options.datastore === undefined ? undefined : datastoreValues(options.datastore),
  );
  let root: unknown;
  try {
    root = decoder.decode(encoded, 1);
  } catch (error) {
    if (error instanceof DecodeFailure) throw error.toError(options.path ?? 'value');
    throw error;
  }
  if (decoder.pendings.length === 0) return root;
  return new ValuePromise(Promise.all(decoder.pendings.map((p) => p.promise)).then(() => settled(root)));
}

/** A decoded value still owed by async class codecs (a wrapper, so a decoded Promise-like value is never mistaken for one). */
export class ValuePromise {
  constructor(readonly promise: Promise<unknown>) {}
}
