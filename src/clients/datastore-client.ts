/** Building the app's `Datastore` client so that, pointed at a local emulator by `DATASTORE_EMULATOR_HOST`, it never probes the GCE metadata server. */
import { Datastore } from '@google-cloud/datastore';
import { EMULATOR_AUTH_OPTIONS } from './gax.js';

/** Options of the official client, as its constructor takes them. */
export type DatastoreOptions = NonNullable<ConstructorParameters<typeof Datastore>[0]>;

/** Options of {@link createDatastore}. */
export interface CreateDatastoreOptions {
  /**
   * Where to read `DATASTORE_EMULATOR_HOST` and `GOOGLE_CLOUD_PROJECT` from.
   * @default process.env
   */
  readonly env?: NodeJS.ProcessEnv;
  /** Options of the client (`projectId`, `namespace`, `databaseId`, ...). @default {} */
  readonly clientOptions?: DatastoreOptions;
}

/**
 * The official `Datastore` client (from the app's `@google-cloud/datastore`). It reads `DATASTORE_EMULATOR_HOST` by
 * itself; this adds what keeps it quiet there: a project id (from `GOOGLE_CLOUD_PROJECT` unless given) and no
 * credential look-up, which would otherwise probe the metadata server (`MetadataLookupWarning`). Without an emulator
 * host it is `new Datastore(clientOptions)`.
 *
 * @example
 * const datastore = createDatastore({ clientOptions: { namespace: 'tenant-a' } });
 */
export function createDatastore(options: CreateDatastoreOptions = {}): Datastore {
  const env = options.env ?? process.env;
  const host = env.DATASTORE_EMULATOR_HOST;
  if (!host) return new Datastore(options.clientOptions);
  const projectId = options.clientOptions?.projectId ?? env.GOOGLE_CLOUD_PROJECT ?? env.DATASTORE_PROJECT_ID;
  return new Datastore({
    apiEndpoint: host,
    ...(projectId ? { projectId } : {}),
    ...EMULATOR_AUTH_OPTIONS,
    ...options.clientOptions,
  });
}
