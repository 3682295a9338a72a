/** The Datastore namespaces the dashboard shows: its own, and those its runtime's registry names (tenants' entity groups that transactional tasks were written into). */
import type { Datastore } from '@google-cloud/datastore';
import { InvalidArgumentError } from '../errors/invalid-argument.js';
import { namespaceName, otherRegistered } from '../store/namespace-registry.js';

/** Most registry namespaces offered (the registry is read in key order; its first ones are offered). */
export const MAX_NAMESPACES = 100;

/** Datastore's limit on a namespace's length (bytes; checked as characters, which is never more lenient here). */
const MAX_NAMESPACE_CHARS = 100;

/** The dashboard's own namespace first, then the registry's others in key order, at most {@link MAX_NAMESPACES}. */
export async function shownNamespaces(datastore: Datastore, home: string): Promise<string[]> {
  return [home, ...(await otherRegistered(datastore, home, MAX_NAMESPACES))];
}

/**
 * The namespace a request names (`value`: the `namespace` query parameter or body field; absent means the dashboard's
 * own), refused unless it is one of `shown` (the dashboard reads and changes only the runtime's own records).
 */
export function pickNamespace(value: unknown, home: string, shown: readonly string[]): string {
  if (value === undefined || value === null) return home;
  if (typeof value !== 'string' || value.length > MAX_NAMESPACE_CHARS) {
    throw new InvalidArgumentError(`namespace must be text of at most ${MAX_NAMESPACE_CHARS} characters.`);
  }
  if (!shown.includes(value)) {
    const others = shown.filter((namespace) => namespace !== home);
    throw new InvalidArgumentError(
      `${namespaceName(value)} is not one this dashboard shows: it shows ${namespaceName(home)} (its runtime's) ` +
        (others.length
          ? `and the ones its runtime writes task entities to: ${others.map((n) => JSON.stringify(n)).join(', ')}.`
          : 'only; its runtime writes task entities to no other namespace.'),
    );
  }
  return value;
}
