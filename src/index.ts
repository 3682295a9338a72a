/** The public API of cloud-deferred, and nothing else. */
export * from './errors/index.js';
// The sweeper: sweep() and sweepShard() load the sweeping itself on their first call (sweeper/on-demand.ts).
export { sweep, sweepShard } from './sweeper/on-demand.js';
export { emptyStats, addStats, totalDeleted, type SweepStats, type DeleteReason } from './sweeper/sweep-stats.js';
export { DEFAULT_GRACE_MS, type SweepOptions, type SweepShardOptions } from './sweeper/sweep-options.js';
export type { SweepShardResult } from './sweeper/sweep-shard.js';
export type { SweepResult, NamespaceSweep } from './sweeper/sweep-all.js';
export type { RetentionRules, KeepReason } from './sweeper/decide.js';
export type { SweeperTasksClient } from './sweeper/cloud-tasks.js';
export {
  installSweeper,
  SHARD_TASK_NAME,
  type DistributedSweepOptions,
  type InstalledSweeper,
  type FanOutResult,
  type RunNamespace,
  type ShardTaskArgs,
  type SweepRunRecord,
} from './sweeper/distributed.js';
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
// The failure ledger's functions load their implementation on first use (failures/failure-ledger.ts).
export {
  listFailedTasks,
  matchingFailedTasks,
  namespacesWithFailures,
  readFailedTask,
  discardFailedTasks,
} from './failures/failure-ledger.js';
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
  TextKeyOptions,
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
  MethodCall,
  MethodNames,
  MethodsDeferrer,
  MethodsHandle,
  NodeHandler,
  OidcOptions,
  SweepFinishedEvent,
  SweepFunction,
  SweepRequest,
  TaskDeferredEvent,
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
