/** Binary values in payloads: the typed-array constructors the codec knows and base64 conversion of their bytes. */
import { Buffer } from 'node:buffer';

type TypedArrayConstructor = new (buffer: ArrayBuffer) => ArrayBufferView;

/** Typed-array constructors by their `Symbol.toStringTag` name (the name written into payloads). */
export const TYPED_ARRAYS: ReadonlyMap<string, TypedArrayConstructor & { BYTES_PER_ELEMENT: number }> = new Map(
  (
    [
      Int8Array,
      Uint8Array,
      Uint8ClampedArray,
      Int16Array,
      Uint16Array,
      Int32Array,
      Uint32Array,
      Float32Array,
      Float64Array,
      BigInt64Array,
      BigUint64Array,
      (globalThis as { Float16Array?: unknown }).Float16Array,
    ].filter((c) => typeof c === 'function') as (TypedArrayConstructor & { BYTES_PER_ELEMENT: number })[]
  ).map((c) => [c.name, c]),
);

/** The bytes a view covers, as standard base64 (platform byte order, little-endian on every platform Node runs on in practice). */
export function viewToBase64(view: ArrayBufferView): string {
  return Buffer.from(view.buffer, view.byteOffset, view.byteLength).toString('base64');
}

/** A fresh, exactly sized ArrayBuffer holding the bytes of a base64 string, or undefined when it is not a string. */
export function base64ToArrayBuffer(data: unknown): ArrayBuffer | undefined {
  if (typeof data !== 'string') return undefined;
  const bytes = Buffer.from(data, 'base64');
  const out = new ArrayBuffer(bytes.length);
  new Uint8Array(out).set(bytes);
  return out;
}
