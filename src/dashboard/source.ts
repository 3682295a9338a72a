/** Where the dashboard reads from and acts through: the app's clients and settings, and a runtime for the changes that create Cloud Tasks. */
import { createHmac, randomBytes } from 'node:crypto';
import type { Datastore } from '@google-cloud/datastore';
import type { CloudTasksClient } from '@google-cloud/tasks';
import type { CodecRegistry } from '../codec/index.js';
import type { ResolvedConfig } from '../core/config.js';
import { defaultLogger } from '../core/logger.js';
import { TaskRegistry } from '../core/task-registry.js';
import { ConfigurationError } from '../errors/runtime.js';
import { DeferredRuntime } from '../runtime/deferred-runtime.js';
import { runtimeConfigSource } from '../runtime/services.js';
import { DEFAULT_SHARDS, SHARD_COUNT } from '../store/schema.js';
import { wholeNumber } from '../util/whole-number.js';
import type { Deferred, FailureLedger, Logger, TimeSource } from '../types.js';
import type { DashboardOptions } from './dashboard-options.js';

/** The resolved clients and settings of one dashboard. */
export interface DashboardSource {
  readonly datastore: Datastore;
  readonly tasks: CloudTasksClient;
  readonly tasksBeta: DashboardOptions['tasksBeta'];
  readonly projectId: string;
  readonly location: string;
  readonly namespace: string;
  readonly queues: readonly string[] | undefined;
  readonly shards: number;
  readonly codecs: CodecRegistry | undefined;
  readonly logger: Logger;
  readonly clock: TimeSource;
  readonly taskCountLimit: number;
  /** Key of the CSRF tokens. */
  readonly csrfKey: Buffer;
  /**
   * A runtime instance with the app's configuration and an empty task registry, for changes that create Cloud Tasks
   * (its tasks are registered per change, so they never clash with the app's own), with `queue` as its default
   * queue; null without a runtime.
   */
  operator(queue?: string): Deferred | null;
  /** The runtime's failure ledger (`deferred.failures`), or null without one. */
  readonly ledger: FailureLedger | null;
  /** Whether changes that create Cloud Tasks are offered (Enable, Run now, Retry). */
  readonly createTasks: boolean;
}

/** Resolves the dashboard's source from its options (a runtime instance, or bare clients). */
export function resolveSource(options: DashboardOptions): DashboardSource {
  const configSource = options.deferred ? runtimeConfigSource(options.deferred) : undefined;
  if (options.deferred && !configSource) {
    throw new ConfigurationError('deferred must be an instance made by createDeferred() of this package.');
  }
  const config: ResolvedConfig | undefined = configSource?.();
  const datastore = options.datastore ?? config?.datastore;
  const tasks = options.tasks ?? config?.tasks;
  const projectId = options.projectId ?? config?.projectId;
  const location = options.location ?? config?.location;
  const missing = [
    !datastore && 'datastore',
    !tasks && 'tasks',
    !projectId && 'projectId',
    !location && 'location',
  ].filter(Boolean);
  if (missing.length) {
    throw new ConfigurationError(
      `createDashboard needs ${missing.join(', ')}: pass deferred (the app's runtime instance) or each of them.`,
    );
  }
  const shards = wholeNumber(
    options.shards ?? config?.shards ?? DEFAULT_SHARDS,
    'shards',
    SHARD_COUNT,
    ConfigurationError,
  );
  const secret = options.csrfSecret ?? config?.secrets[0];
  const csrfKey = secret
    ? createHmac('sha256', secret).update('cloud-deferred dashboard csrf v1').digest()
    : randomBytes(32);
  return {
    datastore: datastore!,
    tasks: tasks!,
    tasksBeta: options.tasksBeta,
    projectId: projectId!,
    location: location!,
    namespace: options.namespace ?? datastore!.namespace ?? '',
    queues: options.queues,
    shards,
    codecs: options.codecs ?? config?.codecs,
    logger: options.logger ?? config?.logger ?? defaultLogger,
    clock: options.clock ?? config?.clock ?? { now: () => Date.now() },
    taskCountLimit: options.taskCountLimit ?? 3000,
    csrfKey,
    ledger: config ? options.deferred!.failures : null,
    createTasks: config !== undefined && options.createTasks !== false,
    operator: (queue) =>
      config && options.createTasks !== false
        ? new DeferredRuntime(() => ({ ...config, queue: queue ?? config.queue }), new TaskRegistry())
        : null,
  };
}
