/** The runtime's use of the payload codec: encoding calls and entity references, parsing, decoding, signing. */
import type { Datastore, Key } from '@google-cloud/datastore';
import { keyChain } from '../codec/datastore-key.js';
import { encodeEnvelope, parseEnvelope, sign, type CodecRegistry } from '../codec/index.js';
import { decodeEnvelopeArgsNow, parseEnvelopeShape } from '../codec/envelope.js';
import { DEFAULT_MAX_DEPTH } from '../codec/encode.js';

/** Settings that travel with a deferral (signed with it) because the handler needs them. */
export interface EnvelopeMeta {
  /** Most attempts; absent = unlimited. */
  maxAttempts?: number;
  /** Retention of the failure record of an inline task; absent = the default (7 days). */
  retentionMs?: number;
  /**
   * The defer's own headers, when it has any: an inline task's failure record has no stored request, so a retry from
   * the failure ledger restores them from here. The handler ignores them.
   */
  headers?: Record<string, string>;
  /** The defer's dispatch deadline, when it set one (for a retry, like `headers`). */
  dispatchDeadlineMs?: number;
}

/** What the codec needs to know. */
export interface CodecSettings {
  readonly codecs?: CodecRegistry;
  readonly maxDepth: number;
  /** The app's client: keys and Datastore wrappers are recognised and rebuilt with it. */
  readonly datastore: Datastore;
}

/** A parsed (not yet decoded) envelope. */
export interface ParsedEnvelope {
  readonly task: string;
  readonly meta: EnvelopeMeta;
  /** The `_DeferredTask` entity the arguments live in, for entity-backed tasks. */
  readonly ref: { readonly namespace?: string; readonly path: (string | number)[] } | null;
  /** The codec's own parsed form, for {@link decodeCall}. */
  readonly raw: ReturnType<typeof parseEnvelope>;
  /**
   * No string of the body starts with `$` (no tag, no escaped key): the parsed arguments are their decoded values,
   * and {@link decodeCall} hands them over without running the decoder. Only for bodies parsed by {@link parseCall},
   * whose parsed form nothing else holds.
   */
  readonly plain: boolean;
  /** The depth `plain` was checked against. */
  readonly maxDepth: number;
}

/** Encodes a call; throws the codec's NotSerializableError (with the argument path) for values it cannot carry. */
export function encodeCall(
  task: string,
  args: readonly unknown[],
  bound: unknown,
  meta: EnvelopeMeta,
  settings: CodecSettings,
): Buffer {
  return encodeEnvelope(
    {
      task,
      args: [...args],
      ...(bound === undefined ? {} : { bound }),
      // No meta at all when every setting is the default: fewer bytes to send, sign and parse.
      ...(Object.keys(meta).length > 0 ? { meta: { ...meta } } : {}),
    },
    { registry: settings.codecs, maxDepth: settings.maxDepth, datastore: settings.datastore },
  );
}

/** The path of a key in envelope form: kinds and names as strings, numeric ids as numbers (or strings when too big). */
export function refOf(key: Key): { namespace?: string; path: (string | number)[] } {
  const path: (string | number)[] = [];
  for (const part of keyChain(key)) {
    path.push(part.kind);
    if (part.name !== undefined) path.push(part.name);
    else if (part.id !== undefined)
      path.push(Number.isSafeInteger(Number(part.id)) ? Number(part.id) : String(part.id));
  }
  return key.namespace ? { namespace: key.namespace, path } : { path };
}

/** The key an envelope's `ref` points at. */
export function keyOfRef(datastore: Datastore, ref: NonNullable<ParsedEnvelope['ref']>): Key {
  const path = ref.path.map((part, i) => (i % 2 === 1 && typeof part === 'number' ? datastore.int(part) : part));
  return datastore.key({ namespace: ref.namespace, path: path as never });
}

/** The small envelope an entity-backed task carries: the task name, meta, and the entity's key. */
export function encodeRefEnvelope(task: string, key: Key, meta: EnvelopeMeta): Buffer {
  return encodeEnvelope({ task, args: [], meta: { ...meta }, ref: refOf(key) });
}

/** Parses an envelope (JSON, version, shape); throws the codec's BadEnvelopeError. */
export function parseCall(bytes: Buffer, maxDepth: number = DEFAULT_MAX_DEPTH): ParsedEnvelope {
  const { envelope: raw, plain } = parseEnvelopeShape(bytes, maxDepth);
  const meta = (raw.meta ?? {}) as EnvelopeMeta;
  return { task: raw.task, meta, ref: raw.ref ?? null, raw, plain, maxDepth };
}

/** Decodes the arguments (and bound value) of a parsed envelope. */
export function decodeCall(
  parsed: ParsedEnvelope,
  settings: CodecSettings,
): { args: unknown[]; bound: unknown } | Promise<{ args: unknown[]; bound: unknown }> {
  // Plain JSON, parsed within the same (or a stricter) depth: the decoder would only copy it.
  if (parsed.plain && parsed.maxDepth <= settings.maxDepth) {
    return { args: parsed.raw.args as unknown[], bound: parsed.raw.bound };
  }
  return decodeEnvelopeArgsNow(parsed.raw, {
    registry: settings.codecs,
    maxDepth: settings.maxDepth,
    datastore: settings.datastore,
  });
}

/** The signature header value of a task body (bound to task routes). */
export function signBody(body: Buffer, secret: string): string {
  return sign(body, secret, 'task');
}

/** True when `body` parses as a task envelope (what a captured task delivery's body is). */
export function isTaskEnvelope(body: Buffer, maxDepth?: number): boolean {
  try {
    parseEnvelope(body, { maxDepth });
    return true;
  } catch {
    return false;
  }
}
