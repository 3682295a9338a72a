/** Deleting entities under a guard: batched transactions that re-read each entity and delete it (with its chunks) only if the guard still holds. */
import type { Datastore, Key } from '@google-cloud/datastore';
import { inTransaction, isContention } from '../store/in-transaction.js';
import { groupId, keyId } from '../store/keys.js';

/** One entity to delete, the extra keys that go with it (its chunks), and the guard to check on the re-read entity. */
export interface DeleteCandidate<T> {
  key: Key;
  /** Keys deleted together with `key` when the guard holds (a task entity's `_DeferredTaskChunk` children). */
  companions: Key[];
  /** Anything the caller wants back with the outcome. */
  tag: T;
  /** Evaluated inside the transaction on the entity as re-read there; delete only when it returns true. */
  guard(fresh: Record<string, unknown>): boolean;
}

/** What happened to one candidate. */
export type DeleteOutcome = 'deleted' | 'changed' | 'vanished' | 'error';

/** Limits of one guarded commit. */
export interface GuardedDeleteLimits {
  /** Most mutations per commit (Datastore's limit is 500). @default 500 */
  mutationsPerCommit?: number;
  /**
   * Most entity groups per transaction. The Datastore emulator (like legacy Cloud Datastore) refuses more than 25;
   * Firestore in Datastore mode has no such limit.
   * @default 25
   */
  entityGroupsPerTransaction?: number;
  /** Attempts of a transaction that Datastore aborts because of contention (see `isContention` in the store). @default 3 */
  attempts?: number;
}

/** Splits candidates into batches that each fit in one transaction (groups and mutations), keeping a group in one batch. */
export function planBatches<T>(
  candidates: DeleteCandidate<T>[],
  limits: GuardedDeleteLimits = {},
): DeleteCandidate<T>[][] {
  const maxMutations = limits.mutationsPerCommit ?? 500;
  const maxGroups = limits.entityGroupsPerTransaction ?? 25;
  const byGroup = new Map<string, DeleteCandidate<T>[]>();
  for (const c of candidates) {
    const g = groupId(c.key);
    byGroup.set(g, [...(byGroup.get(g) ?? []), c]);
  }
  const batches: DeleteCandidate<T>[][] = [];
  let batch: DeleteCandidate<T>[] = [];
  let groups = 0;
  let mutations = 0;
  const flush = () => {
    if (batch.length) batches.push(batch);
    batch = [];
    groups = 0;
    mutations = 0;
  };
  for (const members of byGroup.values()) {
    let groupCounted = false;
    for (const c of members) {
      const size = 1 + Math.min(c.companions.length, maxMutations - 1);
      if (mutations + size > maxMutations || (!groupCounted && groups + 1 > maxGroups)) {
        flush();
        groupCounted = false;
      }
      if (!groupCounted) {
        groups++;
        groupCounted = true;
      }
      batch.push(c);
      mutations += size;
    }
  }
  flush();
  return batches;
}

/**
 * Runs one batch in one transaction: reads every candidate, deletes those whose guard holds (with up to
 * `mutationsPerCommit - 1` companions each; any further companions are deleted right after the commit, when nothing
 * can read them any more), commits. Retries on contention ({@link inTransaction}); re-reading makes a retry safe.
 */
export async function deleteBatchGuarded<T>(
  datastore: Datastore,
  batch: DeleteCandidate<T>[],
  limits: GuardedDeleteLimits = {},
): Promise<Map<DeleteCandidate<T>, DeleteOutcome>> {
  const maxMutations = limits.mutationsPerCommit ?? 500;
  let leftovers: Key[] = [];
  const outcomes = await inTransaction(
    datastore,
    async (tx) => {
      const outcomes = new Map<DeleteCandidate<T>, DeleteOutcome>();
      leftovers = [];
      const [found] = (await tx.get(batch.map((c) => c.key))) as [Record<string | symbol, unknown>[]];
      const fresh = new Map<string, Record<string, unknown>>();
      for (const entity of found) fresh.set(keyId(entity[datastore.KEY] as Key), entity);
      const toDelete: Key[] = [];
      for (const c of batch) {
        const entity = fresh.get(keyId(c.key));
        if (!entity) outcomes.set(c, 'vanished');
        else if (!c.guard(entity)) outcomes.set(c, 'changed');
        else {
          outcomes.set(c, 'deleted');
          toDelete.push(c.key, ...c.companions.slice(0, maxMutations - 1));
          leftovers.push(...c.companions.slice(maxMutations - 1));
        }
      }
      if (toDelete.length > 0) tx.delete(toDelete);
      return outcomes;
    },
    { retries: (limits.attempts ?? 3) - 1, retryOn: isContention },
  );
  for (let i = 0; i < leftovers.length; i += maxMutations) await datastore.delete(leftovers.slice(i, i + maxMutations));
  return outcomes;
}

