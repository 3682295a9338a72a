/** A mapper batch's writes as data: encoded and chunked into the shard's entity group, and applied idempotently. */
import { gunzipSync, gzipSync } from 'node:zlib';
import type { Datastore, Key } from '@google-cloud/datastore';
import { CodecRegistry, decodeValue, encodeValue, type ClassCodec } from '../codec/index.js';
import { keyOf } from '../store/datastore.js';
import { MAPPER_PENDING_KIND } from './records.js';

/** The upserts and deletes one batch of a mapper asked for. */
export interface PendingWrites {
  puts: { key: Key; data: unknown; excludeFromIndexes?: string[] }[];
  deletes: Key[];
}

const CHUNK_BYTES = 900 * 1024;
const BATCH = 500;

/**
 * Decoders of the `$class` form earlier versions wrote Datastore's value wrappers in (`datastore.Int`, ...), so that a
 * job's pending writes recorded before an upgrade still apply; new writes use the codec's own `$dsint`, `$dsdouble`
 * and `$geopoint`. Built from the app's instance (cached per instance), so the values are its own.
 */
const legacyRegistries = new WeakMap<Datastore, CodecRegistry>();
function legacyWrapperCodecs(datastore: Datastore): CodecRegistry {
  let registry = legacyRegistries.get(datastore);
  if (registry) return registry;
  registry = new CodecRegistry();
  const wrappers = [
    ['datastore.Int', datastore.int('1'), (d: unknown) => datastore.int(String(d))],
    ['datastore.Double', datastore.double(1), (d: unknown) => datastore.double(Number(d))],
    [
      'datastore.GeoPoint',
      datastore.geoPoint({ latitude: 0, longitude: 0 }),
      (d: unknown) => datastore.geoPoint(d as { latitude: number; longitude: number }),
    ],
  ] as const;
  for (const [name, sample, decode] of wrappers) {
    registry.register({
      name,
      type: sample.constructor as ClassCodec['type'],
      encode: (v: unknown) => (v as { value: unknown }).value,
      decode,
    });
  }
  legacyRegistries.set(datastore, registry);
  return registry;
}

export function pendingKey(datastore: Datastore, shardKey: Key, index: number): Key {
  return datastore.key([...shardKey.path, MAPPER_PENDING_KIND, index + 1]);
}

/** Encodes writes (keys, dates, buffers and Datastore wrappers survive) into gzip chunks of at most 900 KB; none when empty. */
export function encodePendingWrites(datastore: Datastore, writes: PendingWrites): Buffer[] {
  if (writes.puts.length === 0 && writes.deletes.length === 0) return [];
  const json = JSON.stringify(encodeValue(writes, { datastore, path: 'mapper writes', maxDepth: 256 }));
  const packed = gzipSync(json);
  const chunks: Buffer[] = [];
  for (let offset = 0; offset < packed.length; offset += CHUNK_BYTES)
    chunks.push(packed.subarray(offset, offset + CHUNK_BYTES));
  return chunks;
}

/** Applies writes as plain upserts and deletes, in batches of 500. Idempotent: the same writes twice leave the same state. */
export async function applyWrites(datastore: Datastore, writes: PendingWrites): Promise<void> {
  for (let i = 0; i < writes.puts.length; i += BATCH) {
    await datastore.upsert(writes.puts.slice(i, i + BATCH) as Parameters<Datastore['upsert']>[0]);
  }
  for (let i = 0; i < writes.deletes.length; i += BATCH) await datastore.delete(writes.deletes.slice(i, i + BATCH));
}

/** Reads the shard's recorded pending writes (if any) and applies them again. */
export async function applyPendingWrites(datastore: Datastore, shardKey: Key, chunks: number): Promise<void> {
  if (chunks === 0) return;
  const [entities] = await datastore.get(Array.from({ length: chunks }, (_, i) => pendingKey(datastore, shardKey, i)));
  const byIndex = new Map<number, Buffer>();
  for (const e of entities as Record<string | symbol, unknown>[]) {
    byIndex.set(Number(keyOf(datastore, e).id) - 1, e.data as Buffer);
  }
  if (byIndex.size !== chunks) return; // superseded meanwhile by a later batch; nothing consistent to apply
  const packed = Buffer.concat(Array.from({ length: chunks }, (_, i) => byIndex.get(i)!));
  const writes = (await decodeValue(JSON.parse(gunzipSync(packed).toString('utf8')), {
    registry: legacyWrapperCodecs(datastore),
    datastore,
    maxDepth: 256,
  })) as PendingWrites;
  await applyWrites(datastore, writes);
}
