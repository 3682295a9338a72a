/** The value encoder: turns any supported JavaScript value into a JSON-safe, human-readable tagged tree, or says precisely why not. */
import { Buffer } from 'node:buffer';
import { NotSerializableError } from '../errors/payload.js';
import { viewToBase64 } from './binary.js';
import { formatIsoDate } from './iso-date.js';
import type { Datastore } from '@google-cloud/datastore';
import { datastoreValues, encodeKeyPath, looksLikeKey, wrapperType, type DatastoreValues } from './datastore-key.js';
import { CodecRegistry, type ClassCodec } from './registry.js';

/** Options of `encodeValue`. */
export interface EncodeOptions {
  /** Class codecs for user classes. @default an empty registry (user class instances are rejected) */
  registry?: CodecRegistry;
  /** How the value is named in error messages, e.g. `args` gives `args[1].user.callback`. @default 'value' */
  path?: string;
  /** Deepest allowed nesting of JSON containers in the output, the root counting as 1. @default 64 */
  maxDepth?: number;
  /**
   * The app's Datastore client: its `datastore.KEY` finds the key of an entity passed as a value, and its classes
   * recognise keys and `int`/`double`/`geoPoint` wrappers. Without it they are recognised by their shape.
   * @default none
   */
  datastore?: Datastore;
}

/** The default nesting limit shared by the encoder, the decoder and `parseEnvelope`. */
export const DEFAULT_MAX_DEPTH = 64;

const EMPTY_REGISTRY = new CodecRegistry();
const UNDEFINED = Object.freeze({ $undefined: true });
const NAN = Object.freeze({ $number: 'NaN' });
const INFINITY = Object.freeze({ $number: 'Infinity' });
const NEGATIVE_INFINITY = Object.freeze({ $number: '-Infinity' });
const NEGATIVE_ZERO = Object.freeze({ $number: '-0' });
const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

const HINT_DATA = 'Pass plain data instead.';
const HINT_FUNCTION =
  'Functions never travel in payloads: register the function once with deferred.task(name, fn) and defer that task, ' +
  "and for a closure move what it captures into an environment: deferred.closure('name', (env, ...args) => ...).bind(env).";

/** An encoding failure on its way out: segments are collected innermost first while the recursion unwinds. */
class EncodeFailure {
  readonly segments: string[] = [];
  constructor(
    readonly what: string,
    readonly hint: string,
    readonly cause?: unknown,
  ) {}

