// Mappers end to end: steps as Cloud Tasks through our emulator and the handler, on both Datastore emulators.
import { Datastore, PropertyFilter, type Key } from '@google-cloud/datastore';
import { describe, expect, it } from 'vitest';
import { defineMapper, type MapperJobSummary } from '../src/jobs/mapper.js';
import { describeStorage } from './support/backends.js';
import { useRuntime, type RuntimeFixture } from './support/runtime.js';

async function seed(datastore: Datastore, count: number) {
  const entities = Array.from({ length: count }, (_, i) => ({
    key: datastore.key(['Item', i + 1]),
    data: { n: i + 1, visits: 0 },
  }));
  for (let i = 0; i < entities.length; i += 500) await datastore.upsert(entities.slice(i, i + 500));
}

/** Lets due tasks run until the queue is empty (steps enqueue steps). */
async function drain(rt: RuntimeFixture) {
  for (let i = 0; i < 50 && (await rt.listTasks()).length > 0; i++) await rt.advance(0);
}

describe('defineMapper', () => {
  const setup = useRuntime();

  describeStorage('through Cloud Tasks', (ctx) => {
    it('maps every entity once over continuation steps and calls onComplete once', async () => {
      const rt = await setup(ctx());
      const { datastore } = ctx();
      await seed(datastore, 1000);
      const completed: MapperJobSummary[] = [];
      const onComplete = rt.deferred.task('visitDone', (summary: MapperJobSummary) => void completed.push(summary));
      let steps = 0;
      const mapper = defineMapper(rt.deferred, 'visit', {
        query: (ds) => ds.createQuery('Item'),
        map: (entity, c) => {
          c.put({ key: entity[Datastore.KEY] as Key, data: { ...entity, visits: (entity.visits as number) + 1 } });
        },
        batchSize: 100,
        maxBatchesPerStep: 3,
        onComplete,
      });
      rt.deferred.task('countSteps', () => void steps++); // unrelated task: registration order does not matter
      const jobId = await mapper.start({ jobId: 'visit-all' });
      expect(jobId).toBe('visit-all');
      await drain(rt);

      const [items] = await datastore.runQuery(datastore.createQuery('Item').select(['visits']));
      expect(items).toHaveLength(1000);
      expect(items.filter((e) => e.visits !== 1)).toEqual([]);
      expect(await mapper.status(jobId)).toMatchObject({ status: 'succeeded', processed: 1000, failed: 0 });
      expect(completed).toHaveLength(1);
      expect(completed[0]).toMatchObject({ jobId, status: 'succeeded', processed: 1000 });
      expect(completed[0]!.startedAt).toBeInstanceOf(Date);
      const stepRuns = rt.logger.entries.filter((e) => e.task === '_deferred.mapper.visit' && /done$/.test(e.message));
      expect(stepRuns.length).toBeGreaterThanOrEqual(4); // 10 batches, 3 per step
      await expect(mapper.start({ jobId })).rejects.toThrow(/mapper job "visit-all" already exists/);
    });

    it('sharded: each shard maps its own key range and the job ends when all have', async () => {
      const rt = await setup(ctx());
      const { datastore } = ctx();
      await seed(datastore, 300);
      const mapper = defineMapper(rt.deferred, 'sharded', {
        shards: 3,
        query: (ds, shard) =>
          ds
            .createQuery('Item')
            .filter(new PropertyFilter('n', '>', shard * 100))
            .filter(new PropertyFilter('n', '<=', (shard + 1) * 100)),
        map: (entity, c) => c.put({ key: entity[Datastore.KEY] as Key, data: { ...entity, visits: 1 } }),
        batchSize: 40,
        maxBatchesPerStep: 1,
      });
      const jobId = await mapper.start();
      await drain(rt);
      expect(await mapper.status(jobId)).toMatchObject({ status: 'succeeded', processed: 300 });
      const [visited] = await datastore.runQuery(
        datastore.createQuery('Item').filter(new PropertyFilter('visits', '=', 1)),
      );
      expect(visited).toHaveLength(300);
    });

    it('fails the job when failures pass maxFailures, recording the messages', async () => {
      const rt = await setup(ctx());
      const { datastore } = ctx();
      await seed(datastore, 50);
      const mapper = defineMapper(rt.deferred, 'picky', {
        query: (ds) => ds.createQuery('Item'),
        map: (entity) => {
          if ((entity.n as number) % 10 === 0) throw new Error(`no multiples of ten (${String(entity.n)})`);
        },
        maxFailures: 2,
        batchSize: 20,
      });
      const jobId = await mapper.start();
      await drain(rt);
      const status = await mapper.status(jobId);
      // Batch 1 (1-20) fails 2 (allowed); batch 2 fails 2 more: 4 > 2 ends the job there.
      expect(status).toMatchObject({ status: 'failed', failed: 4 });
      expect(status!.failures).toEqual([10, 20, 30, 40].map((n) => `Item/${n}: no multiples of ten (${n})`));
      expect(status!.message).toMatch(/more than maxFailures \(2\)/);
    });
  });

  it('rejects bad options with a clear error', () => {
    const deferred = { task: () => ({}) } as never;
    expect(() => defineMapper(deferred, 'm', { query: undefined as never, map: () => {} })).toThrow(/give query/);
    expect(() =>
      defineMapper(deferred, 'm', { query: (ds) => ds.createQuery('X'), map: () => {}, batchSize: 0 }),
    ).toThrow(/batchSize must be a whole number from 1 to 1000, got 0/);
    expect(() =>
      defineMapper(deferred, 'm', { query: (ds) => ds.createQuery('X'), map: () => {}, maxFailures: -1 }),
    ).toThrow(/maxFailures must be a whole number >= 0/);
  });
});
