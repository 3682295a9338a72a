/** The versioned JSON envelope every payload travels in: writing it, validating its shape, and decoding its arguments. */
import { Buffer } from 'node:buffer';
import { BadEnvelopeError } from '../errors/payload.js';
import { InvalidArgumentError } from '../errors/invalid-argument.js';
import { ValuePromise, decodeValueNow } from './decode.js';
import { DEFAULT_MAX_DEPTH, encodeValue } from './encode.js';
import { jsonShape } from './json-depth.js';
import type { Datastore } from '@google-cloud/datastore';
import type { CodecRegistry } from './registry.js';

/**
 * The payload as it appears in the Cloud console, e.g.
 * `{"v":1,"task":"sendReport","args":["u1",{"$date":"2026-01-02T03:04:05.000Z"}],"meta":{...}}`.
 */
export interface Envelope {
  /** Format version; this release writes and reads 1. */
  v: 1;
  /** The registered task name. */
  task: string;
  /** The encoded argument list (see `encodeValue`). */
  args: unknown;
  /** The encoded environment bound with `task.bind(...)`, if any. */
  bound?: unknown;
  /** Plain JSON metadata written by the runtime (e.g. chaining information). */
  meta?: Record<string, unknown>;
  /** Where the payload lives when it did not fit inline: the key of its transient entity. */
  ref?: { namespace?: string; path: (string | number)[] };
}

/** What `encodeEnvelope` writes. */
export interface EnvelopeInput {
  task: string;
  args: unknown[];
  bound?: unknown;
  meta?: Record<string, unknown>;
  ref?: Envelope['ref'];
}

/** Options of `encodeEnvelope`. */
export interface EncodeEnvelopeOptions {
  /** Class codecs for user classes. @default an empty registry */
  registry?: CodecRegistry;
  /** Deepest nesting of the written JSON, the envelope object counting as 1. @default 64 */
  maxDepth?: number;
  /** The app's Datastore client (see `EncodeOptions.datastore`). @default none */
  datastore?: Datastore;
}

/** Options of `parseEnvelope`. */
export interface ParseEnvelopeOptions {
  /** Deepest nesting accepted, the envelope object counting as 1. @default 64 */
  maxDepth?: number;
}

