/** Packing an envelope for a `_DeferredTask` entity: compress (gzip, Brotli or zstd), then split into chunks of at most CHUNK_BYTES; and back. */
import { promisify } from 'node:util';
import * as zlib from 'node:zlib';
import { BadStoredPayloadError } from './errors.js';
import { CHUNK_BYTES } from './schema.js';

/** A payload ready to store: inline in the task entity (`chunks` empty) or split over chunk entities. */
export interface PackedPayload {
  /** Stored in the task entity's `payload` (empty when chunked). */
  readonly payload: Buffer;
  /** Stored one per `_DeferredTaskChunk` entity, ids 1..n in order. */
  readonly chunks: readonly Buffer[];
  /** The stored bytes' content coding, as HTTP names them. */
  readonly encoding: StoredEncoding;
  /** Uncompressed size. */
  readonly payloadBytes: number;
}

/**
 * Default gzip level of stored payloads: 3 compresses JSON envelopes about 2.3x faster than zlib's default 6 for about
 * 10% more bytes (a 500 KB payload: 3.4 ms and 95 KB instead of 7.9 ms and 86 KB). Reading accepts any level.
 */
export const GZIP_LEVEL = 3;

/**
 * Payloads below this many bytes are stored as they are, whatever the compression setting: gzip's fixed cost (zlib's
 * set-up and Node's stream around it, about 20 µs whatever the size) then outweighs the few KB it saves in a record
 * that carries about 1 KB of its own properties, and a reader skips the gunzip (about 10 µs) too.
 */
export const GZIP_MIN_BYTES = 4 * 1024;

/** A checked gzip setting: a level 1-9, or 0 to store the bytes as they are (`'none'`). */
export type CompressionLevel = 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9;

/** A checked compression setting: a gzip level (0: none), or Brotli (quality 0-11) or zstd (level 1-19) at a level. */
export type PayloadCompression = CompressionLevel | { readonly codec: 'br' | 'zstd'; readonly level: number };

/** How stored bytes are coded: the `encoding` property of a task entity. */
export type StoredEncoding = 'gzip' | 'br' | 'zstd' | 'identity';

/** One codec of stored payloads: compress at a level (in one call, or off the event loop), and decompress. */
interface Codec {
  compressSync(bytes: Buffer, level: number): Buffer;
  compress(bytes: Buffer, level: number): Promise<Buffer>;
  decompressSync(bytes: Buffer): Buffer;
}

/** node:zlib's zstd functions, on Node.js 22.15 / 23.8 and later (absent from older @types/node too). */
type ZstdZlib = {
  zstdCompress: (bytes: Buffer, options: object, callback: (error: Error | null, result: Buffer) => void) => void;
  zstdCompressSync: (bytes: Buffer, options: object) => Buffer;
  zstdDecompressSync: (bytes: Buffer) => Buffer;
};

const gzipAsync = promisify(zlib.gzip);
const brotliAsync = promisify(zlib.brotliCompress);

/** zstd's codec, or undefined on a Node.js whose zlib has none. */
function zstdCodec(): Codec | undefined {
  const z = zlib as unknown as Partial<ZstdZlib>;
  if (typeof z.zstdCompressSync !== 'function') return undefined;
  const { zstdCompress, zstdCompressSync, zstdDecompressSync } = z as ZstdZlib;
  const zstdAsync = promisify(zstdCompress);
  return {
    compressSync: (bytes, level) => zstdCompressSync(bytes, zstdOptions(level, bytes.length)),
    compress: (bytes, level) => zstdAsync(bytes, zstdOptions(level, bytes.length)),
    decompressSync: zstdDecompressSync,
  };
}

/** The codecs, by the `encoding` they store (`zstd` only where this Node.js has it). */
const CODECS: { readonly gzip: Codec; readonly br: Codec; readonly zstd: Codec | undefined } = {
  gzip: {
    compressSync: (bytes, level) => zlib.gzipSync(bytes, gzipOptions(level, bytes.length)),
    compress: (bytes, level) => gzipAsync(bytes, gzipOptions(level, bytes.length)),
    decompressSync: (bytes) => zlib.gunzipSync(bytes),
  },
  br: {
    compressSync: (bytes, level) => zlib.brotliCompressSync(bytes, brotliOptions(level, bytes.length)),
    compress: (bytes, level) => brotliAsync(bytes, brotliOptions(level, bytes.length)),
    decompressSync: (bytes) => zlib.brotliDecompressSync(bytes),
  },
  zstd: zstdCodec(),
};

/** True when this Node.js can compress and decompress zstd (22.15 / 23.8 and later). */
export function hasZstd(): boolean {
  return CODECS.zstd !== undefined;
}

/**
 * Compresses `bytes` (gzip at a level, or Brotli or zstd, unless that does not make them smaller; `0`, or fewer than
 * {@link GZIP_MIN_BYTES} bytes, stores them as they are) and chunks the result when it exceeds `chunkBytes`.
 */
export function packPayload(
  bytes: Buffer,
  compression: PayloadCompression = GZIP_LEVEL,
  chunkBytes: number = CHUNK_BYTES,
): PackedPayload {
  if (storesAsIs(bytes, compression)) return packCompressed(bytes, null, 'identity', chunkBytes);
  const { encoding, level } = codingOf(compression);
  return packCompressed(bytes, codecOf(encoding).compressSync(bytes, level), encoding, chunkBytes);
}

