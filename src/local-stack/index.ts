/** The entry point `cloud-deferred/local`: the local Google Cloud stack (Datastore emulators, with stack.ts the Cloud Tasks emulator next to them, and a worker), for development and tests, never loaded by the production entry. */
export {
  startDatastoreEmulator,
  type DatastoreBackend,
  type DatastoreEmulatorOptions,
  type RunningDatastoreEmulator,
} from './datastore-emulator.js';
export { startLocalStack, type LocalStack, type LocalStackOptions } from './stack.js';
export { startWorker, type RunningWorker, type WorkerOptions } from './worker.js';