/**
 * {@link deleteBatchGuarded}, made to get through contention: a batch that keeps being aborted (other transactions
 * touch its entity groups: task runs, another sweep) is split in two by entity group and each half tried again, down to
 * single groups. Candidates that still fail come back as `error` with the last error.
 */
export async function deleteGuardedSplitting<T>(
  datastore: Datastore,
  batch: DeleteCandidate<T>[],
  limits: GuardedDeleteLimits = {},
): Promise<{ outcomes: Map<DeleteCandidate<T>, DeleteOutcome>; lastError?: unknown }> {
  try {
    return { outcomes: await deleteBatchGuarded(datastore, batch, limits) };
  } catch (error) {
    const groups = [...new Set(batch.map((c) => groupId(c.key)))];
    if (!isContention(error) || groups.length < 2) {
      return { outcomes: new Map(batch.map((c) => [c, 'error' as const])), lastError: error };
    }
    const firstHalf = new Set(groups.slice(0, Math.ceil(groups.length / 2)));
    const halves = [
      batch.filter((c) => firstHalf.has(groupId(c.key))),
      batch.filter((c) => !firstHalf.has(groupId(c.key))),
    ];
    const outcomes = new Map<DeleteCandidate<T>, DeleteOutcome>();
    let lastError: unknown;
    for (const half of halves) {
      const result = await deleteGuardedSplitting(datastore, half, limits);
      for (const [c, outcome] of result.outcomes) outcomes.set(c, outcome);
      lastError ??= result.lastError;
    }
    return { outcomes, lastError };
  }
}

/** Splits candidates into plain commits of at most `mutationsPerCommit` mutations each (entity plus companions). */
export function planPlainBatches<T>(
  candidates: DeleteCandidate<T>[],
  limits: GuardedDeleteLimits = {},
): DeleteCandidate<T>[][] {
  const maxMutations = limits.mutationsPerCommit ?? 500;
  const batches: DeleteCandidate<T>[][] = [];
  let batch: DeleteCandidate<T>[] = [];
  let mutations = 0;
  for (const c of candidates) {
    const size = Math.min(1 + c.companions.length, maxMutations);
    if (batch.length > 0 && mutations + size > maxMutations) {
      batches.push(batch);
      batch = [];
      mutations = 0;
    }
    batch.push(c);
    mutations += size;
  }
  if (batch.length) batches.push(batch);
  return batches;
}

/**
 * Deletes a batch of candidates that nothing can change any more in plain, non-transactional commits: no re-read and
 * no entity-group limit, so one commit of up to 500 instead of a transaction per 25 entity groups. Only for `done`
 * task entities: no writer touches a done entity again (a delivery finds it finished, a completion or a hop needs it
 * unfinished, and entity names are random, never reused), so a guard could not change the outcome; guards are not
 * evaluated. Companions are deleted before their entity, so a failed commit leaves the entity (and its chunk count)
 * for the next sweep rather than orphaned chunks. A batch from {@link planPlainBatches} takes one commit unless an
 * entity has more companions than one commit holds.
 */
export async function deleteImmutable<T>(
  datastore: Datastore,
  batch: DeleteCandidate<T>[],
  limits: GuardedDeleteLimits = {},
): Promise<{ outcomes: Map<DeleteCandidate<T>, DeleteOutcome>; lastError?: unknown }> {
  const maxMutations = limits.mutationsPerCommit ?? 500;
  const outcomes = new Map<DeleteCandidate<T>, DeleteOutcome>();
  const keys: Key[] = [];
  try {
    for (const c of batch) {
      if (1 + c.companions.length <= maxMutations) {
        keys.push(...c.companions, c.key);
        continue;
      }
      for (let i = 0; i < c.companions.length; i += maxMutations) {
        await datastore.delete(c.companions.slice(i, i + maxMutations));
      }
      keys.push(c.key);
    }
    for (let i = 0; i < keys.length; i += maxMutations) await datastore.delete(keys.slice(i, i + maxMutations));
  } catch (error) {
    return { outcomes: new Map(batch.map((c) => [c, 'error' as const])), lastError: error };
  }
  for (const c of batch) outcomes.set(c, 'deleted');
  return { outcomes };
}
