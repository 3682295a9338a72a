/** The failure ledger of a runtime instance (`deferred.failures`): list, read, retry and discard, over the runtime's own clients; its operations load on first use, not at import (a worker that never reads its ledger never loads them). */
import type { Datastore, Key } from '@google-cloud/datastore';
import type { CodecRegistry } from '../codec/index.js';
import { resolveDeferOptions } from '../defer/options.js';
import { toTaskKey } from '../store/key-text.js';
import type { RetryDeps } from './retry-failed.js';
import type {
  DiscardOptions,
  DiscardResult,
  FailedTask,
  FailedTaskFilter,
  FailedTaskPage,
  FailedTaskPageOptions,
  FailedTaskSummary,
  FailureLedger,
  RetryOptions,
} from '../types.js';

/** A page of failed tasks matching `filter`, newest first (see {@link FailureLedger.list}). */
export async function listFailedTasks(
  datastore: Datastore,
  filter: FailedTaskFilter = {},
  page: FailedTaskPageOptions = {},
): Promise<FailedTaskPage> {
  return (await import('./list-failed.js')).listFailedTasks(datastore, filter, page);
}

/** Every failed task matching `filter`, newest first, page after page (see {@link FailureLedger.matching}). */
export async function* matchingFailedTasks(
  datastore: Datastore,
  filter: FailedTaskFilter = {},
): AsyncGenerator<FailedTaskSummary> {
  yield* (await import('./list-failed.js')).matchingFailedTasks(datastore, filter);
}

/** The other namespaces of the registry holding failure records that match `filter` (see {@link FailureLedger.otherNamespaces}). */
export async function namespacesWithFailures(datastore: Datastore, filter: FailedTaskFilter = {}): Promise<string[]> {
  return (await import('./list-failed.js')).namespacesWithFailures(datastore, filter);
}

/** The record at `key` in full, or undefined when there is no failure record there (see {@link FailureLedger.get}). */
export async function readFailedTask(
  datastore: Datastore,
  key: Key | string,
  options: { readonly namespace?: string; readonly codecs?: CodecRegistry } = {},
): Promise<FailedTask | undefined> {
  return (await import('./read-failed.js')).readFailedTask(datastore, key, options);
}

/** Discards several records, four at a time; one result per key, in order (see {@link FailureLedger.discard}). */
export async function discardFailedTasks(
  datastore: Datastore,
  keys: readonly Key[],
  options: DiscardOptions = {},
): Promise<DiscardResult[]> {
  return (await import('./discard-failed.js')).discardFailedTasks(datastore, keys, options);
}

/** The keys of a `retry` / `discard` call, as keys of this client. */
function keysOf(datastore: Datastore, keys: Key | string | readonly (Key | string)[], namespace?: string): Key[] {
  const all = typeof keys === 'string' || !Array.isArray(keys) ? [keys as Key | string] : (keys as (Key | string)[]);
  return all.map((key) => toTaskKey(datastore, key, namespace));
}

/** Every key matching a filter (all pages), newest first. */
async function matchingKeys(datastore: Datastore, filter: FailedTaskFilter): Promise<Key[]> {
  const keys: Key[] = [];
  for await (const failed of matchingFailedTasks(datastore, filter)) keys.push(failed.entityKey);
  return keys;
}

/** Checks a retry's overrides once, before any record is touched (a bad queue id or delay is the caller's mistake). */
function checkRetryOptions(
  deps: RetryDeps,
  options: RetryOptions,
  concurrencyOf: (value: number | undefined) => number,
): void {
  concurrencyOf(options.concurrency);
  resolveDeferOptions(
    [
      {
        ...(options.queue === undefined ? {} : { queue: options.queue }),
        ...(options.delay === undefined ? {} : { delay: options.delay }),
        ...(options.eta === undefined ? {} : { eta: options.eta }),
      },
    ],
    { nowMs: deps.config.clock.now(), defaultQueue: deps.config.queue },
  );
}

/** The ledger over a runtime's dependencies (resolved on first use: the default instance configures itself lazily). */
export function createFailureLedger(deps: () => RetryDeps): FailureLedger {
  const datastore = () => deps().config.datastore;
  return {
    list: (filter, page) => listFailedTasks(datastore(), filter, page),
    matching: (filter) => matchingFailedTasks(datastore(), filter),
    otherNamespaces: (filter) => namespacesWithFailures(datastore(), filter),
    get: (key, options) => readFailedTask(datastore(), key, { ...options, codecs: deps().config.codecs }),
    retry: async (keys, { namespace, ...options } = {}) => {
      const { concurrencyOf, retryFailedTasks } = await import('./retry-failed.js');
      checkRetryOptions(deps(), options, concurrencyOf);
      return retryFailedTasks(deps(), keysOf(datastore(), keys, namespace), options);
    },
    retryMatching: async (filter, options = {}) => {
      const { concurrencyOf, retryFailedTasks } = await import('./retry-failed.js');
      checkRetryOptions(deps(), options, concurrencyOf);
      return retryFailedTasks(deps(), await matchingKeys(datastore(), filter), options);
    },
    discard: async (keys, { namespace, ...options } = {}) =>
      discardFailedTasks(datastore(), keysOf(datastore(), keys, namespace), options),
    discardMatching: async (filter, options = {}) =>
      discardFailedTasks(datastore(), await matchingKeys(datastore(), filter), options),
  };
}
