/** What the runtime takes from the app's own `@google-cloud/datastore`: entity keys and query filters, always from the package of the instance it was given. */
import { createRequire } from 'node:module';
import * as peer from '@google-cloud/datastore';
import type { Datastore, Key, PropertyFilter } from '@google-cloud/datastore';
import { ConfigurationError } from '../errors/runtime.js';

/** The key a read entity carries under the client's `KEY` symbol. */
export function keyOf(datastore: Datastore, entity: object): Key {
  return (entity as Record<symbol, unknown>)[datastore.KEY as unknown as symbol] as Key;
}

/** The filter classes of one copy of `@google-cloud/datastore`. */
interface FilterModule {
  readonly PropertyFilter: typeof peer.PropertyFilter;
  readonly and: typeof peer.and;
}

const modules = new WeakMap<object, FilterModule>();

/** True when `Class` is `ctor` or one of its base classes. */
function inChain(ctor: unknown, Class: unknown): boolean {
  for (let c = ctor; typeof c === 'function'; c = Object.getPrototypeOf(c)) if (c === Class) return true;
  return false;
}

/**
 * The copy of `@google-cloud/datastore` that made `datastore`. A query keeps only filters made by its own copy (it
 * checks with `instanceof` and silently drops others), so filters must come from that copy. It is the peer dependency
 * the app installed (one copy); if the instance comes from another loaded copy, that copy is found among the loaded
 * modules; failing both, the mismatch is reported instead of sweeping with dropped filters.
 */
function filterModule(datastore: Datastore): FilterModule {
  const ctor = datastore.constructor;
  let found = modules.get(ctor);
  if (found) return found;
  if (inChain(ctor, peer.Datastore)) found = peer;
  else {
    const cache = createRequire(import.meta.url).cache;
    for (const id in cache) {
      const exports = cache[id]?.exports as Partial<typeof peer> | undefined;
      if (exports?.PropertyFilter && exports.and && inChain(ctor, exports.Datastore)) {
        found = exports as FilterModule;
        break;
      }
    }
  }
  if (!found) {
    throw new ConfigurationError(
      'the Datastore client given to cloud-deferred comes from a copy of @google-cloud/datastore that it cannot reach ' +
        '(two copies are installed?): install one copy in the app (`npm ls @google-cloud/datastore`, then `npm dedupe`).',
    );
  }
  modules.set(ctor, found);
  return found;
}

/** `new PropertyFilter(name, op, value)` of the instance's own copy of the client. */
export function propertyFilter(
  datastore: Datastore,
  name: string,
  op: ConstructorParameters<typeof peer.PropertyFilter>[1],
  value: unknown,
): PropertyFilter<string> {
  return new (filterModule(datastore).PropertyFilter)(name, op, value);
}

/** `and([...filters])` of the instance's own copy of the client. */
export function andFilter(datastore: Datastore, filters: PropertyFilter<string>[]): ReturnType<typeof peer.and> {
  return filterModule(datastore).and(filters);
}
