/** The text form of a task entity's key (what `deferred inspect` accepts, and the dashboard's task view): a `_DeferredTask` name, or a key path `Kind:name/Kind:id/...`. */
import type { Datastore, Key } from '@google-cloud/datastore';
import { InvalidArgumentError } from '../errors/invalid-argument.js';
import { TASK_KIND } from './schema.js';

const USAGE =
  'give a _DeferredTask name (e.g. 3f2a...c9) or a key path such as "Account:acme/_DeferredTask:3f2a...c9" (numeric ids as Kind:123, a digits-only name as Kind:"123")';

/**
 * Parses a key argument. A bare name means a root `_DeferredTask` entity; a path is `Kind:idOrName` elements joined by
 * `/`, ids being digits and names anything else (or quoted). The last kind must be `_DeferredTask`.
 */
export function parseTaskKey(datastore: Datastore, text: string, namespace?: string): Key {
  const value = text.trim();
  if (value === '') throw new InvalidArgumentError(`the key is empty: ${USAGE}.`);
  const elements = value.includes(':') ? value.split('/') : [`${TASK_KIND}:${value}`];
  const path: (string | ReturnType<Datastore['int']>)[] = [];
  for (const element of elements) {
    const colon = element.indexOf(':');
    const kind = element.slice(0, colon);
    const id = element.slice(colon + 1);
    if (colon <= 0 || id === '' || !/^[^\s"]+$/.test(kind)) {
      throw new InvalidArgumentError(`malformed key "${text}" at "${element}": ${USAGE}.`);
    }
    if (/^"[^"]+"$/.test(id)) path.push(kind, id.slice(1, -1));
    else if (/^\d+$/.test(id)) path.push(kind, datastore.int(id));
    else if (id.includes('"')) throw new InvalidArgumentError(`malformed key "${text}" at "${element}": ${USAGE}.`);
    else path.push(kind, id);
  }
  if (path[path.length - 2] !== TASK_KIND) {
    throw new InvalidArgumentError(
      `"${text}" is not a ${TASK_KIND} key: its last element must be ${TASK_KIND}:<name>.`,
    );
  }
  return datastore.key({ namespace: namespace || undefined, path: path as never });
}