  toError(base: string): NotSerializableError {
    let path = base;
    for (let i = this.segments.length - 1; i >= 0; i--) path += this.segments[i];
    return new NotSerializableError(
      path,
      `Cannot serialize ${path}: ${this.what}. ${this.hint}`,
      this.cause === undefined ? undefined : { cause: this.cause },
    );
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Adds a path segment to a failure bubbling up; any other error (a throwing getter or Proxy trap) becomes one. */
function at(error: unknown, segment: string): EncodeFailure {
  const failure =
    error instanceof EncodeFailure
      ? error
      : new EncodeFailure(
          `reading it threw ${messageOf(error)}`,
          'Pass plain data whose properties can be read.',
          error,
        );
  failure.segments.push(segment);
  return failure;
}

function keySegment(key: string): string {
  return IDENTIFIER.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
}

function mapValueSegment(key: unknown, index: number): string {
  if (typeof key === 'string') return `.get(${JSON.stringify(key)})`;
  if (typeof key === 'number' || typeof key === 'boolean') return `.get(${String(key)})`;
  return `.values()[${index}]`;
}

function className(value: object): string {
  const ctor = (value as { constructor?: { name?: unknown } }).constructor;
  return typeof ctor?.name === 'string' && ctor.name !== '' ? ctor.name : '(anonymous class)';
}

/** One encoding run: remembers every object it has encoded so shared references and cycles become `$id`/`$ref`. */
class Encoder {
  /** source object -> its encoded node */
  private readonly seen = new Map<object, unknown>();
  /** encoded node -> id, only for nodes referenced more than once */
  private readonly ids = new Map<unknown, number>();
  /** encoded arrays at the depth limit: an `$arrayid` marker would not fit inside them */
  private readonly arraysAtLimit = new Set<unknown[]>();
  /** class instances whose codec data is being encoded (a reference back to one is a cycle we cannot rebuild) */
  private readonly encoding = new Set<object>();
  private nextId = 1;

  constructor(
    private readonly registry: CodecRegistry,
    private readonly maxDepth: number,
    private readonly datastore: DatastoreValues | undefined,
  ) {}

  encode(value: unknown, depth: number): unknown {
    switch (typeof value) {
      case 'string':
      case 'boolean':
        return value;
      case 'number':
        if (value === 0) return Object.is(value, -0) ? this.leaf(depth, NEGATIVE_ZERO) : 0;
        if (Number.isFinite(value)) return value;
        return this.leaf(depth, Number.isNaN(value) ? NAN : value > 0 ? INFINITY : NEGATIVE_INFINITY);
      case 'undefined':
        return this.leaf(depth, UNDEFINED);
      case 'bigint':
        return this.leaf(depth, { $bigint: value.toString() });
      case 'object':
        return value === null ? null : this.encodeObject(value, depth);
      case 'function':
        throw new EncodeFailure(`it is a function${value.name ? ` (${value.name})` : ''}`, HINT_FUNCTION);
      case 'symbol':
        throw new EncodeFailure(
          `it is a symbol (${value.description ?? ''})`,
          'Symbols cannot be serialized; pass a string instead.',
        );
    }
    throw new EncodeFailure(`it has the unsupported type ${typeof value}`, HINT_DATA);
  }

  private leaf<T>(depth: number, node: T): T {
    if (depth > this.maxDepth) throw this.tooDeep();
    return node;
  }

  private tooDeep(): EncodeFailure {
    return new EncodeFailure(
      `it is nested deeper than ${this.maxDepth} levels`,
      'Payloads are limited in depth so that workers can read them safely; flatten the value.',
    );
  }

  private encodeObject(value: object, depth: number): unknown {
    if (depth > this.maxDepth) throw this.tooDeep();
    const known = this.seen.get(value);
    if (known !== undefined) return this.reference(value, known);
    if (Array.isArray(value)) return this.encodeArray(value, depth);
    const proto = Object.getPrototypeOf(value) as object | null;
    if (proto === Object.prototype || proto === null) return this.encodePlain(value as Record<string, unknown>, depth);
    return this.encodeSpecial(value, depth);
  }

  private reference(value: object, node: unknown): { $ref: number } {
    if (this.encoding.has(value)) {
      throw new EncodeFailure(
        `it refers back to the instance of ${className(value)} whose class codec is encoding it (a cycle through a class codec)`,
        'A class codec cannot rebuild a cycle to its own instance; break the cycle in its encode(), e.g. by encoding an id.',
      );
    }
    let id = this.ids.get(node);
    if (id === undefined) {
      id = this.nextId++;
      this.ids.set(node, id);
      if (Array.isArray(node)) {
        // Arrays cannot carry a property in JSON, so a shared array starts with an identity marker.
        if (this.arraysAtLimit.has(node)) throw this.tooDeep();
        node.unshift({ $arrayid: id });
      } else {
        (node as Record<string, unknown>).$id = id;
      }
    }
    return { $ref: id };
  }

  private encodeArray(value: unknown[], depth: number): unknown[] {
    const out: unknown[] = [];
    this.seen.set(value, out);
    if (depth === this.maxDepth) this.arraysAtLimit.add(out);
    const n = value.length;
    let i = 0;
    try {
      for (; i < n; i++) out.push(this.encode(value[i], depth + 1));
    } catch (error) {
      throw at(error, `[${i}]`);
    }
    return out;
  }

  private encodePlain(value: Record<string, unknown>, depth: number): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    this.seen.set(value, out);
    let key = '';
    try {
      const keys = Object.keys(value);
      for (let i = 0; i < keys.length; i++) {
        key = keys[i]!;
        const encoded = this.encode(value[key], depth + 1);
        if (key.charCodeAt(0) === 36 /* $ */) out['$' + key] = encoded;
        else if (key === '__proto__')
          Object.defineProperty(out, key, { value: encoded, enumerable: true, writable: true, configurable: true });
        else out[key] = encoded;
      }
    } catch (error) {
      throw at(error, keySegment(key));
    }
    const entityKey = this.entityKeyOf(value);
    if (entityKey !== undefined) {
      // An entity read with @google-cloud/datastore keeps its key under a symbol; keep it, so the task can save it back.
      try {
        out.$entitykey = this.encode(entityKey, depth + 1);
      } catch (error) {
        throw at(error, '[datastore.KEY]');
      }
    }
    return out;
  }

  /** The key an entity read with `@google-cloud/datastore` keeps under its `KEY` symbol (any copy's, without an instance). */
  private entityKeyOf(value: object): unknown {
    if (this.datastore !== undefined) return (value as Record<symbol, unknown>)[this.datastore.KEY];
    const symbols = Object.getOwnPropertySymbols(value);
    for (let i = 0; i < symbols.length; i++) {
      const symbol = symbols[i]!;
      if (symbol.description !== 'KEY') continue;
      const key = (value as Record<symbol, unknown>)[symbol];
      if (key !== null && typeof key === 'object' && looksLikeKey(key)) return key;
    }
    return undefined;
  }

  private isKey(value: object): boolean {
    return this.datastore?.isKey(value) === true || looksLikeKey(value);
  }

  private wrapper(value: object): 'int' | 'double' | 'geoPoint' | undefined {
    const values = this.datastore;
    if (values !== undefined) {
      if (values.isInt(value)) return 'int';
      if (values.isDouble(value)) return 'double';
      if (values.isGeoPoint(value)) return 'geoPoint';
    }
    return wrapperType(value);
  }

  private remember<T extends object>(value: object, node: T): T {
    this.seen.set(value, node);
    return node;
  }

  private encodeSpecial(value: object, depth: number): unknown {
    const codec = this.registry.find(value);
    if (codec !== undefined) return this.encodeClass(value, codec, depth);
    if (value instanceof Date) {
      const time = value.getTime();
      return this.remember(value, { $date: Number.isNaN(time) ? null : formatIsoDate(time) });
    }
    if (ArrayBuffer.isView(value)) {
      if (Buffer.isBuffer(value)) return this.remember(value, { $buffer: value.toString('base64') });
      if (value instanceof DataView) return this.remember(value, { $dataview: viewToBase64(value) });
      const type = (value as unknown as { [Symbol.toStringTag]: string })[Symbol.toStringTag];
      return this.remember(value, { $typed: type, data: viewToBase64(value) });
    }
    if (value instanceof Map) return this.encodeMap(value, depth);
    if (value instanceof Set) return this.encodeSet(value, depth);
    if (value instanceof ArrayBuffer)
      return this.remember(value, { $arraybuffer: Buffer.from(value).toString('base64') });
    if (value instanceof RegExp) return this.remember(value, { $regexp: value.source, flags: value.flags });
    if (this.isKey(value)) return this.encodeKey(value as Parameters<typeof encodeKeyPath>[0], depth);
    const proto = Object.getPrototypeOf(value) as object;
    if (Object.getPrototypeOf(proto) === null && className(value) === 'Object') {
      return this.encodePlain(value as Record<string, unknown>, depth); // a plain object from another realm (vm, iframe)
    }
    switch (this.wrapper(value)) {
      case 'int':
        return this.remember(value, { $dsint: String((value as { value: unknown }).value) });
      case 'double':
        return this.remember(value, { $dsdouble: this.encode((value as { value: unknown }).value, depth + 1) });
      case 'geoPoint': {
        const { latitude, longitude } = (value as { value: { latitude: number; longitude: number } }).value;
        if (depth + 1 > this.maxDepth) throw this.tooDeep();
        return this.remember(value, { $geopoint: { latitude, longitude } });
      }
    }
    throw this.rejection(value);
  }

  private rejection(value: object): EncodeFailure {
    if (value instanceof Promise || typeof (value as { then?: unknown }).then === 'function') {
      return new EncodeFailure('it is a Promise', 'Await it before deferring and pass the result.');
    }
    if (value instanceof WeakMap || value instanceof WeakSet || value instanceof WeakRef) {
      return new EncodeFailure(
        `it is a ${className(value)}, whose contents cannot be enumerated`,
        'Pass a Map, a Set or the referenced value instead.',
      );
    }
    if (value instanceof Error) {
      return new EncodeFailure(
        `it is an Error (${className(value)}), which has no registered class codec`,
        'Pass its message (and whatever else the task needs) as plain data, or register a ClassCodec for it: createDeferred({ codecs: new CodecRegistry().register({ name, type, encode, decode }) }).',
      );
    }
    const name = className(value);
    if (name === 'Object') {
      return new EncodeFailure(
        'it is an object with a custom prototype, whose inherited properties would be lost',
        'Pass a plain object, e.g. { ...value }.',
      );
    }
    return new EncodeFailure(
      `it is an instance of class ${name}, which has no registered class codec`,
      `Register a ClassCodec for it in the registry given to createDeferred: createDeferred({ codecs: new CodecRegistry().register({ name: '${name}', type: ${name}, encode: (v) => data, decode: (data) => instance }) }), ` +
        'or pass plain data.',
    );
  }

  private encodeClass(value: object, codec: ClassCodec, depth: number): unknown {
    const node: { $class: string; data: unknown } = { $class: codec.name, data: undefined };
    this.seen.set(value, node);
    this.encoding.add(value);
    let data: unknown;
    try {
      data = codec.encode(value);
    } catch (error) {
      throw new EncodeFailure(
        `the encode() of class codec "${codec.name}" threw ${messageOf(error)}`,
        'Fix the class codec or pass plain data.',
        error,
      );
    }
    try {
      node.data = this.encode(data, depth + 1);
    } catch (error) {
      throw at(error, `<${codec.name}>`);
    }
    this.encoding.delete(value);
    return node;
  }

  private encodeMap(value: Map<unknown, unknown>, depth: number): unknown {
    const entries: unknown[] = [];
    const node = this.remember(value, { $map: entries });
    if (value.size > 0 && depth + 2 > this.maxDepth) throw this.tooDeep();
    let index = 0;
    for (const [key, item] of value) {
      let encodedKey: unknown;
      try {
        encodedKey = this.encode(key, depth + 3);
      } catch (error) {
        throw at(error, `.keys()[${index}]`);
      }
      try {
        entries.push([encodedKey, this.encode(item, depth + 3)]);
      } catch (error) {
        throw at(error, mapValueSegment(key, index));
      }
      index++;
    }
    return node;
  }

  private encodeSet(value: Set<unknown>, depth: number): unknown {
    const items: unknown[] = [];
    const node = this.remember(value, { $set: items });
    if (value.size > 0 && depth + 1 > this.maxDepth) throw this.tooDeep();
    let index = 0;
    try {
      for (const item of value) {
        items.push(this.encode(item, depth + 2));
        index++;
      }
    } catch (error) {
      throw at(error, `.values()[${index}]`);
    }
    return node;
  }

  private encodeKey(value: Parameters<typeof encodeKeyPath>[0], depth: number): unknown {
    if (depth + 2 > this.maxDepth) throw this.tooDeep();
    let path;
    try {
      path = encodeKeyPath(value);
    } catch (error) {
      throw new EncodeFailure(`it is a Datastore key whose ${messageOf(error)}`, 'Pass a complete key.');
    }
    const node: Record<string, unknown> = { $key: path };
    if (value.namespace !== undefined && value.namespace !== null && value.namespace !== '')
      node.namespace = value.namespace;
    return this.remember(value, node);
  }
}

/**
 * Turns a value into a JSON-safe tree that `decodeValue` turns back into an equal value (same types, shared references
 * and cycles preserved). Throws `NotSerializableError` naming the path of the first value that cannot travel and what to do.
 */
export function encodeValue(value: unknown, options: EncodeOptions = {}): unknown {
  const encoder = new Encoder(
    options.registry ?? EMPTY_REGISTRY,
    options.maxDepth ?? DEFAULT_MAX_DEPTH,
    options.datastore === undefined ? undefined : datastoreValues(options.datastore),
  );
  try {
    return encoder.encode(value, 1);
  } catch (error) {
    if (error instanceof EncodeFailure) throw error.toError(options.path ?? 'value');
    throw error;
  }
}
