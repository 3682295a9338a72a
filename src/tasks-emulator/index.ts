/** The entry point `cloud-deferred/emulator`: the Cloud Tasks emulator's public surface (start it, inject a clock, compute the retry schedule), never loaded by the production entry. */
export { systemClock, ManualClock, type Clock } from './clock.js';
export {
  startTasksEmulator,
  type TasksEmulatorOptions,
  type RunningTasksEmulator,
  type EmulatorClientOptions,
  type RestClientOptions,
} from './server.js';
export { retryDelayMs, DEFAULT_RETRY_POLICY, type RetryPolicy } from './retry.js';
