// Tests of runMapperStep on both emulators: exactly-once mapping across continuation steps, retries and failures.
import { Datastore, PropertyFilter, type Key } from '@google-cloud/datastore';
import { expect, it } from 'vitest';
import {
  createMapperJob,
  jobKey,
  runMapperStep,
  type MapperStepDefinition,
  type MapperStepOutcome,
} from '../src/jobs/mapper-step.js';
import type { MapperJobRecord } from '../src/jobs/records.js';
import { describeStorage } from './support/backends.js';

async function seed(datastore: Datastore, count: number) {
  const entities = Array.from({ length: count }, (_, i) => ({
    key: datastore.key(['Item', i + 1]),
    data: { n: i + 1, visits: 0, bad: false },
  }));
  // Eight writers in parallel: the emulators take concurrent commits of disjoint entities well.
  await inParallel(inSlices(entities, 500), 8, (batch) => datastore.upsert(batch));
}

/** `items` in slices of `size`. */
function inSlices<T>(items: T[], size: number): T[][] {
  const slices: T[][] = [];
  for (let i = 0; i < items.length; i += size) slices.push(items.slice(i, i + size));
  return slices;
}

/** Runs `fn` on every item, `width` at a time. */
async function inParallel<T, R>(items: T[], width: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = [];
  await Promise.all(
    Array.from({ length: width }, async (_, w) => {
      for (let i = w; i < items.length; i += width) results[i] = await fn(items[i]!);
    }),
  );
  return results;
}

/** Drives a job's steps like a task queue would: one step at a time, re-running a step that threw (a retry). */
async function drive(
  datastore: Datastore,
  def: MapperStepDefinition,
  jobId: string,
  options: { failOnce?: (step: number, batch: number) => boolean } = {},
) {
  const queue: { shard: number; step: number }[] = [{ shard: 0, step: 1 }];
  const outcomes: MapperStepOutcome[] = [];
  let finished: MapperJobRecord | undefined;
  let retries = 0;
  let failed = false;
  while (queue.length) {
    const next = queue.shift()!;
    try {
      outcomes.push(
        await runMapperStep(
          {
            datastore,
            now: Date.now,
            enqueueStep: async (shard, step) => void queue.push({ shard, step }),
            finished: async (record) => void (finished = record),
            afterCommit: ({ step, batch }) => {
              if (!failed && options.failOnce?.(step, batch)) {
                failed = true;
                throw new Error('worker crashed between the commit of a batch and its writes');
              }
            },
          },
          def,
          jobId,
          next.shard,
          next.step,
        ),
      );
    } catch {
      retries++;
      queue.unshift(next); // Cloud Tasks retries the same step
    }
  }
  return { outcomes, finished, retries };
}

function definition(overrides: Partial<MapperStepDefinition> = {}): MapperStepDefinition {
  return {
    name: 'visit',
    query: (ds) => ds.createQuery('Item'),
    map: (entity, ctx) => {
      if (entity.bad) throw new Error(`item ${String(entity.n)} is bad`);
      ctx.put({
        key: entity[Datastore.KEY] as Key,
        data: { ...entity, visits: (entity.visits as number) + 1 },
      });
    },
    batchSize: 250,
    stepBudgetMs: 60_000,
    maxBatchesPerStep: 20,
    maxFailures: 5,
    ...overrides,
  };
}

describeStorage('runMapperStep', (ctx) => {
  it('maps 1,000 entities exactly once over several steps, even when a step is retried', async () => {
    const { datastore } = ctx();
    await seed(datastore, 1_000);
    // 20 batches of 50 in steps of at most 5 batches: 4 steps, 3 continuations (as 5,000 in batches of 250 were).
    const def = definition({ batchSize: 50, maxBatchesPerStep: 5 });
    expect(await createMapperJob(datastore, 'visit', 'job1', 1, Date.now())).toBe(true);
    const run = await drive(datastore, def, 'job1', { failOnce: (step, batch) => step === 2 && batch === 3 });

    expect(run.retries).toBe(1);
    expect(run.outcomes.filter((o) => o === 'continued').length).toBeGreaterThanOrEqual(3);
    expect(run.outcomes.at(-1)).toBe('job-succeeded');
    expect(run.finished).toMatchObject({ status: 'succeeded', processed: 1_000, failed: 0 });
    // Every Item mapped once, and no other Item: the 1,000 looked up by key (a query reading them all costs the
    // Datastore emulator ten times as long), and nothing in the key ranges beyond them.
    const keys = Array.from({ length: 1_000 }, (_, i) => datastore.key(['Item', i + 1]));
    const items = (await inParallel(inSlices(keys, 1000), 8, async (slice) => (await datastore.get(slice))[0])).flat();
    expect(items).toHaveLength(1_000);
    expect(items.filter((e) => e.visits !== 1)).toEqual([]);
    const beyond = async (op: '<' | '>', key: Key) =>
      (
        await datastore.runQuery(
          datastore
            .createQuery('Item')
            .filter(new PropertyFilter('__key__', op, key))
            .select('__key__')
            .limit(1),
        )
      )[0];
    expect([...(await beyond('<', keys[0]!)), ...(await beyond('>', keys.at(-1)!))]).toEqual([]);
    // Our own 1,000 go by key, which is quicker than the namespace clean-up's queries.
    await inParallel(inSlices(keys, 500), 8, (slice) => datastore.delete(slice));
  }, 240_000);

  it('tolerates failures up to maxFailures, then fails the job with the messages recorded', async () => {
    const { datastore } = ctx();
    await seed(datastore, 300);
    const bad = [5, 17, 120, 121, 250, 299];
    await datastore.upsert(bad.map((n) => ({ key: datastore.key(['Item', n]), data: { n, visits: 0, bad: true } })));
    const def = definition({
      batchSize: 50,
      maxFailures: 5,
      map: (entity, c) => {
        if (entity.bad) throw new Error(`item ${String(entity.n)} is bad`);
        c.put({ key: entity[datastore.KEY] as Key, data: { ...entity, visits: 1 } });
      },
    });
    await createMapperJob(datastore, 'visit', 'job2', 1, Date.now());
    const run = await drive(datastore, def, 'job2');
    expect(run.outcomes.at(-1)).toBe('job-failed');
    const [record] = await datastore.get(jobKey(datastore, 'job2'));
    expect(record).toMatchObject({ status: 'failed', failed: 6 });
    expect(record.failures).toEqual(bad.map((n) => `Item/${n}: item ${n} is bad`));
    expect(record.message).toMatch(/6 entities failed to map, more than maxFailures \(5\)/);
  });

  it('a duplicate delivery of a finished or superseded step does nothing', async () => {
    const { datastore } = ctx();
    await seed(datastore, 30);
    const def = definition({ batchSize: 10, maxBatchesPerStep: 1 });
    await createMapperJob(datastore, 'visit', 'job3', 1, Date.now());
    const enqueued: number[] = [];
    const deps = {
      datastore,
      now: Date.now,
      enqueueStep: async (_: number, step: number) => void enqueued.push(step),
      finished: async () => {},
    };
    expect(await runMapperStep(deps, def, 'job3', 0, 1)).toBe('continued');
    expect(await runMapperStep(deps, def, 'job3', 0, 1)).toBe('redriven'); // successor re-enqueued, nothing mapped
    expect(await runMapperStep(deps, def, 'job3', 0, 5)).toBe('stale');
    expect(enqueued).toEqual([2, 2]);
    const [items] = await datastore.runQuery(datastore.createQuery('Item'));
    expect(items.filter((e) => e.visits === 1)).toHaveLength(10);
  });
});