/** Options of `decodeEnvelopeArgs`. */
export interface DecodeEnvelopeOptions {
  /** Class codecs for the `$class` values in the payload. @default an empty registry */
  registry?: CodecRegistry;
  /** Deepest nesting accepted, the envelope object counting as 1. @default 64 */
  maxDepth?: number;
  /** The app's Datastore client, which rebuilds keys as its own (see `DecodeOptions.datastore`). @default none */
  datastore?: Datastore;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

function isRef(value: unknown): value is NonNullable<Envelope['ref']> {
  if (!isPlainObject(value)) return false;
  if (value.namespace !== undefined && typeof value.namespace !== 'string') return false;
  const path = value.path;
  return (
    Array.isArray(path) &&
    path.length > 0 &&
    path.every((e) => typeof e === 'string' || (typeof e === 'number' && Number.isSafeInteger(e)))
  );
}

/** The text of UTF-8 bytes (a Buffer, or any Uint8Array a caller passes). */
function utf8(bytes: Uint8Array): string {
  const buffer = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return buffer.toString('utf8');
}

/** Encodes a call into the UTF-8 JSON bytes of a v1 envelope; throws `NotSerializableError` naming the bad argument. */
export function encodeEnvelope(input: EnvelopeInput, options: EncodeEnvelopeOptions = {}): Buffer {
  if (typeof input?.task !== 'string' || input.task === '') {
    throw new InvalidArgumentError('encodeEnvelope() needs the task name as a non-empty string.');
  }
  if (!Array.isArray(input.args)) throw new InvalidArgumentError('encodeEnvelope() needs args as an array.');
  if (input.meta !== undefined && !isPlainObject(input.meta)) {
    throw new InvalidArgumentError('encodeEnvelope() needs meta as a plain object of JSON values.');
  }
  if (input.ref !== undefined && !isRef(input.ref)) {
    throw new InvalidArgumentError('encodeEnvelope() needs ref as { namespace?: string, path: (string | number)[] }.');
  }
  const maxDepth = (options.maxDepth ?? DEFAULT_MAX_DEPTH) - 1; // the envelope object is level 1
  const envelope: Envelope = {
    v: 1,
    task: input.task,
    // No arguments (an entity-backed task's envelope, which carries its entity's key): no encoder to set up, unless
    // even an empty array is too deep (the encoder says so, naming the path).
    args:
      input.args.length === 0 && maxDepth >= 1
        ? []
        : encodeValue(input.args, { registry: options.registry, path: 'args', maxDepth, datastore: options.datastore }),
  };
  if (input.bound !== undefined) {
    envelope.bound = encodeValue(input.bound, {
      registry: options.registry,
      path: 'bound',
      maxDepth,
      datastore: options.datastore,
    });
  }
  if (input.meta !== undefined) envelope.meta = input.meta;
  if (input.ref !== undefined) envelope.ref = input.ref;
  return Buffer.from(JSON.stringify(envelope), 'utf8');
}

/**
 * Parses and validates envelope bytes (JSON, version, shape, nesting depth) without decoding any value.
 * Throws `BadEnvelopeError`; refuses over-deep input before parsing it, so even a million nested brackets are safe.
 */
export function parseEnvelope(bytes: Buffer, options: ParseEnvelopeOptions = {}): Envelope {
  return parseEnvelopeShape(bytes, options.maxDepth ?? DEFAULT_MAX_DEPTH).envelope;
}

/**
 * {@link parseEnvelope}, also saying whether the envelope is `plain`: no string in it starts with `$`, so it holds no
 * tag and no escaped key, and its `args` and `bound` as parsed are already their decoded values (within `maxDepth`,
 * checked here). The runtime's handler uses this to skip the decoder for plain JSON arguments.
 */
export function parseEnvelopeShape(bytes: Buffer, maxDepth: number): { envelope: Envelope; plain: boolean } {
  if (!(bytes instanceof Uint8Array)) throw new BadEnvelopeError('Malformed payload: expected the payload bytes.');
  const shape = jsonShape(bytes, maxDepth);
  if (shape === 'too-deep') {
    throw new BadEnvelopeError(`Malformed payload: payload nested deeper than ${maxDepth} levels.`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(utf8(bytes));
  } catch (error) {
    throw new BadEnvelopeError(`Malformed payload: not valid JSON (${(error as Error).message}).`, { cause: error });
  }
  if (!isPlainObject(parsed)) throw new BadEnvelopeError('Malformed payload: expected a JSON object envelope.');
  if (parsed.v !== 1) {
    throw new BadEnvelopeError(
      parsed.v === undefined
        ? 'Malformed payload: no envelope version "v"; it was not written by cloud-deferred.'
        : `Unsupported payload version ${JSON.stringify(parsed.v)}: this worker reads version 1; deploy the cloud-deferred release that wrote it.`,
    );
  }
  if (typeof parsed.task !== 'string' || parsed.task === '') {
    throw new BadEnvelopeError('Malformed payload: "task" must be a non-empty string.');
  }
  if (!Array.isArray(parsed.args)) throw new BadEnvelopeError('Malformed payload: "args" must be an array.');
  if (parsed.meta !== undefined && !isPlainObject(parsed.meta)) {
    throw new BadEnvelopeError('Malformed payload: "meta" must be an object.');
  }
  if (parsed.ref !== undefined && !isRef(parsed.ref)) {
    throw new BadEnvelopeError('Malformed payload: "ref" must be { namespace?: string, path: (string | number)[] }.');
  }
  const envelope: Envelope = { v: 1, task: parsed.task, args: parsed.args };
  if (parsed.bound !== undefined) envelope.bound = parsed.bound;
  if (parsed.meta !== undefined) envelope.meta = parsed.meta;
  if (parsed.ref !== undefined) envelope.ref = parsed.ref;
  return { envelope, plain: shape === 'plain' };
}

/** Decodes an envelope's arguments and bound environment (awaiting async class codecs); throws `BadEnvelopeError` on malformed values. */
export async function decodeEnvelopeArgs(
  envelope: Envelope,
  options: DecodeEnvelopeOptions = {},
): Promise<{ args: unknown[]; bound: unknown }> {
  const decoded = decodeEnvelopeArgsNow(envelope, options);
  return decoded instanceof Promise ? await decoded : decoded;
}

/** {@link decodeEnvelopeArgs} without a promise when no async class codec is involved (the handler's hot path). */
export function decodeEnvelopeArgsNow(
  envelope: Envelope,
  options: DecodeEnvelopeOptions = {},
): { args: unknown[]; bound: unknown } | Promise<{ args: unknown[]; bound: unknown }> {
  const maxDepth = (options.maxDepth ?? DEFAULT_MAX_DEPTH) - 1;
  const { registry, datastore } = options;
  const withBound = (args: unknown) => {
    if (!Array.isArray(args)) throw new BadEnvelopeError('Malformed payload: "args" must decode to an array.');
    if (envelope.bound === undefined) return { args, bound: undefined };
    const bound = decodeValueNow(envelope.bound, { registry, maxDepth, path: 'bound', datastore });
    return bound instanceof ValuePromise ? bound.promise.then((b) => ({ args, bound: b })) : { args, bound };
  };
  // The arguments first, then the environment (as decodeEnvelopeArgs always did).
  const args = decodeValueNow(envelope.args, { registry, maxDepth, path: 'args', datastore });
  return args instanceof ValuePromise ? args.promise.then(withBound) : withBound(args);
}
