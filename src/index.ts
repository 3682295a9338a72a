/** The public API of cloud-deferred, and nothing else. */
export * from './errors/index.js';
export {
  startDatastoreEmulator,
  type DatastoreBackend,
  type DatastoreEmulatorOptions,
  type RunningDatastoreEmulator,
} from './local-stack/index.js';
