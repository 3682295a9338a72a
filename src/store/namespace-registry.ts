/** The registry of the namespaces, besides its own, in which a runtime writes task entities (a transaction into a tenant's entity group): what the sweeper covers and what deliveries may resolve into. */
import type { Datastore, Key } from '@google-cloud/datastore';
import type { TimeSource } from '../types.js';
import { inTransaction } from './in-transaction.js';
import { NAMESPACE_KIND } from './schema.js';

const DAY = 86_400_000;
/** How long one registration lasts: the sweeper forgets a namespace only past this and once it holds no task entity. */
export const REGISTRATION_MS = 30 * DAY;
/**
 * A process registers a namespace again once less than this is left of the registration it knows of (so about every
 * 15 days while it writes there). The gap to {@link REGISTRATION_MS} is what makes forgetting safe: a process never
 * writes a task entity relying on a registration the sweeper may forget meanwhile.
 */
export const REFRESH_MS = 15 * DAY;

/** One registered namespace, as stored (a `_DeferredNamespace` entity in the runtime's own namespace). */
export interface RegisteredNamespace {
  /** The namespace (`''`: the default one). */
  readonly namespace: string;
  /** Until when it stays registered at least; moved on by the processes that write there. */
  readonly registeredUntil: Date;
}

/** The namespace a Datastore client works in (`''`: the default one). */
export function namespaceOf(datastore: Datastore): string {
  return datastore.namespace ?? '';
}

/** The key of the registry entry of `namespace`, in the runtime's own namespace `home` (`ns:` + the namespace: `''` is no name). */
export function registryKey(datastore: Datastore, home: string, namespace: string): Key {
  return datastore.key({ namespace: home || undefined, path: [NAMESPACE_KIND, `ns:${namespace}`] });
}

function decode(entity: Record<string, unknown>): RegisteredNamespace {
  const until = entity.registeredUntil;
  return {
    namespace: String(entity.namespace ?? ''),
    registeredUntil: until instanceof Date ? until : new Date(String(until)),
  };
}

/**
 * Every namespace registered in `home`'s registry (a kind query over small entities, paged), or its first `limit`
 * (in key order).
 */
export async function listRegistered(
  datastore: Datastore,
  home: string,
  limit = Number.POSITIVE_INFINITY,
): Promise<RegisteredNamespace[]> {
  const found: RegisteredNamespace[] = [];
  let start: string | undefined;
  while (found.length < limit) {
    const pageSize = Math.min(500, limit - found.length);
    let query = datastore.createQuery(home, NAMESPACE_KIND).limit(pageSize);
    if (start) query = query.start(start);
    const [rows, info] = await datastore.runQuery(query);
    for (const row of rows) found.push(decode(row));
    if (rows.length < pageSize || info.moreResults === 'NO_MORE_RESULTS' || !info.endCursor) break;
    start = info.endCursor;
  }
  return found;
}

/**
 * The namespaces besides `home` that `home`'s registry names, its first `limit` in key order. One more entry than
 * `limit` is read: the registry never names its own namespace, but should it, the others still make `limit`.
 */
export async function otherRegistered(datastore: Datastore, home: string, limit: number): Promise<string[]> {
  return (await listRegistered(datastore, home, limit + 1))
    .map((entry) => entry.namespace)
    .filter((namespace) => namespace !== home)
    .slice(0, limit);
}

/** How a namespace reads in messages: `namespace "acme"`, or `the default namespace` for `''`. */
export const namespaceName = (namespace: string): string =>
  namespace === '' ? 'the default namespace' : `namespace ${JSON.stringify(namespace)}`;

/**
 * Deletes the registry entry of `namespace` if its registration has run out at `nowMs` (re-read in a transaction: a
 * process that registered it again meanwhile keeps it). The caller has found no task entity left there. A process
 * that writes one after that registers the namespace again first, since no process relies on a registration with
 * less than {@link REFRESH_MS} left. True when it was deleted.
 */
export async function forgetIdleNamespace(
  datastore: Datastore,
  home: string,
  namespace: string,
  nowMs: number,
): Promise<boolean> {
  const key = registryKey(datastore, home, namespace);
  return inTransaction(datastore, async (tx) => {
    const [entity] = await tx.get(key);
    if (!entity || decode(entity).registeredUntil.getTime() > nowMs) return false;
    tx.delete(key);
    return true;
  });
}

/** What a {@link NamespaceRegistry} reads from its runtime: the client (its namespace is the runtime's own) and the clock. */
export interface NamespaceRegistrySource {
  readonly datastore: Datastore;
  readonly clock: TimeSource;
}

/**
 * What one runtime instance knows of its registry. Before a task entity is committed in another namespace,
 * {@link ensure} registers that namespace: one write per namespace and process, then one about every
 * {@link REFRESH_MS}; nothing at all for the runtime's own namespace. Deliveries resolve only into the runtime's own
 * namespace and registered ones ({@link accepts}).
 */
export class NamespaceRegistry {
  /** Namespace -> the end of the registration this process knows to be committed (written or read). */
  private readonly known = new Map<string, number>();
  private readonly inFlight = new Map<string, Promise<void>>();

  /** `source` is read on first use (the default instance resolves its configuration lazily). */
  constructor(private readonly source: () => NamespaceRegistrySource) {}

  /** The runtime's own namespace (its client's; `''`: the default one). */
  get home(): string {
    return namespaceOf(this.source().datastore);
  }

  /**
   * Registers `namespace` unless it is the runtime's own or this process knows it registered with more than
   * {@link REFRESH_MS} left. Concurrent callers share one write. Rejects when the write fails: then no task entity
   * may be committed there.
   */
  async ensure(namespace: string): Promise<void> {
    if (namespace === this.home) return;
    const nowMs = this.source().clock.now();
    const known = this.known.get(namespace);
    if (known !== undefined && known - nowMs > REFRESH_MS) return;
    let write = this.inFlight.get(namespace);
    if (!write) {
      write = this.register(namespace, nowMs).finally(() => this.inFlight.delete(namespace));
      this.inFlight.set(namespace, write);
    }
    await write;
  }

  private async register(namespace: string, nowMs: number): Promise<void> {
    const { datastore } = this.source();
    const registeredUntil = new Date(nowMs + REGISTRATION_MS);
    await datastore.upsert({
      key: registryKey(datastore, this.home, namespace),
      data: [
        { name: 'namespace', value: namespace, excludeFromIndexes: true },
        { name: 'refreshedAt', value: new Date(nowMs), excludeFromIndexes: true },
        { name: 'registeredUntil', value: registeredUntil, excludeFromIndexes: true },
      ],
    });
    this.remember(namespace, registeredUntil.getTime());
  }

  private remember(namespace: string, untilMs: number): void {
    this.known.set(namespace, Math.max(this.known.get(namespace) ?? 0, untilMs));
  }

  /**
   * True when a delivery may resolve into `namespace`: the runtime's own, or one in its registry (looked up once per
   * process; a namespace found there stays accepted).
   */
  async accepts(namespace: string): Promise<boolean> {
    if (namespace === this.home || this.known.has(namespace)) return true;
    const { datastore } = this.source();
    const [entity] = await datastore.get(registryKey(datastore, this.home, namespace));
    if (!entity) return false;
    this.remember(namespace, decode(entity).registeredUntil.getTime());
    return true;
  }
}
