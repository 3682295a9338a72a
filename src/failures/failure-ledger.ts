/** The failure ledger of a runtime instance (`deferred.failures`): list, read, retry and discard, over the runtime's own clients. */
import type { Datastore, Key } from '@google-cloud/datastore';
import { resolveDeferOptions } from '../defer/options.js';
import { toTaskKey } from '../store/key-text.js';
import { discardFailedTasks } from './discard-failed.js';
import { listFailedTasks, matchingFailedTasks } from './list-failed.js';
import { readFailedTask } from './read-failed.js';
import { concurrencyOf, retryFailedTasks, type RetryDeps } from './retry-failed.js';
import type { FailedTaskFilter, FailureLedger, RetryOptions } from '../types.js';

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
function checkRetryOptions(deps: RetryDeps, options: RetryOptions): void {
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
    get: (key, options) => readFailedTask(datastore(), key, { ...options, codecs: deps().config.codecs }),
    retry: async (keys, options = {}) => {
      checkRetryOptions(deps(), options);
      return retryFailedTasks(deps(), keysOf(datastore(), keys), options);
    },
    retryMatching: async (filter, options = {}) => {
      checkRetryOptions(deps(), options);
      return retryFailedTasks(deps(), await matchingKeys(datastore(), filter), options);
    },
    discard: async (keys, options = {}) => discardFailedTasks(datastore(), keysOf(datastore(), keys), options),
    discardMatching: async (filter, options = {}) =>
      discardFailedTasks(datastore(), await matchingKeys(datastore(), filter), options),
  };
}
