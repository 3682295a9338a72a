/** The plan of a sweep: which namespaces it covers (the runtime's own, its registry's, configured ones and, on request, every one the store lists) and how many shards in each. */
import type { Datastore } from '@google-cloud/datastore';
import pLimit from 'p-limit';
import { log } from '../core/logger.js';
import { forgetIdleNamespace, listRegistered } from '../store/namespace-registry.js';
import { TASK_KIND, parseAgeKey } from '../store/schema.js';
import type { LogEntry, Logger } from '../types.js';

/**
 * Lists every namespace of the database with a `__namespace__` query (the default one as `''`). Returns `undefined`
 * when the store does not answer namespace queries (the Firestore emulator in Datastore mode refuses them:
 * "Namespace queries are not supported in the Datastore Mode emulator").
 */
export async function discoverNamespaces(datastore: Datastore): Promise<string[] | undefined> {
  try {
    const [rows] = await datastore.runQuery(datastore.createQuery('', '__namespace__').select('__key__'));
    return rows.map((row) => {
      const key = row[datastore.KEY as unknown as string] as { name?: string };
      return key.name ?? ''; // the default namespace is the one with a numeric id
    });
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code === 3 /* INVALID_ARGUMENT */ || code === 12 /* UNIMPLEMENTED */) return undefined;
    throw error;
  }
}

/** Where a sweep looks for task entities. */
export interface NamespaceSelection {
  /** The runtime's own namespace (`''`: the default one): it holds the registry, the run records and the other transient kinds. */
  readonly home: string;
  /** More namespaces to sweep. @default [] */
  readonly namespaces?: readonly string[];
  /** Also every namespace a `__namespace__` query lists, where the store answers one. @default false */
  readonly discover?: boolean;
  /** Warned once when discovery was asked for but the store does not answer it. @default nothing */
  readonly log?: Logger;
}

/**
 * The namespaces to sweep, the home one first, then the others sorted: the home namespace, the namespaces in its
 * registry (those the runtime writes task entities to), the configured ones, and with `discover` every namespace the
 * store lists (task entities written in other namespaces before the registry existed).
 */
export async function namespacesToSweep(datastore: Datastore, selection: NamespaceSelection): Promise<string[]> {
  const found = new Set<string>(selection.namespaces ?? []);
  for (const entry of await listRegistered(datastore, selection.home)) found.add(entry.namespace);
  if (selection.discover) {
    const listed = await discoverNamespaces(datastore);
    if (listed) for (const namespace of listed) found.add(namespace);
    else if (selection.log)
      log(selection.log, {
        severity: 'WARNING',
        message:
          'this store does not answer __namespace__ queries (the Firestore emulator refuses them): covering the registered and configured namespaces only; name the others with `namespaces` (--also-namespace)',
        event: 'namespaces-not-discoverable',
      });
  }
  found.delete(selection.home);
  return [selection.home, ...[...found].sort()];
}

/**
 * The highest shard number present in the namespace's task entities (one descending query on `ageKey`, which sorts by
 * shard first), or -1 when there are none. Lets a sweep notice entities written with more shards than it was told.
 */
export async function highestShardInUse(datastore: Datastore, namespace?: string): Promise<number> {
  const query = datastore
    .createQuery(namespace ?? datastore.namespace ?? '', TASK_KIND)
    .select('ageKey')
    .order('ageKey', { descending: true })
    .limit(1);
  const [rows] = await datastore.runQuery(query);
  const ageKey = rows[0]?.ageKey;
  return (typeof ageKey === 'string' ? parseAgeKey(ageKey)?.shard : undefined) ?? -1;
}

/** One namespace of a sweep's plan. */
export interface NamespacePlan {
  readonly namespace: string;
  /** Shards to sweep: in the home namespace at least the configured count; elsewhere the ones in use (0 when empty). */
  readonly shards: number;
}

/** What {@link planNamespaces} needs. */
export interface PlanOptions extends NamespaceSelection {
  /** The configured shard count. */
  readonly shards: number;
  readonly nowMs: number;
  /** Forget nothing. @default false */
  readonly dryRun?: boolean;
  readonly log: Logger;
}

/**
 * Plans a sweep over namespaces: the namespaces to cover ({@link namespacesToSweep}) and their shard counts. The home
 * namespace gets at least `shards` (more, with a warning, when its entities use more); another namespace gets the
 * shards in use there, none when it holds no task entity, and then its registry entry is forgotten once its
 * registration has run out (not in a dry run).
 */
export async function planNamespaces(datastore: Datastore, options: PlanOptions): Promise<NamespacePlan[]> {
  const write = (entry: LogEntry) => log(options.log, entry);
  const list = await namespacesToSweep(datastore, options);
  const limit = pLimit(8);
  return Promise.all(
    list.map((namespace) =>
      limit(async (): Promise<NamespacePlan> => {
        const highest = await highestShardInUse(datastore, namespace);
        if (namespace === options.home) {
          const shards = Math.max(options.shards, highest + 1);
          if (shards > options.shards) {
            write({
              severity: 'WARNING',
              message: `task entities exist in shard ${highest}, beyond the ${options.shards} shards configured; sweeping ${shards} shards. Configure the sweeper with the writers' shard count.`,
              event: 'shards-extended',
              shards,
            });
          }
          return { namespace, shards };
        }
        if (highest < 0 && !options.dryRun) {
          if (await forgetIdleNamespace(datastore, options.home, namespace, options.nowMs)) {
            write({
              severity: 'INFO',
              message: `namespace ${JSON.stringify(namespace)} holds no task entity and its registration ran out: forgotten`,
              event: 'namespace-forgotten',
              namespace,
            });
          }
        }
        return { namespace, shards: highest + 1 };
      }),
    ),
  );
}
