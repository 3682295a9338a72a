/** Reading one failure record in full: its fields, its attempt history, and its stored call decoded where it can be. */
import type { Datastore, Key } from '@google-cloud/datastore';
import type { CodecRegistry } from '../codec/index.js';
import { decodeStoredArguments } from '../store/stored-arguments.js';
import { formatTaskKey, toTaskKey } from '../store/key-text.js';
import { fromEntity, type StoredTask } from '../store/task-entity.js';
import type { FailedTask } from '../types.js';

/** True when a record is a failure record (failed, or failed and replayed). */
export function isFailureRecord(
  stored: Pick<StoredTask, 'state'>,
): stored is StoredTask & { state: 'failed' | 'retried' } {
  return stored.state === 'failed' || stored.state === 'retried';
}

/** The record at `key` in full, or undefined when there is no failure record there (see {@link FailureLedger.get}). */
export async function readFailedTask(
  datastore: Datastore,
  key: Key | string,
  options: { readonly namespace?: string; readonly codecs?: CodecRegistry } = {},
): Promise<FailedTask | undefined> {
  const entityKey = toTaskKey(datastore, key, options.namespace);
  const [raw] = await datastore.get(entityKey);
  if (!raw) return undefined;
  const stored = fromEntity(datastore, raw);
  if (!isFailureRecord(stored)) return undefined;
  return {
    key: formatTaskKey(entityKey),
    entityKey: stored.key,
    state: stored.state,
    task: stored.task,
    queue: stored.queue,
    cloudTaskName: stored.cloudTaskName,
    inline: String(entityKey.name ?? '').startsWith('failed.'),
    attempts: stored.attempts,
    created: stored.created,
    eta: stored.eta,
    failedAt: stored.finishedAt,
    lastError: stored.lastError,
    history: stored.history ?? [],
    retentionMs: stored.retentionMs,
    expireAt: stored.expireAt,
    payloadBytes: stored.payloadBytes,
    payload: await decodeStoredArguments(datastore, stored, options.codecs),
    retried:
      stored.state === 'retried' && stored.retriedAs && stored.retriedAt
        ? { cloudTaskName: stored.retriedAs, entityKey: stored.retriedEntity ?? '', at: stored.retriedAt }
        : null,
  };
}
