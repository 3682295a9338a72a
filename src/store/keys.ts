/** Datastore key helpers: stable ids for maps, entity-group roots (all from the codec's one walk of a key's ancestry). */
import type { Key } from '@google-cloud/datastore';
import { keyChain } from '../codec/datastore-key.js';

/** A stable string for a key (namespace + path, ids and names told apart), usable as a Map key and in logs. */
export function keyId(key: Key): string {
  const parts = keyChain(key).map((k) => `${k.kind}:${k.name !== undefined ? `"${k.name}"` : String(k.id)}`);
  return `${key.namespace ?? ''}/${parts.join('/')}`;
}

/** The root of a key's entity group (its top ancestor, or the key itself). */
export function rootKey(key: Key): Key {
  return keyChain(key)[0]!;
}

/** The id of a key's entity group (its root key). Datastore limits how many groups one transaction touches. */
export function groupId(key: Key): string {
  return keyId(rootKey(key));
}
