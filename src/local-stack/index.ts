/** The local Google Cloud stack: Datastore emulators, and with stack.ts the Cloud Tasks emulator next to them. */
export {
  startDatastoreEmulator,
  checkPrerequisites,
  freePort,
  type DatastoreBackend,
  type DatastoreEmulatorOptions,
  type RunningDatastoreEmulator,
} from './datastore-emulator.js';
export { startLocalStack, type LocalStack, type LocalStackOptions } from './stack.js';
export { startWorker, type RunningWorker, type WorkerOptions } from './worker.js';
