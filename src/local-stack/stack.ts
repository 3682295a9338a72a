/** The whole local Google Cloud stack in one call: a Datastore (or Firestore-in-Datastore-mode) emulator plus the in-process Cloud Tasks emulator. */
import { Datastore } from '@google-cloud/datastore';
import type { CloudTasksClient } from '@google-cloud/tasks';
import { startTasksEmulator, type RunningTasksEmulator, type TasksEmulatorOptions } from '../tasks-emulator/index.js';
import {
  startDatastoreEmulator,
  type DatastoreBackend,
  type DatastoreEmulatorOptions,
  type RunningDatastoreEmulator,
} from './datastore-emulator.js';

/** Options of {@link startLocalStack}. */
export interface LocalStackOptions {
  /** Which Datastore emulator to run. @default 'datastore' */
  backend?: DatastoreBackend;
  /** Project id used by both emulators' clients. @default 'demo-deferred' */
  projectId?: string;
  /** Cloud Tasks location of the queues. @default 'us-central1' */
  location?: string;
  /** More options of the Datastore emulator. @default {} */
  datastore?: Omit<DatastoreEmulatorOptions, 'backend' | 'projectId'>;
  /** Options of the Cloud Tasks emulator. @default { autoCreateQueues: true } */
  tasks?: TasksEmulatorOptions;
}

/** A running local stack. */
export interface LocalStack {
  readonly projectId: string;
  readonly location: string;
  readonly datastoreEmulator: RunningDatastoreEmulator;
  readonly tasksEmulator: RunningTasksEmulator;
  /** Environment variables pointing tools (and the `deferred` CLI) at this stack. */
  readonly env: {
    GOOGLE_CLOUD_PROJECT: string;
    DATASTORE_EMULATOR_HOST: string;
    CLOUD_TASKS_EMULATOR_HOST: string;
  };
  /** A new Datastore client on the emulator (in `namespace` when given). */
  datastore(namespace?: string): Datastore;
  /** A new official Cloud Tasks client on the emulator; closed by {@link LocalStack.stop}. */
  tasksClient(): CloudTasksClient;
  /** Full name of a queue in this stack's project and location. */
  queuePath(queue: string): string;
  /** Stops both emulators (and closes the clients it made); resolves when nothing of them is left. */
  stop(): Promise<void>;
}

/**
 * Starts the Datastore emulator (or the Firestore emulator in Datastore mode) and the Cloud Tasks emulator. If either
 * fails to start, whatever did start is stopped before the error is thrown.
 */
export async function startLocalStack(options: LocalStackOptions = {}): Promise<LocalStack> {
  const projectId = options.projectId ?? 'demo-deferred';
  const location = options.location ?? 'us-central1';
  const [datastoreResult, tasksResult] = await Promise.allSettled([
    startDatastoreEmulator({ ...options.datastore, backend: options.backend ?? 'datastore', projectId }),
    startTasksEmulator({ autoCreateQueues: true, ...options.tasks }),
  ]);
  if (datastoreResult.status === 'rejected' || tasksResult.status === 'rejected') {
    await Promise.all([
      datastoreResult.status === 'fulfilled' ? datastoreResult.value.stop() : undefined,
      tasksResult.status === 'fulfilled' ? tasksResult.value.stop() : undefined,
    ]);
    throw datastoreResult.status === 'rejected'
      ? datastoreResult.reason
      : (tasksResult as PromiseRejectedResult).reason;
  }
  const datastoreEmulator = datastoreResult.value;
  const tasksEmulator = tasksResult.value;
  const clients: CloudTasksClient[] = [];
  const tasksHost = tasksEmulator.host.includes(':') ? `[${tasksEmulator.host}]` : tasksEmulator.host;
  let stopping: Promise<void> | undefined;
  return {
    projectId,
    location,
    datastoreEmulator,
    tasksEmulator,
    env: {
      GOOGLE_CLOUD_PROJECT: projectId,
      DATASTORE_EMULATOR_HOST: datastoreEmulator.endpoint,
      CLOUD_TASKS_EMULATOR_HOST: `${tasksHost}:${tasksEmulator.port}`,
    },
    datastore: (namespace) =>
      new Datastore({ ...datastoreEmulator.clientOptions, ...(namespace ? { namespace } : {}) }),
    tasksClient: () => {
      const client = tasksEmulator.createClient();
      clients.push(client);
      return client;
    },
    queuePath: (queue) => `projects/${projectId}/locations/${location}/queues/${queue}`,
    stop() {
      stopping ??= (async () => {
        await Promise.allSettled(clients.map((client) => client.close()));
        await Promise.allSettled([tasksEmulator.stop(), datastoreEmulator.stop()]);
      })();
      return stopping;
    },
  };
}
