// deferMany against the real emulators: 1,000 tasks in batched commits run once each, names, partial failures that
// leave nothing behind and double nothing, refusals before any write, transactions and running parents.
import { randomBytes } from 'node:crypto';
import type { Datastore } from '@google-cloud/datastore';
import type { CloudTasksClient } from '@google-cloud/tasks';
import { describe, expect, it } from 'vitest';
import { currentTask } from '../src/core/run-context.js';
import { DeferManyError } from '../src/defer/defer-many.js';
import { NotSerializableError, TaskAlreadyExistsError } from '../src/errors/index.js';
import { CHUNK_KIND, TASK_KIND } from '../src/store/schema.js';
import type { DeferCall, Deferral } from '../src/types.js';
import { describeStorage, type StorageContext } from './support/backends.js';
import { errors } from './support/datastore-faults.js';
import { useRuntime, type RuntimeFixture } from './support/runtime.js';

async function entities(storage: StorageContext, kind: string): Promise<Record<string | symbol, unknown>[]> {
  const [found] = await storage.datastore.runQuery(storage.datastore.createQuery(kind));
  return found as Record<string | symbol, unknown>[];
}

/** Every Cloud Task in the queue (the emulator pages listTasks). */
async function queued(rt: RuntimeFixture): Promise<string[]> {
  const [tasks] = await rt.client.listTasks({ parent: rt.queuePath, pageSize: 1000 }, { autoPaginate: true });
  return tasks.map((t) => t.name!);
}

/** Counts the non-transactional commits (`save` calls) of a client and the mutations of each. */
function countSaves(datastore: Datastore): { readonly commits: number[]; fail?: (commit: number) => Error | null } {
  const counter: { commits: number[]; fail?: (commit: number) => Error | null } = { commits: [] };
  const save = datastore.save.bind(datastore) as (entities: unknown) => Promise<unknown>;
  (datastore as { save: unknown }).save = (entities: unknown) => {
    counter.commits.push(Array.isArray(entities) ? entities.length : 1);
    const error = counter.fail?.(counter.commits.length);
    return error ? Promise.reject(error) : save(entities);
  };
  return counter;
}

