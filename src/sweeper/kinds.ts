/** Which other underscore-prefixed kinds the sweeper reclaims by `expireAt`: found with a `__kind__` query where the store answers one, plus configured ones. */
import type { Datastore } from '@google-cloud/datastore';
import { keyOf } from '../store/datastore.js';
import { InvalidArgumentError } from '../errors/invalid-argument.js';
import {
  ATTEMPTS_KIND,
  CHUNK_KIND,
  NAMESPACE_KIND,
  SWEEP_RUN_KIND,
  TASK_KIND,
  TRANSIENT_PREFIX,
  shardOf,
} from '../store/schema.js';
import { log } from '../core/logger.js';
import type { Logger } from '../types.js';

/**
 * Kinds never swept by age: the task entity (it has its own decision table), its chunks (deleted with their parent),
 * the namespace registry (an entry goes only once its namespace holds no task entity: see sweep-namespaces).
 */
const OWN_KINDS = new Set([TASK_KIND, CHUNK_KIND, NAMESPACE_KIND]);

/**
 * Throws InvalidArgumentError unless `kind` is a user-visible underscore-prefixed kind the age sweep may touch (and
 * `deferred stats` counts); `name` is what the message calls it (`--kind` on the command line).
 */
export function checkTransientKind(kind: string, name = 'kind'): string {
  if (!kind.startsWith(TRANSIENT_PREFIX) || kind.startsWith('__') || OWN_KINDS.has(kind)) {
    throw new InvalidArgumentError(
      `${name} "${kind}" is not a transient kind the sweeper sweeps by age: name a kind that starts with one underscore (e.g. "_MyTransient"), other than ${TASK_KIND}, ${CHUNK_KIND} and ${NAMESPACE_KIND}.`,
    );
  }
  return kind;
}

/** True when a kind name is one the age sweep may consider. */
export function isSweptByAge(kind: string): boolean {
  return kind.startsWith(TRANSIENT_PREFIX) && !kind.startsWith('__') && !OWN_KINDS.has(kind);
}

/**
 * Lists the namespace's kinds with a `__kind__` query and keeps the underscore-prefixed ones. Returns `undefined` when
 * the store does not answer kind queries (the Firestore emulator in Datastore mode refuses them).
 */
export async function discoverKinds(datastore: Datastore, namespace?: string): Promise<string[] | undefined> {
  try {
    const query = datastore.createQuery(namespace ?? datastore.namespace ?? '', '__kind__').select('__key__');
    const [rows] = await datastore.runQuery(query);
    return rows.map((row) => String(keyOf(datastore, row).name)).filter(isSweptByAge);
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code === 3 /* INVALID_ARGUMENT */ || code === 12 /* UNIMPLEMENTED */) return undefined;
    throw error;
  }
}

/**
 * The kinds to sweep by age: the runtime's own ({@link SWEEP_RUN_KIND}, {@link ATTEMPTS_KIND}), the configured ones,
 * and the discovered ones when `discover`.
 * Logs once when discovery is not available, so operators know to configure `kinds` / `--kind`.
 */
export async function kindsToSweep(
  datastore: Datastore,
  options: { namespace?: string; kinds?: readonly string[]; discover?: boolean; log?: Logger },
): Promise<string[]> {
  const kinds = new Set<string>([
    SWEEP_RUN_KIND,
    ATTEMPTS_KIND,
    ...(options.kinds ?? []).map((kind) => checkTransientKind(kind)),
  ]);
  if (options.discover !== false) {
    const found = await discoverKinds(datastore, options.namespace);
    if (found) for (const kind of found) kinds.add(kind);
    else if (options.log)
      log(options.log, {
        severity: 'INFO',
        message: 'this store does not answer __kind__ queries; sweeping only the configured underscore kinds by age',
        event: 'kinds-not-discoverable',
        kinds: [...kinds],
      });
  }
  return [...kinds].sort();
}

/** The shard that sweeps `kind` by age (each kind is swept by exactly one shard). */
export function shardOfKind(kind: string, shards: number): number {
  return shardOf(kind, shards);
}
