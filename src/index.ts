/** The public API of cloud-deferred, and nothing else. */
export * from './errors/index.js';
export {
  sweep,
  sweepShard,
  emptyStats,
  addStats,
  totalDeleted,
  DEFAULT_GRACE_MS,
  type SweepOptions,
  type SweepShardOptions,
  type SweepShardResult,
  type SweepResult,
  type NamespaceSweep,
  type SweepStats,
  type DeleteReason,
  type KeepReason,
  type RetentionRules,
  type SweeperTasksClient,
  installSweeper,
  SHARD_TASK_NAME,
  type DistributedSweepOptions,
  type InstalledSweeper,
  type FanOutResult,
  type RunNamespace,
  type ShardTaskArgs,
  type SweepRunRecord,
} from './sweeper/index.js';
export {
  CodecRegistry,
  encodeValue,
  decodeValue,
  encodeEnvelope,
  parseEnvelope,
  decodeEnvelopeArgs,
  sign,
  verify,
  SIGNATURE_HEADER,
  type SignaturePurpose,
  type VerifyOptions,
  type ClassCodec,
  type Envelope,
  type EnvelopeInput,
  type EncodeOptions,
  type DecodeOptions,
  type EncodeEnvelopeOptions,
  type ParseEnvelopeOptions,
  type DecodeEnvelopeOptions,
} from './codec/index.js';
export { createDeferred } from './runtime/deferred-runtime.js';
export { listFailedTasks, matchingFailedTasks } from './failures/list-failed.js';
export { readFailedTask } from './failures/read-failed.js';
export { discardFailedTasks } from './failures/discard-failed.js';
export type {
  AttemptRecord,
  DiscardOptions,
  DiscardResult,
  FailedTask,
  FailedTaskFilter,
  FailedTaskPage,
  FailedTaskPageOptions,
  FailedTaskSummary,
  FailureLedger,
  RetryOptions,
  RetryResult,
  StoredArguments,
} from './types.js';
export { formatTaskKey, parseTaskKey } from './store/key-text.js';
export {
  createTasksClient,
  emulatorTasksClientOptions,
  type CreateTasksClientOptions,
  type CloudTasksClientOptions,
  type EmulatorTasksClientOptions,
} from './clients/tasks-client.js';
export { createDatastore, type CreateDatastoreOptions, type DatastoreOptions } from './clients/datastore-client.js';
export { currentTask } from './core/run-context.js';
export { withTraceContext, type TraceSource } from './core/trace-context.js';
export { MemoryLogger, jsonLogger, silentLogger, type JsonLoggerOptions } from './core/logger.js';
export type {
  ClassTaskOptions,
  ClosureHandle,
  DeferBuilder,
  DeferCall,
  DeferManyOptions,
  DeferManyResult,
  DeferOptions,
  Deferral,
  Deferred,
  DeferredConfig,
  DeferredEvents,
  DeferredTasks,
  DeferredTransaction,
  Compression,
  Duration,
  FetchHandler,
  IfExists,
  LogEntry,
  Logger,
  LogSeverity,
  MethodArgs,
  MethodNames,
  MethodsHandle,
  NodeHandler,
  OidcOptions,
  SweepFinishedEvent,
  SweepFunction,
  SweepRequest,
  TaskEndedEvent,
  TaskEvent,
  TaskHandle,
  TaskInfo,
  TaskOptions,
  TimeSource,
  TransactionOptions,
} from './types.js';
export { defer, task, defaultDeferred, configFromEnvironment } from './runtime/default-instance.js';
export { deferMany } from './runtime/default-instance.js';
export { DeferManyError } from './defer/defer-many.js';