/**
 * {@link packPayload} with the compression on libuv's thread pool, so a large payload does not hold the caller's event
 * loop for milliseconds (other requests keep being served, and another core can do the work).
 */
export async function packPayloadAsync(
  bytes: Buffer,
  compression: PayloadCompression = GZIP_LEVEL,
  chunkBytes: number = CHUNK_BYTES,
): Promise<PackedPayload> {
  if (storesAsIs(bytes, compression)) return packCompressed(bytes, null, 'identity', chunkBytes);
  const { encoding, level } = codingOf(compression);
  return packCompressed(bytes, await codecOf(encoding).compress(bytes, level), encoding, chunkBytes);
}

/** The stored encoding and the level of a (compressing) setting: a bare number is a gzip level. */
function codingOf(compression: PayloadCompression): { encoding: keyof typeof CODECS; level: number } {
  return typeof compression === 'number'
    ? { encoding: 'gzip', level: compression }
    : { encoding: compression.codec, level: compression.level };
}

/** The codec of `encoding` (the option check refuses zstd where this Node.js has none, before this is reached). */
function codecOf(encoding: keyof typeof CODECS): Codec {
  const codec = CODECS[encoding];
  if (codec === undefined) throw new Error(`zstd compression needs Node.js 22.15 or later; this is ${process.version}`);
  return codec;
}

/** True when `bytes` are stored as they are: no compression asked for, or too few bytes for it to pay. */
function storesAsIs(bytes: Buffer, compression: PayloadCompression): boolean {
  return compression === 0 || bytes.length < GZIP_MIN_BYTES;
}

/** Brotli's settings for `length` bytes of JSON text at `quality`. */
function brotliOptions(quality: number, length: number): zlib.BrotliOptions {
  const { BROTLI_PARAM_QUALITY, BROTLI_PARAM_SIZE_HINT, BROTLI_PARAM_MODE, BROTLI_MODE_TEXT } = zlib.constants;
  return {
    params: {
      [BROTLI_PARAM_QUALITY]: quality,
      [BROTLI_PARAM_SIZE_HINT]: length,
      [BROTLI_PARAM_MODE]: BROTLI_MODE_TEXT,
    },
  };
}

/** zstd's settings at `level`, with the input's size given up front (zstd then sizes its window to it). */
function zstdOptions(level: number, length: number): object {
  const constants = zlib.constants as unknown as Record<string, number>;
  return {
    params: { [constants.ZSTD_c_compressionLevel!]: level },
    pledgedSrcSize: length,
  };
}

/**
 * zlib's settings for `length` bytes at `level`: a window no larger than the input (and a hash table to match)
 * compresses a payload below 32 KiB to the same bytes for less, since zlib's set-up of its default 32 KiB window and
 * 256 KiB of state weighs most on small inputs, and so does the garbage it leaves.
 */
function gzipOptions(level: number, length: number): { level: number; windowBits: number; memLevel: number } {
  const windowBits = Math.min(15, Math.max(9, Math.ceil(Math.log2(Math.max(1, length)))));
  return { level, windowBits, memLevel: Math.min(8, Math.max(1, windowBits - 7)) };
}

/** The payload as stored: `compressed` (coded as `codec`) when smaller than `bytes`, else `bytes`; chunked above `chunkBytes`. */
function packCompressed(
  bytes: Buffer,
  compressed: Buffer | null,
  codec: StoredEncoding,
  chunkBytes: number,
): PackedPayload {
  const smaller = compressed !== null && compressed.length < bytes.length;
  const stored = smaller ? compressed : bytes;
  const encoding = smaller ? codec : 'identity';
  if (stored.length <= chunkBytes) return { payload: stored, chunks: [], encoding, payloadBytes: bytes.length };
  const chunks: Buffer[] = [];
  for (let offset = 0; offset < stored.length; offset += chunkBytes) {
    chunks.push(stored.subarray(offset, Math.min(offset + chunkBytes, stored.length)));
  }
  return { payload: Buffer.alloc(0), chunks, encoding, payloadBytes: bytes.length };
}

/** Reassembles and decompresses a stored payload; `chunks` in order 1..n. */
export function unpackPayload(
  stored: { readonly payload: Buffer; readonly encoding: string; readonly payloadBytes: number },
  chunks: readonly Buffer[],
): Buffer {
  const joined = chunks.length > 0 ? Buffer.concat(chunks) : stored.payload;
  const bytes = decompress(stored.encoding, joined);
  if (bytes.length !== stored.payloadBytes) {
    throw new BadStoredPayloadError(`stored payload has ${bytes.length} bytes, expected ${stored.payloadBytes}`);
  }
  return bytes;
}

/** The bytes of a stored payload coded as `encoding`; BadStoredPayloadError when they do not decompress. */
function decompress(encoding: string, joined: Buffer): Buffer {
  if (encoding === 'identity') return joined;
  if (!Object.hasOwn(CODECS, encoding)) {
    throw new BadStoredPayloadError(`stored payload has unknown encoding ${JSON.stringify(encoding)}`);
  }
  const codec = CODECS[encoding as keyof typeof CODECS];
  if (codec === undefined) {
    throw new BadStoredPayloadError(
      `stored payload is zstd-compressed, which this Node.js (${process.version}) cannot decompress: run the workers on ` +
        'Node.js 22.15 or later (or defer with another compression), then replay the task with `deferred retry`',
    );
  }
  try {
    return codec.decompressSync(joined);
  } catch (error) {
    throw new BadStoredPayloadError(`stored payload does not decompress: ${(error as Error).message}`);
  }
}
