/** Packing an envelope for a `_DeferredTask` entity: gzip, then split into chunks of at most CHUNK_BYTES; and back. */
import { promisify } from 'node:util';
import { gunzipSync, gzip, gzipSync } from 'node:zlib';
import { BadStoredPayloadError } from './errors.js';
import { CHUNK_BYTES } from './schema.js';

/** A payload ready to store: inline in the task entity (`chunks` empty) or split over chunk entities. */
export interface PackedPayload {
  /** Stored in the task entity's `payload` (empty when chunked). */
  readonly payload: Buffer;
  /** Stored one per `_DeferredTaskChunk` entity, ids 1..n in order. */
  readonly chunks: readonly Buffer[];
  readonly encoding: 'gzip' | 'identity';
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

/** A checked compression setting: a gzip level 1-9, or 0 to store the bytes as they are (`'none'`). */
export type CompressionLevel = 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9;

/**
 * Compresses `bytes` (gzip at `level`, unless that does not make them smaller; `0`, or fewer than
 * {@link GZIP_MIN_BYTES} bytes, stores them as they are) and chunks the result when it exceeds `chunkBytes`.
 */
export function packPayload(
  bytes: Buffer,
  level: CompressionLevel = GZIP_LEVEL,
  chunkBytes: number = CHUNK_BYTES,
): PackedPayload {
  return packCompressed(
    bytes,
    skipsGzip(bytes, level) ? null : gzipSync(bytes, gzipOptions(level, bytes.length)),
    chunkBytes,
  );
}

/**
 * {@link packPayload} with the compression on libuv's thread pool, so a large payload does not hold the caller's event
 * loop for milliseconds (other requests keep being served, and another core can do the work).
 */
export async function packPayloadAsync(
  bytes: Buffer,
  level: CompressionLevel = GZIP_LEVEL,
  chunkBytes: number = CHUNK_BYTES,
): Promise<PackedPayload> {
  return packCompressed(
    bytes,
    skipsGzip(bytes, level) ? null : await gzipAsync(bytes, gzipOptions(level, bytes.length)),
    chunkBytes,
  );
}

const gzipAsync = promisify(gzip);

/** True when `bytes` are stored as they are at `level`: no compression asked for, or too few bytes for it to pay. */
function skipsGzip(bytes: Buffer, level: CompressionLevel): boolean {
  return level === 0 || bytes.length < GZIP_MIN_BYTES;
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

function packCompressed(bytes: Buffer, gz: Buffer | null, chunkBytes: number): PackedPayload {
  const useGzip = gz !== null && gz.length < bytes.length;
  const stored = useGzip ? gz : bytes;
  const encoding = useGzip ? 'gzip' : 'identity';
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
  let bytes: Buffer;
  if (stored.encoding === 'gzip') {
    try {
      bytes = gunzipSync(joined);
    } catch (error) {
      throw new BadStoredPayloadError(`stored payload does not decompress: ${(error as Error).message}`);
    }
  } else if (stored.encoding === 'identity') {
    bytes = joined;
  } else {
    throw new BadStoredPayloadError(`stored payload has unknown encoding ${JSON.stringify(stored.encoding)}`);
  }
  if (bytes.length !== stored.payloadBytes) {
    throw new BadStoredPayloadError(`stored payload has ${bytes.length} bytes, expected ${stored.payloadBytes}`);
  }
  return bytes;
}
