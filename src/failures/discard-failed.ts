/** Discarding failure records: deleting a `failed` or `retried` record and its payload chunks now, in a transaction that checks it is one. */
import type { Datastore, Key } from '@google-cloud/datastore';
import pLimit from 'p-limit';
import { describeError } from '../core/logger.js';
import { formatTaskKey } from '../store/key-text.js';
import { chunkKeys, fromEntity } from '../store/task-entity.js';
import { inTransaction } from '../store/in-transaction.js';
import { isFailureRecord } from './read-failed.js';
import type { DiscardOptions, DiscardResult } from '../types.js';

/** Discards one record (see {@link FailureLedger.discard}); a record in another state is left alone. */
export async function discardFailedTask(
  datastore: Datastore,
  key: Key,
  options: DiscardOptions = {},
): Promise<DiscardResult> {
  const text = formatTaskKey(key);
  try {
    return await inTransaction(datastore, async (tx) => {
      const [raw] = await tx.get(key);
      if (!raw) return { key: text, status: 'missing' } as const;
      const record = fromEntity(datastore, raw);
      if (!isFailureRecord(record)) return { key: text, status: 'not-failed', task: record.task, state: record.state };
      if (options.dryRun) return { key: text, status: 'would-discard', task: record.task };
      tx.delete([key, ...chunkKeys(datastore, key, record.chunks)]);
      return { key: text, status: 'discarded', task: record.task };
    });
  } catch (error) {
    return { key: text, status: 'error', error: describeError(error) };
  }
}

/** Discards several records, four at a time; one result per key, in order (see {@link FailureLedger.discard}). */
export async function discardFailedTasks(
  datastore: Datastore,
  keys: readonly Key[],
  options: DiscardOptions = {},
): Promise<DiscardResult[]> {
  const limit = pLimit(4);
  return Promise.all(keys.map((key) => limit(() => discardFailedTask(datastore, key, options))));
}
