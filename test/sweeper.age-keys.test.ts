// Acceptance tests of the sweep's keys scan on both Datastore emulators: done entities go from their age keys alone, unread; everything else is read and judged whole, and no chunk is left behind.
import type { Datastore, Key } from '@google-cloud/datastore';
import type { CloudTasksClient } from '@google-cloud/tasks';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { silentLogger } from '../src/core/logger.js';
import { parseAgeKey } from '../src/store/schema.js';
import { completeTask } from '../src/store/state-machine.js';
import { sweep, sweepShard, type SweepOptions } from '../src/sweeper/index.js';
import { ManualClock, startTasksEmulator, type RunningTasksEmulator } from '../src/tasks-emulator/index.js';
import { clearNamespace, describeStorage } from './support/backends.js';
import { chunkCount, remainingIds, seedTasks, taskKey, type TaskSpec } from './support/task-fixture.js';
import { MINUTE, HOUR, DAY } from './support/time.js';

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

/** Counts the keys the sweep reads outside transactions (`datastore.get`), by entity name. */
function countReads(datastore: Datastore): Map<string, number> {
  const reads = new Map<string, number>();
  const get = datastore.get.bind(datastore) as (keys: Key | Key[]) => Promise<unknown>;
  (datastore as { get: unknown }).get = (keys: Key | Key[]) => {
    for (const key of [keys].flat()) reads.set(String(key.name), (reads.get(String(key.name)) ?? 0) + 1);
    return get(keys);
  };
  return reads;
}

