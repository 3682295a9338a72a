/** The text form of a task entity's key (what `deferred inspect` accepts, log lines carry, and the dashboard's task view shows): a `_DeferredTask` name, or a key path `Kind:name/Kind:id/...`. */
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

/** One path element's id in the text form: numeric ids as digits, names as they are unless they would read as an id. */
function idText(key: Key): string {
  if (key.name !== undefined) {
    const name = String(key.name);
    return /^\d+$/.test(name) || name.includes('/') || name.includes(':') ? `"${name}"` : name;
  }
  return String(key.id);
}

/**
 * The text form of a key that {@link parseTaskKey} reads back: a root `_DeferredTask` entity by its name, anything else
 * as its path (`Account:acme/_DeferredTask:3f2a...`). The namespace is not part of it (`--namespace`).
 */
export function formatTaskKey(key: Key): string {
  if (
    !key.parent &&
    key.kind === TASK_KIND &&
    key.name !== undefined &&
    idText(key) === key.name &&
    !key.name.includes(':')
  ) {
    return key.name;
  }
  const parts: string[] = [];
  for (let k: Key | undefined = key; k; k = k.parent) parts.unshift(`${k.kind}:${idText(k)}`);
  return parts.join('/');
}

/** A key given as a `Key` or in its text form, as a `Key` of this client (in `namespace` for text). */
export function toTaskKey(datastore: Datastore, key: Key | string, namespace?: string): Key {
  return typeof key === 'string' ? parseTaskKey(datastore, key, namespace ?? datastore.namespace) : key;
}
