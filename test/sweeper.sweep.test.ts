// Acceptance tests of sweep() / sweepShard() on both Datastore emulators and the Cloud Tasks emulator: every row of the decision table.
import type { Key } from '@google-cloud/datastore';
import type { CloudTasksClient } from '@google-cloud/tasks';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { SWEEP_RUN_KIND } from '../src/store/schema.js';
import { silentLogger } from '../src/core/logger.js';
import { sweep, sweepShard, type SweepOptions } from '../src/sweeper/index.js';
import { ManualClock, startTasksEmulator, type RunningTasksEmulator } from '../src/tasks-emulator/index.js';
import { describeStorage } from './support/backends.js';
import {
  chunkCount,
  cloudTaskExists,
  remainingIds,
  seedTasks,
  taskKey,
  type TaskSpec,
} from './support/task-fixture.js';
import { MINUTE, DAY } from './support/time.js';

const NOW = Date.UTC(2026, 0, 10, 12);
let emulator: RunningTasksEmulator;
let tasks: CloudTasksClient;

beforeAll(async () => {
  emulator = await startTasksEmulator({ autoCreateQueues: true, clock: new ManualClock(NOW) });
  tasks = emulator.createClient();
});
afterAll(async () => {
  await tasks?.close();
  await emulator?.stop();
});