describeStorage('sweep: the keys scan', (ctx) => {
  const queue = () => ctx().namespace;
  const options = (over: Partial<SweepOptions> = {}): SweepOptions => ({
    datastore: ctx().datastore,
    tasks,
    shards: 1,
    now: new Date(NOW),
    olderThanMs: 10 * MINUTE,
    graceMs: 10 * MINUTE,
    log: silentLogger,
    ...over,
  });
  const seed = (specs: TaskSpec[]) => seedTasks(ctx().datastore, tasks, queue(), specs, { now: NOW, shards: 1 });

  it('runs the runtime finished: done ones are keyed done and deleted unread; failed ones are read and go with their chunks', async () => {
    const { datastore } = ctx();
    const finishedAt = NOW - 2 * HOUR;
    const running = (id: string, chunks = 0): TaskSpec => ({
      id,
      state: 'running',
      attempts: 1,
      leaseUntil: finishedAt + MINUTE,
      retentionMs: HOUR,
      chunks,
    });
    const keys = await seed([running('ok-1', 2), running('ok-2'), running('bad-1', 3), running('ok-late')]);
    for (const id of ['ok-1', 'ok-2']) {
      expect(await completeTask(datastore, keys.get(id)!, 1, { kind: 'done' }, finishedAt)).toBe(true);
    }
    expect(await completeTask(datastore, keys.get('bad-1')!, 1, { kind: 'failed', error: 'no' }, finishedAt)).toBe(
      true,
    );
    expect(await completeTask(datastore, keys.get('ok-late')!, 1, { kind: 'done' }, NOW - 5 * MINUTE)).toBe(true);
    const [done] = (await datastore.get(keys.get('ok-1')!)) as [{ ageKey: string; chunks: number }];
    expect(parseAgeKey(done.ageKey)).toMatchObject({ finished: true, ms: finishedAt + HOUR });
    expect(parseAgeKey(done.ageKey)?.doneExpireAtMs).toBeGreaterThan(NOW);
    expect(done.chunks).toBe(0);
    expect(await chunkCount(datastore)).toBe(3); // the done run's chunks went with its completion; the failed run's stay

    const reads = countReads(datastore);
    const { stats } = await sweep(options());
    const read = [...reads.keys()];
    expect(await remainingIds(datastore, keys)).toEqual(new Set(['ok-late']));
    expect(await chunkCount(datastore)).toBe(0);
    expect(stats).toMatchObject({ scanned: 3, kept: 0, errors: 0 });
    expect(stats.deleted).toMatchObject({ done: 2, failed: 1 });
    expect(read).toEqual(['bad-1']);
  });

  it('a shard of every kind of entity: only what the table dooms goes, with its chunks, in pages of any size', async () => {
    const old = NOW - 2 * HOUR;
    const young = NOW - MINUTE;
    const fin = NOW - 5 * MINUTE;
    const base: TaskSpec[] = [
      // Unfinished, created before the cut-off: read and judged (leaked, kept with their Cloud Task, live lease).
      ...Array.from({ length: 4 }, (_, i) => ({
        id: `gone-${i}`,
        created: old,
        cloudTask: 'deleted' as const,
        chunks: i,
      })),
      ...Array.from({ length: 3 }, (_, i) => ({ id: `queued-${i}`, created: old, cloudTask: 'queued' as const })),
      { id: 'leased', created: old, state: 'running', attempts: 1, leaseUntil: NOW + MINUTE, cloudTask: 'absent' },
      { id: 'future', created: old, eta: NOW + DAY, cloudTask: 'absent', chunks: 2 },
      // Unfinished, younger than the cut-off: not looked at, even with their Cloud Task gone.
      ...Array.from({ length: 12 }, (_, i) => ({ id: `young-${i}`, created: young, cloudTask: 'deleted' as const })),
      // Done as the runtime keys them: due, not due, past expireAt.
      ...Array.from({ length: 8 }, (_, i) => ({
        id: `done-${i}`,
        state: 'done' as const,
        finishedAt: fin,
        retentionMs: MINUTE,
      })),
      { id: 'done-kept', state: 'done', finishedAt: fin, retentionMs: DAY },
      { id: 'done-expired', state: 'done', finishedAt: fin, retentionMs: DAY, expireAt: NOW - MINUTE },
      // Read whole: failed (with chunks), done as the previous release keyed it (with chunks), by creation.
      { id: 'failed-due', state: 'failed', attempts: 3, finishedAt: fin, retentionMs: MINUTE, chunks: 2 },
      { id: 'failed-kept', state: 'failed', attempts: 3, finishedAt: fin, retentionMs: DAY, chunks: 1 },
      { id: 'plain-done', state: 'done', finishedAt: fin, retentionMs: MINUTE, chunks: 3 },
      { id: 'plain-done-0', state: 'done', finishedAt: fin, retentionMs: MINUTE, plainFinishedKey: true },
      { id: 'legacy-done', state: 'done', created: old, finishedAt: fin, retentionMs: MINUTE, legacyAgeKey: true },
    ];
    const keptIds = [
      ...base.filter((s) => s.id.startsWith('queued-') || s.id.startsWith('young-')).map((s) => s.id),
      'leased',
      'future',
      'done-kept',
      'failed-kept',
    ];
    for (const pageSize of [1, 2, 100]) {
      // Names of their own per round: Cloud Tasks keeps a deleted task's name reserved.
      const specs = base.map((s) => ({ ...s, id: `${s.id}_${pageSize}` }));
      const kept = new Set(keptIds.map((id) => `${id}_${pageSize}`));
      await seed(specs);
      const { datastore } = ctx();
      const keys = new Map(specs.map((s) => [s.id, taskKey(datastore, s)]));
      const reads = countReads(datastore);
      const { stats } = await sweep(options({ pageSize }));
      const read = [...reads.keys()];
      expect(await remainingIds(datastore, keys), `pageSize ${pageSize}`).toEqual(kept);
      expect(await chunkCount(datastore)).toBe(3); // future's 2, failed-kept's 1
      expect(stats.deleted).toMatchObject({ done: 11, expired: 1, failed: 1, leaked: 4 });
      // Not looked at: the young ones, and the finished ones still retained (out of range).
      expect(stats).toMatchObject({ scanned: specs.length - 12 - 2, errors: 0 });
      expect(read.filter((id) => /^(young|done)-\d/.test(id))).toEqual([]);
      await clearNamespace(datastore, ctx().namespace); // the next page size starts afresh
    }
  });

  it('a failed record retried after the sweep read it, before the delete: kept by the guard', async () => {
    const { datastore } = ctx();
    const keys = await seed([
      { id: 'replayed', state: 'failed', attempts: 3, finishedAt: NOW - HOUR, retentionMs: MINUTE, chunks: 2 },
    ]);
    const key = keys.get('replayed')!;
    const get = datastore.get.bind(datastore) as (keys: Key[]) => Promise<[Record<string, unknown>[]]>;
    (datastore as { get: unknown }).get = async (read: Key[]) => {
      const found = await get(read);
      // The failure ledger replays it meanwhile: `retried`, its retention running from now.
      const [record] = await get([key]);
      await datastore.save({
        key,
        data: { ...record[0], state: 'retried', retriedAt: new Date(NOW) },
        excludeFromIndexes: ['cloudTaskRequest', 'payload'],
      });
      return found;
    };
    const { stats } = await sweep(options());
    (datastore as { get: unknown }).get = get;
    expect(await remainingIds(datastore, keys)).toEqual(new Set(['replayed']));
    expect(await chunkCount(datastore)).toBe(2);
    expect(stats).toMatchObject({ scanned: 1, errors: 0, keptBy: { changed: 1 } });
    expect(stats.deleted.failed).toBe(0);
  });

  it('sweepShard continues a keys scan from its cursor after each page, past young keys, to the full result', async () => {
    const specs: TaskSpec[] = [
      ...Array.from({ length: 7 }, (_, i) => ({
        id: `young-${i}`,
        created: NOW - MINUTE,
        cloudTask: 'deleted' as const,
      })),
      ...Array.from({ length: 9 }, (_, i) => ({
        id: `done-${i}`,
        state: 'done' as const,
        finishedAt: NOW - HOUR,
        retentionMs: MINUTE,
      })),
      ...Array.from({ length: 4 }, (_, i) => ({
        id: `gone-${i}`,
        created: NOW - HOUR,
        cloudTask: 'deleted' as const,
        chunks: 1,
      })),
    ];
    const keys = await seed(specs);
    let cursor: string | null = null;
    let segments = 0;
    let deleted = 0;
    do {
      const result = await sweepShard({ ...options({ pageSize: 1 }), shard: 0, cursor, budgetMs: 0 });
      cursor = result.cursor;
      deleted += result.stats.deleted.done + result.stats.deleted.leaked;
      segments++;
    } while (cursor && segments < 50);
    expect(segments).toBeGreaterThan(2); // key pages of 5: stops after the first, among the young keys
    expect(deleted).toBe(13);
    expect(await remainingIds(ctx().datastore, keys)).toEqual(
      new Set(specs.filter((s) => s.id.startsWith('young-')).map((s) => s.id)),
    );
    expect(await chunkCount(ctx().datastore)).toBe(0);
  });
});
