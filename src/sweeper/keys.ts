/** Datastore key helpers of the sweeper: stable ids for maps and logs, entity-group roots, and a task entity's chunk keys. */
import type { Datastore, Key } from '@google-cloud/datastore';
import { CHUNK_KIND } from '../store/schema.js';

/** A stable string for a key (namespace + path, ids and names told apart), usable as a Map key and in logs. */
export function keyId(key: Key): string {
  const parts: string[] = [];
  for (let k: Key | undefined = key; k; k = k.parent)
    parts.unshift(`${k.kind}:${k.name !== undefined ? `"${k.name}"` : String(k.id)}`);
  return `${key.namespace ?? ''}/${parts.join('/')}`;
}

/** Readable form of a key path for logs and the CLI: `Account:acme/_DeferredTask:abc`. */
export function keyPath(key: Key): string {
  const parts: string[] = [];
  for (let k: Key | undefined = key; k; k = k.parent) parts.unshift(`${k.kind}:${k.name ?? String(k.id)}`);
  return parts.join('/');
}

/** The id of a key's entity group (its root key). Datastore limits how many groups one transaction touches. */
export function groupId(key: Key): string {
  let root = key;
  while (root.parent) root = root.parent;
  return keyId(root);
}

/** Keys of the `_DeferredTaskChunk` children of a task entity (numeric ids 1..chunks). */
export function chunkKeys(datastore: Datastore, taskKey: Key, chunks: number): Key[] {
  const keys: Key[] = [];
  for (let i = 1; i <= chunks; i++) {
    keys.push(
      datastore.key({
        namespace: taskKey.namespace,
        path: [...taskKey.path, CHUNK_KIND, i],
      }),
    );
  }
  return keys;
}
