// Guarded deletes of the sweeper on the real emulators: a commit lost to contention, in any shape the store recognises, is retried.
import { describe, expect, it } from 'vitest';
import { isContention } from '../src/store/in-transaction.js';
import { chunkKeys } from '../src/store/task-entity.js';
import { deleteGuardedSplitting, type DeleteCandidate } from '../src/sweeper/guarded-delete.js';
import { describeStorage } from './support/backends.js';
import { grpcError, injectCommitFaults } from './support/datastore-faults.js';
import { chunkCount, remainingIds, seedTasks } from './support/task-fixture.js';

/** The shapes of a contention error `isContention` recognises. */
const shapes: { name: string; error: () => Error }[] = [
  { name: 'gRPC code 10 (ABORTED)', error: () => grpcError(10, 'ABORTED', 'transaction aborted') },
  { name: 'message naming ABORTED, no code', error: () => new Error('commit failed: ABORTED by the backend') },
  {
    name: 'message "too much contention", no code',
    error: () => new Error('too much contention on these datastore entities. please try again.'),
  },
];

describe('sweeper: guarded delete', { timeout: 60_000 }, () => {
  describeStorage('deleteGuardedSplitting', (ctx) => {
    async function seed() {
      const { datastore } = ctx();
      // One entity group: the batch cannot be split, so only a retry of the transaction gets it through.
      const keys = await seedTasks(
        datastore,
        undefined as never,
        'q',
        [
          { id: 'gone', chunks: 2, parent: ['Order', 'o1'] },
          { id: 'started', state: 'running', parent: ['Order', 'o1'] },
        ],
        { now: Date.now() },
      );
      const candidates: DeleteCandidate<string>[] = [...keys].map(([id, key]) => ({
        key,
        companions: chunkKeys(datastore, key, id === 'gone' ? 2 : 0),
        tag: id,
        guard: (fresh) => fresh.state === 'pending', // as judged: still pending
      }));
      return { keys, candidates };
    }

    it.each(shapes)('retries after a contention error ($name) and deletes what its guard allows', async ({ error }) => {
      expect(isContention(error())).toBe(true);
      const { datastore } = ctx();
      const { keys, candidates } = await seed();
      const faults = injectCommitFaults(datastore);
      faults.arm({ error });

      const { outcomes, lastError } = await deleteGuardedSplitting(datastore, candidates);
      expect(lastError).toBeUndefined();
      expect(faults.injected).toBe(1);
      expect(Object.fromEntries([...outcomes].map(([c, outcome]) => [c.tag, outcome]))).toEqual({
        gone: 'deleted',
        started: 'changed',
      });
      expect([...(await remainingIds(datastore, keys))]).toEqual(['started']);
      expect(await chunkCount(datastore)).toBe(0);
    });

    it('gives up after `attempts` contended commits: every candidate is an error and nothing is deleted', async () => {
      const { datastore } = ctx();
      const { keys, candidates } = await seed();
      const faults = injectCommitFaults(datastore);
      faults.arm(...shapes, ...shapes);

      const { outcomes, lastError } = await deleteGuardedSplitting(datastore, candidates, { attempts: 3 });
      expect(faults.injected).toBe(3);
      expect(isContention(lastError)).toBe(true);
      expect([...outcomes.values()]).toEqual(['error', 'error']);
      expect(new Set(await remainingIds(datastore, keys))).toEqual(new Set(['gone', 'started']));
      expect(await chunkCount(datastore)).toBe(2);
    });
  });
});
