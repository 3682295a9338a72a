/**
 * An in-memory Datastore behind a real `Datastore` client: the app's own `@google-cloud/datastore` builds keys,
 * encodes entities and queries and runs transactions as always; only its gRPC stub is replaced by
 * {@link MemoryDatastoreRpc}, which answers from memory.
 */
import type { Datastore } from '@google-cloud/datastore';
import { MemoryDatastoreRpc, memoryAdminRpc } from './rpc.js';
import { MemoryDatastoreState } from './store.js';

export { MemoryDatastoreState } from './store.js';

/** Options of {@link createMemoryDatastore}. */
export interface MemoryDatastoreOptions {
  /**
   * Project id of the client (keys and entities are kept per project).
   * @default 'test-project'
   */
  readonly projectId?: string;
  /**
   * The client's default namespace.
   * @default the default namespace
   */
  readonly namespace?: string;
  /**
   * The data. Clients made with the same state see the same entities (one per namespace, say).
   * @default a new, empty state
   */
  readonly state?: MemoryDatastoreState;
  /**
   * The `Datastore` class to instantiate: the app's own copy of `@google-cloud/datastore`.
   * @default the `Datastore` of the `@google-cloud/datastore` installed next to cloud-deferred
   */
  readonly Datastore?: typeof Datastore;
  /**
   * Milliseconds since the epoch, for the create and update times the store reports.
   * @default Date.now
   */
  readonly now?: () => number;
}

/** The client's registry of gRPC stubs (a private field of `Datastore`, the same in majors 10 and 11). */
interface WithStubs {
  clients_?: Map<string, unknown>;
}

/**
 * A `Datastore` client of the app's own `@google-cloud/datastore` whose RPCs are answered from memory: no emulator,
 * no Java, no port. `datastore.KEY`, `key()`, `int()`, queries and transactions are the real client's.
 */
export async function createMemoryDatastore(options: MemoryDatastoreOptions = {}): Promise<Datastore> {
  const DatastoreClass = options.Datastore ?? (await import('@google-cloud/datastore')).Datastore;
  const state = options.state ?? new MemoryDatastoreState();
  if (options.now) state.now = options.now;
  const datastore = new DatastoreClass({
    projectId: options.projectId ?? 'test-project',
    ...(options.namespace !== undefined ? { namespace: options.namespace } : {}),
    // Never the real service nor DATASTORE_EMULATOR_HOST: nothing of this client goes on the network.
    apiEndpoint: 'in-memory.cloud-deferred.invalid',
    universeDomain: 'googleapis.com',
  });
  const stubs = (datastore as unknown as WithStubs).clients_;
  if (!(stubs instanceof Map)) {
    throw new Error(
      'this @google-cloud/datastore keeps no stub registry (clients_) that cloud-deferred/testing can fill; use a Datastore emulator backend.',
    );
  }
  stubs.set('DatastoreClient', new MemoryDatastoreRpc(state));
  stubs.set('DatastoreAdminClient', memoryAdminRpc);
  memoryStates.set(datastore, state);
  return datastore;
}

const memoryStates = new WeakMap<Datastore, MemoryDatastoreState>();

/** The in-memory state behind a client made by {@link createMemoryDatastore}, or undefined for another client. */
export function memoryStateOf(datastore: Datastore): MemoryDatastoreState | undefined {
  return memoryStates.get(datastore);
}
