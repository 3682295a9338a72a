/** The sharded sweeper: decision table, one-shard sweeps with a cursor, whole sweeps, and their counters and logs (the inspection helpers are in inspection.ts, the entry point `cloud-deferred/inspect`). */
export { sweepShard, type SweepShardResult } from './sweep-shard.js';
export { DEFAULT_GRACE_MS, type SweepOptions, type SweepShardOptions } from './sweep-options.js';
export { sweep, type SweepResult, type NamespaceSweep } from './sweep-all.js';
export { discoverNamespaces, highestShardInUse, namespacesToSweep } from './sweep-namespaces.js';
export { emptyStats, addStats, totalDeleted, type SweepStats, type DeleteReason } from './sweep-stats.js';
export {
  classify,
  afterLookup,
  snapshotOf,
  stillDeletable,
  FALLBACK_RETENTION_MS,
  type RetentionRules,
  type TaskSnapshot,
  type Verdict,
  type KeepReason,
} from './decide.js';
export { discoverKinds, checkTransientKind } from './kinds.js';
export type { SweeperTasksClient } from './cloud-tasks.js';
export type { GuardedDeleteLimits } from './guarded-delete.js';
export {
  installSweeper,
  runIdFor,
  segmentTaskId,
  SHARD_TASK_NAME,
  type DistributedSweepOptions,
  type InstalledSweeper,
  type FanOutResult,
  type RunNamespace,
  type ShardTaskArgs,
  type SweepRunRecord,
} from './distributed.js';
