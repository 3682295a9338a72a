/**
 * The attempt log of an inline task: inline tasks have no entity while they run, so each failed attempt that will be
 * retried appends its outcome to a small `_DeferredAttempts` entity (named `<queue>.<Cloud Task id>`, like the failure
 * record); a final failure folds it into the failure record, a later success deletes it, and its `expireAt` lets the
 * sweeper reclaim it by age when neither happens (the queue gave up, the task was deleted).
 */
import type { Datastore, Key } from '@google-cloud/datastore';
import { appendHistory, parseHistory, serializeHistory } from './history.js';
import { ATTEMPTS_KIND, type AttemptRecord } from './schema.js';
import { inTransaction, isTransient } from './in-transaction.js';

/** The key of an inline task's attempt log. */
export function attemptLogKey(datastore: Datastore, name: string): Key {
  return datastore.key([ATTEMPTS_KIND, name]);
}

/** Appends one attempt to the log (created on the first), keeping the last 20; `expireAt` bounds its life. */
export async function appendAttemptLog(
  datastore: Datastore,
  key: Key,
  task: string,
  attempt: AttemptRecord,
  expireAt: Date,
): Promise<void> {
  await inTransaction(
    datastore,
    async (tx) => {
      const [entity] = await tx.get(key);
      const history = appendHistory(parseHistory((entity as { history?: unknown } | undefined)?.history), attempt);
      tx.save({
        key,
        data: [
          { name: 'task', value: task, excludeFromIndexes: true },
          { name: 'history', value: serializeHistory(history), excludeFromIndexes: true },
          { name: 'expireAt', value: expireAt },
        ],
      } as never);
    },
    { retries: 2, retryOn: isTransient },
  );
}

/** The attempts logged so far (empty when there is no log). */
export async function readAttemptLog(datastore: Datastore, key: Key): Promise<AttemptRecord[]> {
  const [entity] = await datastore.get(key);
  return parseHistory((entity as { history?: unknown } | undefined)?.history);
}

/** Deletes the log (its attempts are recorded elsewhere, or the task succeeded). */
export async function deleteAttemptLog(datastore: Datastore, key: Key): Promise<void> {
  await datastore.delete(key);
}
