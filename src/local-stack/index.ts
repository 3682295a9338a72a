/** The local Google Cloud stack: Datastore emulators now; the Cloud Tasks emulator joins it in stack.ts. */
export {
  startDatastoreEmulator,
  checkPrerequisites,
  freePort,
  type DatastoreBackend,
  type DatastoreEmulatorOptions,
  type RunningDatastoreEmulator,
} from './datastore-emulator.js';
