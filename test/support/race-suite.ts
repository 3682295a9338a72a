// The randomised race suite: seeded task lifecycles run, retry, fail and finish through the Cloud Tasks emulator while sweeps run concurrently; no live payload may be deleted and nothing reclaimable may be left.
import { PropertyFilter, type Datastore, type Key } from '@google-cloud/datastore';
import type { CloudTasksClient } from '@google-cloud/tasks';
import pLimit, { type LimitFunction } from 'p-limit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHUNK_KIND, TASK_KIND } from '../../src/store/schema.js';
import { addStats, emptyStats, sweep } from '../../src/sweeper/index.js';
import type { LogEntry, Logger } from '../../src/types.js';
import { startTasksEmulator, type RunningTasksEmulator } from '../../src/tasks-emulator/index.js';
import { describeStorage, type StorageContext } from './backends.js';
import { deliver, entityFor, plans, startWorker, type Ledger, type Plan } from './race-workload.js';
import { LOCATION, PROJECT, taskEntityData } from './task-fixture.js';

const WAVES = 5;
const SHARDS = 4;
/** Must exceed the time between writing an entity and creating its Cloud Task, on a loaded 2-core machine too. */
const GRACE_MS = 3_000;

/** Most time one seed's race may take on one emulator, from when its lane is free. */
const SEED_MS = 150_000;

/** Rejects with a message naming `what` when `work` takes longer than `ms`. */
function within<T>(ms: number, what: string, work: () => Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
  });
  return Promise.race([work(), late]).finally(() => clearTimeout(timer));
}

/**
 * Declares the race test once per seed on both emulators, with `perSeed` entities each. The seeds are concurrent
 * tests, but each emulator runs one race at a time (its lane), as when each seed was a file of its own: two races on
 * one emulator, beside the rest of the suite, slow it past every grace period.
 */