/** A Cloud Tasks client whose createTask fails (UNAVAILABLE) for the requests `fails` picks, and which counts calls in flight. */
function flakyTasks(client: CloudTasksClient, fails: (request: { task?: { name?: string | null } | null }) => boolean) {
  const stats = { inFlight: 0, maxInFlight: 0, calls: 0 };
  const proxy = new Proxy(client, {
    get(target, property, receiver) {
      if (property === 'createTask') {
        return async (request: { task?: { name?: string | null } | null }) => {
          stats.calls++;
          stats.inFlight++;
          stats.maxInFlight = Math.max(stats.maxInFlight, stats.inFlight);
          try {
            if (fails(request)) {
              await new Promise((resolve) => setTimeout(resolve, 5));
              throw Object.assign(new Error('14 UNAVAILABLE: injected'), { code: 14 });
            }
            return await target.createTask(request);
          } finally {
            stats.inFlight--;
          }
        };
      }
      const value = Reflect.get(target, property, receiver) as unknown;
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  }) as CloudTasksClient;
  return { proxy, stats };
}

/**
 * Advances the clock `stepMs` at a time until `done()`, with the queue paused meanwhile: its token bucket refills, and
 * on resuming it dispatches a full bucket (100) at once. Advancing a running queue would dispatch the same tasks at the
 * same rate but one at a time (a token every 2 ms, and the ManualClock waits for each dispatch before the next timer).
 */
async function drain(rt: RuntimeFixture, done: () => boolean, stepMs = 1000): Promise<void> {
  for (let i = 0; i < 60 && !done(); i++) {
    await rt.client.pauseQueue({ name: rt.queuePath });
    await rt.advance(stepMs);
    await rt.client.resumeQueue({ name: rt.queuePath });
    await rt.advance(0);
  }
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

describe('deferMany', () => {
  const setup = useRuntime();

  describeStorage('bulk', (ctx) => {
    it('1,000 tasks (600 entity-backed in 4 commits, 400 inline), at most 50 creates in flight, each run exactly once', async () => {
      const real = await setup(ctx());
      const { proxy, stats } = flakyTasks(real.client, () => false);
      const rt = await setup(ctx(), { tasks: proxy, queue: real.queue });
      const runs = new Map<string, number>();
      const work = rt.deferred.task('work', (id: string) => {
        runs.set(id, (runs.get(id) ?? 0) + 1);
      });
      const saves = countSaves(ctx().datastore);
      const calls: DeferCall<[string]>[] = Array.from({ length: 1000 }, (_, i) => ({
        task: work,
        args: [`w${i}`],
        options: { entityBacked: i % 5 < 3, delay: '1s' }, // not due before drain(): all still queued when listed
      }));
      const deferrals = await rt.deferred.deferMany(calls);
      // Batched, not one commit per task: the first commits small (their tasks are created while the next ones are
      // written), then doubling up to Datastore's 500 mutations.
      expect(saves.commits).toEqual([50, 100, 200, 250]);
      expect(stats.calls).toBe(1000);
      expect(stats.maxInFlight).toBeLessThanOrEqual(50);
      expect(stats.maxInFlight).toBeGreaterThan(10);
      expect(deferrals).toHaveLength(1000);
      deferrals.forEach((deferral, i) => {
        expect(deferral.status).toBe('enqueued');
        expect(deferral.entityKey === null).toBe(i % 5 >= 3);
      });
      const pending = await entities(ctx(), TASK_KIND);
      expect(pending).toHaveLength(600);
      expect(new Set(pending.map((e) => e.cloudTaskName))).toEqual(
        new Set(deferrals.filter((d) => d.entityKey).map((d) => d.cloudTaskName)),
      );
      expect(await queued(real)).toHaveLength(1000);

      await drain(rt, () => runs.size === 1000);
      expect(runs.size).toBe(1000);
      expect([...runs.values()].every((n) => n === 1)).toBe(true);
      await rt.advance(1000);
      expect(await queued(real)).toEqual([]);
      const done = await entities(ctx(), TASK_KIND);
      expect(done.every((e) => e.state === 'done')).toBe(true);
    }, 180_000);

    it('handle.deferMany with .with(options): 300 entity-backed runs in 3 commits', async () => {
      const rt = await setup(ctx());
      const seen: number[] = [];
      const count = rt.deferred.task('count', (n: number) => {
        seen.push(n);
      });
      const saves = countSaves(ctx().datastore);
      const deferrals = await count.with({ entityBacked: true, delay: '1m' }).deferMany(
        Array.from({ length: 300 }, (_, n) => [n] as [number]),
        { concurrency: 8 },
      );
      expect(saves.commits).toEqual([50, 100, 150]);
      expect(deferrals.map((d) => d.eta.getTime())).toEqual(Array(300).fill(rt.clock.now() + 60_000));
      await rt.advance();
      expect(seen).toEqual([]); // not due yet
      await drain(rt, () => seen.length === 300, 60_000);
      expect(seen.sort((a, b) => a - b)).toEqual(Array.from({ length: 300 }, (_, n) => n));
    });

    it('a spilled payload too big for one commit is written on its own (chunks first commit with its entity), between batched ones', async () => {
      const rt = await setup(ctx());
      const sizes: number[] = [];
      const ingest = rt.deferred.task('ingest', (data: Buffer) => {
        sizes.push(data.length);
      });
      const saves = countSaves(ctx().datastore);
      const big = randomBytes(4 * 1024 * 1024); // incompressible: 5 chunks, over one commit's 3 MiB
      const deferrals = await ingest
        .with({ entityBacked: true })
        .deferMany([[Buffer.from('a')], [Buffer.from('bb')], [big], [Buffer.from('ccc')]]);
      // [a, bb]; the big one over two commits (its entity and 3 chunks, then 2 chunks); [ccc]; two in flight at once.
      expect(saves.commits.sort()).toEqual([1, 2, 2, 4]);
      expect(deferrals.every((d) => d.status === 'enqueued')).toBe(true);
      expect(await entities(ctx(), CHUNK_KIND)).toHaveLength(5);
      await rt.advance();
      expect(sizes.sort((a, b) => a - b)).toEqual([1, 2, 3, big.length]);
    });

    it('names given per call are the Cloud Task ids; deferring them again with ifExists ignore doubles nothing', async () => {
      const rt = await setup(ctx());
      const runs = new Map<string, number>();
      const work = rt.deferred.task('work', (id: string) => {
        runs.set(id, (runs.get(id) ?? 0) + 1);
      });
      const calls = (ifExists: 'throw' | 'ignore') =>
        Array.from({ length: 120 }, (_, i) => ({
          task: work,
          args: [`n${i}`] as [string],
          options: { name: `order-${i}`, entityBacked: i % 2 === 0, ifExists },
        }));
      const first = await rt.deferred.deferMany(calls('throw'));
      first.forEach((d, i) => expect(d.cloudTaskName).toBe(`${rt.queuePath}/tasks/order-${i}`));
      const again = await rt.deferred.deferMany(calls('ignore'));
      expect(again.map((d) => d.status)).toEqual(Array(120).fill('existing'));
      expect(again.every((d) => d.entityKey === null)).toBe(true);
      expect(await entities(ctx(), TASK_KIND)).toHaveLength(60); // the second round's entities were deleted
      await drain(rt, () => runs.size === 120);
      expect(runs.size).toBe(120);
      expect([...runs.values()].every((n) => n === 1)).toBe(true);
    });

    it('names taken (ifExists throw): exactly those calls fail, their entities are deleted, the others run once', async () => {
      const rt = await setup(ctx());
      const runs = new Map<string, number>();
      const work = rt.deferred.task('work', (id: string) => {
        runs.set(id, (runs.get(id) ?? 0) + 1);
      });
      const taken = [3, 17, 18, 150];
      for (const i of taken) await work.with({ name: `job-${i}` }).defer(`earlier-${i}`);
      const error = await rejection(
        rt.deferred.deferMany(
          Array.from({ length: 200 }, (_, i) => ({
            task: work,
            args: [`j${i}`] as [string],
            options: { name: `job-${i}`, entityBacked: i % 2 === 1 },
          })),
        ),
      );
      expect(error).toBeInstanceOf(DeferManyError);
      const many = error as DeferManyError;
      expect(many.code).toBe('DEFER_MANY_FAILED');
      expect(many.failed).toEqual(taken);
      expect(many.message).toMatch(/^deferMany: 4 of 200 calls failed \(calls\[3\]: TaskAlreadyExistsError/);
      for (const result of many.results) {
        if (taken.includes(result.index)) {
          expect(result.status).toBe('rejected');
          expect((result as { error: unknown }).error).toBeInstanceOf(TaskAlreadyExistsError);
        } else {
          expect(result.status).toBe('fulfilled');
          expect((result as { deferral: Deferral }).deferral.cloudTaskName).toBe(
            `${rt.queuePath}/tasks/job-${result.index}`,
          );
        }
      }
      // The odd calls are entity-backed: the entities of taken names (3 and 17) are gone, the others stay.
      expect(await entities(ctx(), TASK_KIND)).toHaveLength(100 - taken.filter((i) => i % 2 === 1).length);
      await drain(rt, () => runs.size === 200);
      expect(runs.size).toBe(200);
      expect([...runs.values()].every((n) => n === 1)).toBe(true);
      for (const i of taken) expect(runs.has(`earlier-${i}`) && !runs.has(`j${i}`)).toBe(true);
    });

    it('createTask failing for some calls: exactly those fail, none of their entities stays, retrying them with the same names runs each once', async () => {
      const real = await setup(ctx());
      const failing = new Set(['t-5', 't-6', 't-250', 't-499']);
      let failNow = true;
      const { proxy } = flakyTasks(real.client, (request) => {
        const id = request.task?.name?.split('/').pop() ?? '';
        return failNow && failing.has(id);
      });
      const rt = await setup(ctx(), { tasks: proxy, queue: real.queue });
      const runs = new Map<string, number>();
      const work = rt.deferred.task('work', (id: string) => {
        runs.set(id, (runs.get(id) ?? 0) + 1);
      });
      const calls = Array.from({ length: 500 }, (_, i) => ({
        task: work,
        args: [`t${i}`] as [string],
        options: { name: `t-${i}`, entityBacked: i % 4 !== 0, delay: '1s' },
      }));
      const error = (await rejection(rt.deferred.deferMany(calls))) as DeferManyError;
      expect(error).toBeInstanceOf(DeferManyError);
      expect(error.failed).toEqual([5, 6, 250, 499]);
      const failedEntityBacked = error.failed.filter((i) => i % 4 !== 0).length;
      expect(await entities(ctx(), TASK_KIND)).toHaveLength(375 - failedEntityBacked);
      expect(await queued(real)).toHaveLength(496);

      failNow = false;
      const retried = await rt.deferred.deferMany(error.failed.map((i) => calls[i]!));
      expect(retried.map((d) => d.status)).toEqual(['enqueued', 'enqueued', 'enqueued', 'enqueued']);
      await drain(rt, () => runs.size === 500);
      expect(runs.size).toBe(500);
      expect([...runs.values()].every((n) => n === 1)).toBe(true);
    });

    it('a failed commit: none of its tasks is created and none of its entities stays; the other commits are unaffected', async () => {
      const rt = await setup(ctx());
      const runs = new Map<string, number>();
      const work = rt.deferred.task('work', (id: string) => {
        runs.set(id, (runs.get(id) ?? 0) + 1);
      });
      const saves = countSaves(ctx().datastore);
      saves.fail = (commit) => (commit === 2 ? errors.unavailable() : null); // calls 50-149
      const calls = Array.from({ length: 200 }, (_, i) => ({
        task: work,
        args: [`c${i}`] as [string],
        options: { name: `c-${i}`, entityBacked: true, delay: '1s' },
      }));
      const error = (await rejection(rt.deferred.deferMany(calls))) as DeferManyError;
      expect(saves.commits).toEqual([50, 100, 50]);
      expect(error.failed).toEqual(Array.from({ length: 100 }, (_, i) => 50 + i));
      expect(await entities(ctx(), TASK_KIND)).toHaveLength(100);
      expect(await queued(rt)).toHaveLength(100);

      saves.fail = undefined;
      await rt.deferred.deferMany(error.failed.map((i) => calls[i]!));
      await drain(rt, () => runs.size === 200);
      expect(runs.size).toBe(200);
      expect([...runs.values()].every((n) => n === 1)).toBe(true);
    });

    it('a bad argument in calls[7] rejects naming it, and nothing is written or created', async () => {
      const rt = await setup(ctx());
      const work = rt.deferred.task('work', (_id: string, _extra?: unknown) => undefined);
      const saves = countSaves(ctx().datastore);
      const calls: DeferCall<[string, unknown?]>[] = Array.from({ length: 20 }, (_, i) => ({
        task: work,
        args: [`b${i}`],
        options: { entityBacked: i % 2 === 0 },
      }));
      calls[7] = { task: work, args: ['b7', Symbol('no')] };
      const error = await rejection(rt.deferred.deferMany(calls));
      expect(error).toBeInstanceOf(NotSerializableError);
      expect((error as Error).message).toMatch(/^deferMany: calls\[7\] \(of 20\) was refused, so nothing was deferred/);
      expect(saves.commits).toEqual([]);
      expect(await entities(ctx(), TASK_KIND)).toEqual([]);
      expect(await queued(rt)).toEqual([]);
    });

    it('in a transaction, every call is held in it and created after the commit; a rollback leaves nothing', async () => {
      const rt = await setup(ctx());
      const runs: string[] = [];
      const ship = rt.deferred.task('ship', (id: string) => {
        runs.push(id);
      });
      const held = await rt.deferred.transaction(async (tx) => {
        tx.save({ key: ctx().datastore.key(['Order', 'o1']), data: { status: 'paid' } });
        return ship.with({ transaction: tx }).deferMany([['a'], ['b'], ['c']]);
      });
      expect(held.map((d) => d.status)).toEqual(['enqueued', 'enqueued', 'enqueued']);
      expect(held.every((d) => d.entityKey?.parent?.name === 'o1')).toBe(true);
      await expect(
        rt.deferred.transaction(async (tx) => {
          await ship.with({ transaction: tx }).deferMany([['x'], ['y']]);
          throw new Error('not paid');
        }),
      ).rejects.toThrow('not paid');
      await rt.advance();
      expect(runs.sort()).toEqual(['a', 'b', 'c']);
      expect((await entities(ctx(), TASK_KIND)).filter((e) => e.state !== 'done')).toEqual([]);
    });

    it('a committed transaction creates its held tasks as deferMany does: many in flight (at most 50), each once', async () => {
      const real = await setup(ctx());
      const { proxy, stats } = flakyTasks(real.client, () => false);
      const rt = await setup(ctx(), { tasks: proxy, queue: real.queue });
      const runs = new Map<string, number>();
      const ship = rt.deferred.task('ship', (id: string) => {
        runs.set(id, (runs.get(id) ?? 0) + 1);
      });
      const ids = Array.from({ length: 120 }, (_, i) => `o${i}`);
      const held = await rt.deferred.transaction(async (tx) => {
        tx.save({ key: ctx().datastore.key(['Order', 'bulk']), data: { status: 'paid' } });
        return ship.with({ transaction: tx }).deferMany(ids.map((id) => [id]));
      });
      expect(held.map((d) => d.status)).toEqual(ids.map(() => 'enqueued'));
      expect(stats.calls).toBe(120);
      expect(stats.maxInFlight).toBeLessThanOrEqual(50);
      expect(stats.maxInFlight).toBeGreaterThan(10); // not one after the other
      await drain(rt, () => runs.size === 120);
      expect([...runs.keys()].sort()).toEqual([...ids].sort());
      expect([...runs.values()].every((n) => n === 1)).toBe(true);
    });

    it('in a running task, the calls are held until it succeeds, named <parent>-1..n; a retried parent creates them once', async () => {
      const rt = await setup(ctx());
      const childRuns = new Map<string, number>();
      let attempts = 0;
      const child = rt.deferred.task('child', (n: number) => {
        childRuns.set(currentTask()!.cloudTaskName, (childRuns.get(currentTask()!.cloudTaskName) ?? 0) + 1);
        expect(n).toBeGreaterThanOrEqual(0);
      });
      const parent = rt.deferred.task('parent', async () => {
        attempts++;
        const info = currentTask()!;
        const deferrals = await child.with({ entityBacked: true }).deferMany([[0], [1], [2]]);
        expect(deferrals.map((d) => [d.status, d.cloudTaskName])).toEqual(
          [1, 2, 3].map((n) => ['held', `${info.cloudTaskName}-${n}`]),
        );
        if (attempts === 1) throw new Error('flaky');
      });
      const deferral = await parent.with({ name: 'parent-many' }).defer();
      await rt.advance();
      await rt.advance(60_000);
      expect(attempts).toBe(2);
      expect([...childRuns.keys()].sort()).toEqual([1, 2, 3].map((n) => `${deferral.cloudTaskName}-${n}`));
      expect([...childRuns.values()]).toEqual([1, 1, 1]);
    });

    it("a run's defer() children are created many at a time once it succeeds; one that fails retries the run, doubling none", async () => {
      const real = await setup(ctx());
      let failOnce = true;
      const { proxy, stats } = flakyTasks(real.client, (request) => {
        if (!failOnce || !request.task?.name?.endsWith('-7')) return false;
        failOnce = false;
        return true; // the 7th child's first create fails: the parent is retried
      });
      const rt = await setup(ctx(), { tasks: proxy, queue: real.queue });
      const childRuns = new Map<number, number>();
      let attempts = 0;
      const child = rt.deferred.task('child', (n: number) => {
        childRuns.set(n, (childRuns.get(n) ?? 0) + 1);
      });
      const parent = rt.deferred.task('parent', async () => {
        attempts++;
        for (let n = 0; n < 80; n++) await child.with({ entityBacked: n % 2 === 0 }).defer(n);
      });
      await parent.with({ name: 'fan-out' }).defer();
      stats.maxInFlight = 0;
      await drain(rt, () => childRuns.size === 80 && attempts === 2, 60_000);
      expect(attempts).toBe(2);
      expect(stats.maxInFlight).toBeGreaterThan(10); // not one after the other
      expect(stats.maxInFlight).toBeLessThanOrEqual(50);
      expect(childRuns.size).toBe(80);
      expect([...childRuns.values()].every((n) => n === 1)).toBe(true);
      await rt.advance(60_000);
      expect((await entities(ctx(), TASK_KIND)).filter((e) => e.state !== 'done')).toEqual([]);
    });
  });
});
