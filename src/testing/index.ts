/**
 * `cloud-deferred/testing`: test your own tasks. One call builds a harness around the app's own `createDeferred`
 * configuration, in memory or on the local stack, with deterministic controls. Not loaded by `cloud-deferred`.
 */
export {
  createTestHarness,
  type HarnessEnvironment,
  type HarnessQueue,
  type RunOptions,
  type TestHarness,
  type TestHarnessOptions,
  type WaitingFilter,
} from './harness.js';
export type { HarnessBackend } from './backends.js';
export type { RunOutcome, TaskRun, WaitingTask } from './run-records.js';
export {
  createMemoryDatastore,
  memoryStateOf,
  MemoryDatastoreState,
  type MemoryDatastoreOptions,
} from './memory-datastore/index.js';
export { RunLimitError } from '../errors/testing.js';
export { ManualClock } from '../tasks-emulator/clock.js';