export function describeRace(seeds: readonly number[], perSeed: number): void {
  let emulator: RunningTasksEmulator;
  let tasks: CloudTasksClient;
  beforeAll(async () => {
    emulator = await startTasksEmulator();
    tasks = emulator.createClient();
  });
  afterAll(async () => {
    await tasks?.close();
    await emulator?.stop();
  });
  const lanes = new Map<string, LimitFunction>();
  const lane = (backend: string) => {
    let limit = lanes.get(backend);
    if (!limit) lanes.set(backend, (limit = pLimit(1)));
    return limit;
  };

  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

  async function count(datastore: Datastore, kind: string, state?: string): Promise<number> {
    let query = datastore.createQuery(kind).select('__key__');
    if (state) query = query.filter(new PropertyFilter('state', '=', state));
    const [rows] = await datastore.runQuery(query);
    return rows.length;
  }

  describe.concurrent.each(seeds)('seed %i', (seed) => describeSeed(seed));

  function describeSeed(seed: number): void {
    describeStorage('sweep races task execution', (ctx) => {
      it(
        `seed ${seed}, ${perSeed} entities: no live payload deleted, nothing reclaimable left`,
        async () => {
          await lane(ctx().backend)(() => within(SEED_MS, `seed ${seed} on ${ctx().backend}`, () => race(ctx())));
        },
        seeds.length * SEED_MS,
      );

      async function race({ datastore, namespace }: StorageContext): Promise<void> {
        const queuePath = `projects/${PROJECT}/locations/${LOCATION}/queues/race-${seed}-${namespace}`;
        await tasks.createQueue({
          parent: `projects/${PROJECT}/locations/${LOCATION}`,
          queue: {
            name: queuePath,
            retryConfig: { maxAttempts: 4, minBackoff: { nanos: 100_000_000 }, maxBackoff: { nanos: 300_000_000 } },
            rateLimits: { maxDispatchesPerSecond: 500, maxConcurrentDispatches: 20 },
          },
        });
        const workload = plans(seed, perSeed);
        const byId = new Map(workload.map((p) => [p.id, p]));
        const keyOf = (p: Plan): Key =>
          p.transactional
            ? datastore.key(['Account', `a${Number(p.id.split('-')[1]) % 50}`, TASK_KIND, p.id])
            : datastore.key([TASK_KIND, p.id]);
        const ledger: Ledger = { finished: new Set(), livePayloadDeleted: [], runs: 0 };
        const worker = await startWorker((id) => deliver(datastore, keyOf(byId.get(id)!), byId.get(id)!, ledger));

        // Two sweepers race each other and the workers until the workload is over.
        const swept = emptyStats();
        const deletedAsLeaked = new Set<string>();
        const log: Logger = {
          write: (entry: LogEntry) => {
            if (entry.event === 'deleted' && entry.reason === 'leaked')
              deletedAsLeaked.add(String(entry.key).split(':').pop()!);
          },
        };
        let stop = false;
        const sweeper = async () => {
          while (!stop) {
            const { stats } = await sweep({
              datastore,
              tasks,
              shards: SHARDS,
              graceMs: GRACE_MS,
              olderThanMs: 0,
              concurrency: 8,
              log,
            });
            addStats(swept, stats);
            await sleep(200);
          }
        };
        const sweepers = [sweeper(), sweeper()];

        try {
          const limit = pLimit(16);
          const url = worker.url;
          for (let wave = 0; wave < WAVES; wave++) {
            const batch = workload.slice((wave * perSeed) / WAVES, ((wave + 1) * perSeed) / WAVES);
            await Promise.all(
              batch.map((plan) =>
                limit(async () => {
                  // Like the runtime: write the entity (with its chunks), then create its Cloud Task.
                  const now = Date.now();
                  const key = keyOf(plan);
                  const entity = entityFor(plan, queuePath, url, SHARDS, now);
                  const rows = [{ key, data: taskEntityData(entity) }];
                  for (let i = 1; i <= plan.chunks; i++) {
                    rows.push({
                      key: datastore.key([...key.path, CHUNK_KIND, i]),
                      data: [{ name: 'data', value: Buffer.alloc(16), excludeFromIndexes: true }] as never,
                    });
                  }
                  await datastore.save(rows as never);
                  if (plan.lifecycle === 'lost-enqueue') return; // committed, but the process died before enqueueing
                  const request = JSON.parse(entity.cloudTaskRequest);
                  // An operator deletes this one before it is due, so it must not run first.
                  if (plan.lifecycle === 'operator-deleted')
                    request.task.scheduleTime = { seconds: Math.floor(now / 1000) + 600 };
                  await tasks.createTask(request).catch((error: { code?: number }) => {
                    // As the runtime's post-commit enqueue does: a sweep may have re-driven it first.
                    if (!(plan.transactional && error.code === 6)) throw error;
                  });
                  if (plan.lifecycle === 'operator-deleted') await tasks.deleteTask({ name: entity.cloudTaskName });
                }),
              ),
            );
            await sleep(100);
          }

          // The workload is over when no Cloud Task is left and no entity is unfinished.
          const deadline = Date.now() + 90_000;
          for (;;) {
            const [queued] = await tasks.listTasks({ parent: queuePath, pageSize: 1 }, { autoPaginate: false });
            const unfinished =
              (await count(datastore, TASK_KIND, 'pending')) + (await count(datastore, TASK_KIND, 'running'));
            if (queued.length === 0 && unfinished === 0) break;
            if (Date.now() > deadline)
              throw new Error(
                `workload did not settle: ${queued.length} tasks queued, ${unfinished} unfinished entities`,
              );
            await sleep(200);
          }
        } finally {
          stop = true;
          await Promise.all(sweepers);
          await worker.close();
        }

        // A last sweep past every retention: nothing reclaimable may be left.
        const last = await sweep({
          datastore,
          tasks,
          shards: SHARDS,
          graceMs: GRACE_MS,
          olderThanMs: 0,
          now: new Date(Date.now() + 60_000),
          log,
        });
        addStats(swept, last.stats);

        expect(ledger.livePayloadDeleted).toEqual([]);
        expect(await count(datastore, TASK_KIND)).toBe(0);
        expect(await count(datastore, CHUNK_KIND)).toBe(0);
        const expectFinished = workload.filter((p) =>
          ['ok', 'retry-then-ok', 'permanent', 'lost-enqueue'].includes(p.lifecycle),
        );
        expect(
          expectFinished
            .filter((p) => !ledger.finished.has(p.id))
            .map((p) => [p.id, p.lifecycle, p.transactional, deletedAsLeaked.has(p.id)]),
        ).toEqual([]);
        const mustLeak = workload.filter((p) => p.lifecycle === 'operator-deleted' || p.lifecycle === 'exhaust');
        expect(mustLeak.filter((p) => !deletedAsLeaked.has(p.id)).map((p) => [p.id, p.lifecycle])).toEqual([]);
        expect(swept.deleted.leaked).toBe(deletedAsLeaked.size);
        expect(swept.redriven).toBeGreaterThanOrEqual(workload.filter((p) => p.lifecycle === 'lost-enqueue').length);
        // Contention may fail a guarded delete during the race (left for the next sweep); the last sweep must be clean.
        expect(last.stats.errors).toBe(0);
      }
    });
  }
}
