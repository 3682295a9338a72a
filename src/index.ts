/** The public API of cloud-deferred, and nothing else. */
export * from './errors/index.js';
export {
  startDatastoreEmulator,
  type DatastoreBackend,
  type DatastoreEmulatorOptions,
  type RunningDatastoreEmulator,
} from './local-stack/index.js';
export {
  sweep,
  sweepShard,
  emptyStats,
  addStats,
  totalDeleted,
  jsonLogger,
  silentLogger,
  DEFAULT_GRACE_MS,
  type SweepOptions,
  type SweepShardOptions,
  type SweepShardResult,
  type SweepResult,
  type SweepStats,
  type DeleteReason,
  type RetentionRules,
  type SweepLogger,
  type SweepLogEntry,
  type SweeperTasksClient,
} from './sweeper/index.js';
export {
  startTasksEmulator,
  systemClock,
  ManualClock,
  retryDelayMs,
  DEFAULT_RETRY_POLICY,
  type Clock,
  type TasksEmulatorOptions,
  type RunningTasksEmulator,
  type RetryPolicy,
} from './tasks-emulator/index.js';