describeStorage('sweep: the decision table', (ctx) => {
  const queue = () => ctx().namespace;
  const options = (over: Partial<SweepOptions> = {}): SweepOptions => ({
    datastore: ctx().datastore,
    tasks,
    shards: 4,
    now: new Date(NOW),
    olderThanMs: 0,
    graceMs: 10 * MINUTE,
    log: silentLogger,
    ...over,
  });
  const seed = (specs: TaskSpec[]) => seedTasks(ctx().datastore, tasks, queue(), specs, { now: NOW, shards: 4 });

  it('done / failed past their retention: deleted with their chunks; within retention: kept, and not even read', async () => {
    const keys = await seed([
      { id: 'done-old', state: 'done', finishedAt: NOW - 5 * MINUTE, retentionMs: MINUTE, chunks: 3 },
      { id: 'failed-old', state: 'failed', attempts: 5, finishedAt: NOW - 5 * MINUTE, retentionMs: MINUTE, chunks: 2 },
      { id: 'done-young', state: 'done', finishedAt: NOW - 5 * MINUTE, retentionMs: 60 * MINUTE, chunks: 1 },
      { id: 'failed-young', state: 'failed', finishedAt: NOW - 5 * MINUTE, retentionMs: DAY },
    ]);
    const { stats } = await sweep(options());
    expect(await remainingIds(ctx().datastore, keys)).toEqual(new Set(['done-young', 'failed-young']));
    expect(await chunkCount(ctx().datastore)).toBe(1);
    // Finished entities are keyed by the end of their retention: the ones still retained are not read at all.
    expect(stats).toMatchObject({ scanned: 2, kept: 0, redriven: 0, errors: 0 });
    expect(stats.deleted).toMatchObject({ done: 1, failed: 1, leaked: 0, expired: 0 });
    // Once their retention ends, the next sweep reads and deletes them.
    const later = await sweep({ ...options(), now: new Date(NOW + DAY) });
    expect(later.stats).toMatchObject({ scanned: 2, kept: 0 });
    expect(await remainingIds(ctx().datastore, keys)).toEqual(new Set());
    expect(await chunkCount(ctx().datastore)).toBe(0);
  });

  it('finished entities written by earlier versions (age key = creation time) are still read and decided', async () => {
    const keys = await seed([
      { id: 'legacy-old', state: 'done', finishedAt: NOW - 5 * MINUTE, retentionMs: MINUTE, legacyAgeKey: true },
      { id: 'legacy-young', state: 'done', finishedAt: NOW - 5 * MINUTE, retentionMs: DAY, legacyAgeKey: true },
    ]);
    const { stats } = await sweep(options());
    expect(await remainingIds(ctx().datastore, keys)).toEqual(new Set(['legacy-young']));
    expect(stats).toMatchObject({ scanned: 2, kept: 1 });
  });

  it('a sweep that overrides retention reads every finished entity, so a shorter retention takes effect', async () => {
    const keys = await seed([
      { id: 'done-day', state: 'done', finishedAt: NOW - 5 * MINUTE, retentionMs: DAY },
      { id: 'failed-day', state: 'failed', finishedAt: NOW - 5 * MINUTE, retentionMs: DAY },
    ]);
    const { stats } = await sweep({ ...options(), retention: { doneMs: MINUTE } });
    expect(await remainingIds(ctx().datastore, keys)).toEqual(new Set(['failed-day']));
    expect(stats).toMatchObject({ scanned: 2, kept: 1 });
  });

  it('pending, never attempted, transactional, past ETA + grace, Cloud Task gone: re-driven and kept', async () => {
    const keys = await seed([
      { id: 'lost-enqueue', transactional: true, parent: ['Account', 'acme'], cloudTask: 'absent' },
      { id: 'enqueued', transactional: true, parent: ['Account', 'acme'], cloudTask: 'queued' },
    ]);
    const { stats } = await sweep(options());
    expect(stats).toMatchObject({ scanned: 2, redriven: 1, kept: 1, errors: 0 });
    expect(await remainingIds(ctx().datastore, keys)).toEqual(new Set(['lost-enqueue', 'enqueued']));
    expect(await cloudTaskExists(tasks, queue(), 'lost-enqueue')).toBe(true);
    // The next sweep finds the re-driven task queued and keeps the entity.
    const again = await sweep(options());
    expect(again.stats).toMatchObject({ scanned: 2, redriven: 0, kept: 2 });
  });

  it('a re-drive answered ALREADY_EXISTS (the task existed recently): kept, not counted as re-driven', async () => {
    const keys = await seed([{ id: 'recently-deleted', transactional: true, cloudTask: 'deleted' }]);
    const { stats } = await sweep(options());
    expect(stats).toMatchObject({ scanned: 1, redriven: 0, kept: 1, errors: 0 });
    expect(await remainingIds(ctx().datastore, keys)).toEqual(new Set(['recently-deleted']));
  });

  it('pending / running past ETA + grace whose Cloud Task is gone: deleted as leaked; with the task queued: kept', async () => {
    const keys = await seed([
      { id: 'pending-gone', cloudTask: 'deleted', chunks: 2 },
      { id: 'retried-gone', transactional: true, attempts: 3, cloudTask: 'absent' },
      { id: 'running-gone', state: 'running', attempts: 1, leaseUntil: NOW - MINUTE, cloudTask: 'deleted' },
      { id: 'pending-queued', attempts: 2, cloudTask: 'queued' },
      { id: 'running-queued', state: 'running', attempts: 1, leaseUntil: NOW - MINUTE, cloudTask: 'queued' },
    ]);
    const { stats } = await sweep(options());
    expect(await remainingIds(ctx().datastore, keys)).toEqual(new Set(['pending-queued', 'running-queued']));
    expect(await chunkCount(ctx().datastore)).toBe(0);
    expect(stats).toMatchObject({ scanned: 5, kept: 2, redriven: 0, errors: 0 });
    expect(stats.deleted.leaked).toBe(3);
  });

  it('unfinished before ETA + grace, or running under a live lease: kept even with the Cloud Task gone', async () => {
    const keys = await seed([
      { id: 'in-grace', created: NOW - 5 * MINUTE, cloudTask: 'absent' },
      { id: 'future-eta', eta: NOW + DAY, cloudTask: 'absent' },
      { id: 'leased', state: 'running', attempts: 1, leaseUntil: NOW + MINUTE, cloudTask: 'absent' },
    ]);
    const { stats } = await sweep(options());
    expect(await remainingIds(ctx().datastore, keys)).toEqual(new Set(['in-grace', 'future-eta', 'leased']));
    expect(stats).toMatchObject({ scanned: 3, kept: 3, errors: 0 });
  });

  it('past expireAt: deleted whatever the state and the Cloud Task, except under a live lease', async () => {
    const expired = NOW - MINUTE;
    const keys = await seed([
      { id: 'exp-pending-queued', expireAt: expired, cloudTask: 'queued', chunks: 1 },
      { id: 'exp-outbox', transactional: true, expireAt: expired, cloudTask: 'absent' },
      { id: 'exp-done-young', state: 'done', finishedAt: NOW, retentionMs: DAY, expireAt: expired },
      { id: 'exp-running-stale', state: 'running', attempts: 1, leaseUntil: NOW - MINUTE, expireAt: expired },
      { id: 'exp-running-leased', state: 'running', attempts: 1, leaseUntil: NOW + MINUTE, expireAt: expired },
    ]);
    const { stats } = await sweep(options());
    expect(await remainingIds(ctx().datastore, keys)).toEqual(new Set(['exp-running-leased']));
    expect(stats.deleted.expired).toBe(4);
    expect(stats).toMatchObject({ redriven: 0, kept: 1, errors: 0 });
    expect(await chunkCount(ctx().datastore)).toBe(0);
  });

  it('other underscore kinds past expireAt are swept by age; Firestore needs them configured', async () => {
    const { datastore, backend } = ctx();
    const rows = [
      { key: datastore.key(['_Status', 'old']), data: { expireAt: new Date(NOW - MINUTE) } },
      { key: datastore.key(['_Status', 'new']), data: { expireAt: new Date(NOW + MINUTE) } },
      { key: datastore.key([SWEEP_RUN_KIND, 'r1']), data: { expireAt: new Date(NOW - MINUTE) } },
      { key: datastore.key(['Status', 'public']), data: { expireAt: new Date(NOW - MINUTE) } },
    ];
    await datastore.save(rows);
    const present = async () => {
      const [found] = await datastore.get(rows.map((r) => r.key));
      return (found as Record<symbol, Key>[]).map((e) => `${e[datastore.KEY]!.kind}:${e[datastore.KEY]!.name}`).sort();
    };
    const first = await sweep(options());
    // The run record kind is always known; `_Status` only where __kind__ queries answer (the Datastore emulator).
    expect(await present()).toEqual(
      backend === 'datastore' ? ['Status:public', '_Status:new'] : ['Status:public', '_Status:new', '_Status:old'],
    );
    expect(first.stats.deleted.transientKind).toBe(backend === 'datastore' ? 2 : 1);
    await sweep(options({ kinds: ['_Status'] }));
    expect(await present()).toEqual(['Status:public', '_Status:new']);
  });

  it('a dry run changes nothing and reports what the real sweep then does', async () => {
    const { datastore } = ctx();
    const specs: TaskSpec[] = [
      { id: 'a', state: 'done', finishedAt: NOW - 5 * MINUTE, chunks: 2 },
      { id: 'b', transactional: true, cloudTask: 'absent' },
      { id: 'c', cloudTask: 'absent' },
      { id: 'd', cloudTask: 'queued' },
      { id: 'e', expireAt: NOW - 1 },
    ];
    const keys = await seed(specs);
    await datastore.save({ key: datastore.key([SWEEP_RUN_KIND, 'r']), data: { expireAt: new Date(NOW - 1) } });
    const dry = await sweep(options({ dryRun: true }));
    expect(await remainingIds(datastore, keys)).toEqual(new Set(['a', 'b', 'c', 'd', 'e']));
    expect(await chunkCount(datastore)).toBe(2);
    expect(await cloudTaskExists(tasks, queue(), 'b')).toBe(false);
    const [run] = await datastore.get(datastore.key([SWEEP_RUN_KIND, 'r']));
    expect(run).toBeDefined();
    const real = await sweep(options());
    expect(real.stats).toEqual(dry.stats);
    expect(await remainingIds(datastore, keys)).toEqual(new Set(['b', 'd']));
  });

  it('deletes in guarded batches across more than 25 entity groups, with chunked payloads', async () => {
    const specs: TaskSpec[] = Array.from({ length: 80 }, (_, i) => ({
      id: `g${i}`,
      state: 'done' as const,
      finishedAt: NOW - 5 * MINUTE,
      transactional: true,
      parent: ['Account', `acct-${i % 40}`] as [string, string],
      chunks: i % 3,
    }));
    const keys = await seed(specs);
    const { stats } = await sweep(options({ pageSize: 50 }));
    expect(stats.deleted.done).toBe(80);
    expect(stats.errors).toBe(0);
    expect((await remainingIds(ctx().datastore, keys)).size).toBe(0);
    expect(await chunkCount(ctx().datastore)).toBe(0);
  });

  it('two sweeps at once: guarded deletes (failed) are counted by the sweep that removed them; done deletes by each sweep that committed one', async () => {
    const finished = (state: 'done' | 'failed', i: number): TaskSpec => ({
      id: `${state}-${i}`,
      state,
      finishedAt: NOW - 5 * MINUTE,
      retentionMs: MINUTE,
    });
    const specs = Array.from({ length: 30 }, (_, i) => [finished('done', i), finished('failed', i)]).flat();
    const keys = await seed(specs);
    const [a, b] = await Promise.all([sweep(options()), sweep(options())]);
    const left = await remainingIds(ctx().datastore, keys);
    const failedLeft = [...left].filter((id) => id.startsWith('failed-')).length; // contention: left for the next sweep
    expect(a.stats.deleted.failed + b.stats.deleted.failed + failedLeft).toBe(30);
    // Done entities go in plain commits: each sweep counts the deletes it committed, which may overlap.
    const done = a.stats.deleted.done + b.stats.deleted.done;
    expect(done).toBeGreaterThanOrEqual(30);
    expect(done).toBeLessThanOrEqual(60);
    expect(a.stats.deleted.done).toBeLessThanOrEqual(30);
    expect(b.stats.deleted.done).toBeLessThanOrEqual(30);
    expect([...left].filter((id) => id.startsWith('done-'))).toEqual([]);
  });

  it('sweepShard with a budget of 0 stops after each page with a cursor; following it reaches the full sweep result', async () => {
    const specs: TaskSpec[] = Array.from({ length: 40 }, (_, i) => ({
      id: `p${i}`,
      state: i % 2 ? ('done' as const) : ('pending' as const),
      finishedAt: NOW - 5 * MINUTE,
      cloudTask: i % 4 === 0 ? ('queued' as const) : ('absent' as const),
    }));
    const keys = await seed(specs);
    let segments = 0;
    let deleted = 0;
    for (let shard = 0; shard < 4; shard++) {
      let cursor: string | null = null;
      do {
        const result = await sweepShard({ ...options({ pageSize: 1 }), shard, cursor, budgetMs: 0 });
        cursor = result.cursor;
        deleted += result.stats.deleted.done + result.stats.deleted.leaked;
        segments++;
      } while (cursor);
    }
    expect(segments).toBeGreaterThan(8);
    expect(deleted).toBe(30);
    expect(await remainingIds(ctx().datastore, keys)).toEqual(
      new Set(specs.filter((_, i) => i % 4 === 0).map((s) => s.id)),
    );
  });

  it('the guard keeps an entity whose task ran between the look-up and the delete', async () => {
    const { datastore } = ctx();
    const keys = await seed([
      { id: 'races', state: 'running', attempts: 1, leaseUntil: NOW - MINUTE, cloudTask: 'absent' },
      { id: 'leaks', state: 'running', attempts: 1, leaseUntil: NOW - MINUTE, cloudTask: 'absent' },
    ]);
    // A client whose look-up of "races" lets a redelivery take the entity over before answering NOT_FOUND.
    const racing = {
      getTask: async (request: { name?: string | null }) => {
        if (request.name?.endsWith('/races')) {
          const key = taskKey(datastore, { id: 'races' });
          const [entity] = await datastore.get(key);
          entity.state = 'running';
          entity.attempts = 2;
          entity.leaseUntil = new Date(NOW + 5 * MINUTE);
          await datastore.save({ key, data: entity, excludeFromIndexes: ['cloudTaskRequest', 'payload'] });
        }
        return tasks.getTask(request);
      },
      createTask: tasks.createTask.bind(tasks),
    } as unknown as CloudTasksClient;
    const { stats } = await sweep(options({ tasks: racing }));
    expect(await remainingIds(datastore, keys)).toEqual(new Set(['races']));
    expect(stats).toMatchObject({ scanned: 2, kept: 1, errors: 0 });
    expect(stats.deleted.leaked).toBe(1);
  });

  it('sweeps shards beyond the configured count when writers used more', async () => {
    const keys = await seedTasks(
      ctx().datastore,
      tasks,
      queue(),
      [{ id: 'x', state: 'done', finishedAt: NOW - 5 * MINUTE }],
      {
        now: NOW,
        shards: 64,
      },
    );
    const entity = (await ctx().datastore.get(keys.get('x')!))[0] as { shard: number };
    const { stats, shards } = await sweep(options({ shards: 1 }));
    expect(shards.length).toBe(Math.max(1, entity.shard + 1));
    expect(stats.deleted.done).toBe(1);
  });
});
