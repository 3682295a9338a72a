// Distributed sweep on both emulators: the sweep endpoint fans out one named task per shard, shard tasks continue from their cursors, a run record adds them up.
import { expect, it } from 'vitest';
import { sign } from '../src/codec/index.js';
import { SWEEP_RUN_KIND } from '../src/store/schema.js';
import { silentLogger } from '../src/core/logger.js';
import { installSweeper, runIdFor, segmentTaskId, type FanOutResult } from '../src/sweeper/index.js';
import type { SweepFinishedEvent } from '../src/types.js';
import { describeStorage } from './support/backends.js';
import { SECRET, useRuntime, type RuntimeFixture } from './support/runtime.js';
import { remainingIds, seedTasks, type TaskSpec } from './support/task-fixture.js';
import { MINUTE, DAY } from './support/time.js';

const setup = useRuntime();

/** Runs every due task, including the continuations and children they create, until the queue is empty. */
async function drain(rt: RuntimeFixture): Promise<void> {
  for (let i = 0; i < 100; i++) {
    await rt.advance();
    if ((await rt.listTasks()).length === 0) return;
  }
  throw new Error(`queue did not drain: ${(await rt.listTasks()).join(', ')}`);
}

async function postSweep(rt: RuntimeFixture, headers: Record<string, string> = {}, signed = true) {
  const body = Buffer.from('{}');
  return rt.post('/_deferred/sweep', {
    body,
    headers: {
      'content-type': 'application/json',
      ...(signed ? { 'x-deferred-signature': sign(body, SECRET, 'sweep') } : {}),
      ...headers,
    },
  });
}

function specs(): TaskSpec[] {
  return [
    ...Array.from({ length: 30 }, (_, i) => ({ id: `done${i}`, state: 'done' as const, finishedAt: 0, chunks: i % 3 })),
    ...Array.from({ length: 10 }, (_, i) => ({ id: `leak${i}`, cloudTask: 'absent' as const })),
    ...Array.from({ length: 5 }, (_, i) => ({ id: `outbox${i}`, transactional: true, cloudTask: 'absent' as const })),
    ...Array.from({ length: 5 }, (_, i) => ({ id: `live${i}`, cloudTask: 'queued' as const })),
  ];
}

describeStorage('installSweeper (distributed mode)', (ctx) => {
  it('a signed sweep request fans out one task per shard; a doubled request joins the same run; the run adds up', async () => {
    const rt = await setup(ctx());
    const sweeper = installSweeper(rt.deferred, { shards: 4, olderThanMs: 0, graceMs: 10 * MINUTE, log: silentLogger });
    const finished: SweepFinishedEvent[] = [];
    rt.deferred.on('sweepFinished', (event) => finished.push(event));
    const now = rt.clock.now();
    const keys = await seedTasks(ctx().datastore, rt.client, `seed-${rt.queue}`, specs(), { now, shards: 4 });

    // Paused until drain(): a shard task dispatched between two listings would make them disagree.
    const parent = rt.queuePath.slice(0, rt.queuePath.lastIndexOf('/queues/'));
    await rt.client.createQueue({ parent, queue: { name: rt.queuePath } });
    await rt.client.pauseQueue({ name: rt.queuePath });
    const first = await postSweep(rt);
    expect(first.status).toBe(200);
    const runId = runIdFor(now, 15 * MINUTE);
    const namespaces = [{ namespace: ctx().namespace, shards: 4 }];
    expect(first.body.result).toEqual({ runId, shards: 4, namespaces, created: 4, existing: 0 } satisfies FanOutResult);
    const queued = await rt.listTasks();
    expect(queued.map((name) => name.split('/').pop()).sort()).toEqual(
      [0, 1, 2, 3].map((s) => segmentTaskId(runId, s, 0)).sort(),
    );
    const again = await postSweep(rt);
    expect(again.body.result).toEqual({ runId, shards: 4, namespaces, created: 0, existing: 4 });
    expect(await rt.listTasks()).toHaveLength(4);

    await rt.client.resumeQueue({ name: rt.queuePath });
    await drain(rt);
    const run = await sweeper.readRun(runId);
    expect(run).toMatchObject({ runId, status: 'done', shards: 4, shardsDone: ['0', '1', '2', '3'] });
    expect(run!.totals).toMatchObject({ scanned: 50, redriven: 5, kept: 5, errors: 0 });
    expect(run!.totals.deleted).toMatchObject({ done: 30, leaked: 10 });
    expect(run!.expireAt.getTime()).toBeGreaterThan(now + 6 * DAY);
    // One sweepFinished event, for metrics, with the run's totals.
    expect(finished).toEqual([{ runId, shards: 4, stats: run!.totals, elapsedMs: expect.any(Number) }]);
    const left = await remainingIds(ctx().datastore, keys);
    expect([...left].sort()).toEqual(
      [
        ...specs()
          .filter((s) => /^(outbox|live)/.test(s.id))
          .map((s) => s.id),
      ].sort(),
    );
  });

  it('with a small budget, shard tasks re-enqueue themselves under deterministic names and reach the same end state', async () => {
    const rt = await setup(ctx());
    const sweeper = installSweeper(rt.deferred, {
      shards: 2,
      olderThanMs: 0,
      graceMs: 10 * MINUTE,
      budget: 0,
      pageSize: 1, // pages of 5 keys
      log: silentLogger,
    });
    const now = rt.clock.now();
    const keys = await seedTasks(ctx().datastore, rt.client, `seed-${rt.queue}`, specs(), { now, shards: 2 });
    const { runId } = await sweeper.fanOut(now);
    await drain(rt);
    const run = await sweeper.readRun(runId);
    expect(run).toMatchObject({ status: 'done', shardsDone: ['0', '1'] });
    expect(Object.keys(run!.segments).length).toBeGreaterThan(6);
    expect(run!.totals).toMatchObject({ scanned: 50, redriven: 5, errors: 0 });
    expect(run!.totals.deleted).toMatchObject({ done: 30, leaked: 10 });
    expect((await remainingIds(ctx().datastore, keys)).size).toBe(10);
  });

  it('refuses an unauthenticated sweep request and starts nothing', async () => {
    const rt = await setup(ctx());
    installSweeper(rt.deferred, { shards: 2, log: silentLogger });
    const response = await postSweep(rt, {}, false);
    expect(response.status).toBe(403);
    expect(await rt.listTasks()).toEqual([]);
    const [runs] = await ctx().datastore.runQuery(ctx().datastore.createQuery(SWEEP_RUN_KIND));
    expect(runs).toEqual([]);
  });

  it("on App Engine, cron's X-Appengine-Cron header is enough", async () => {
    const rt = await setup(ctx(), { trustAppEngineHeaders: true });
    installSweeper(rt.deferred, { shards: 2, log: silentLogger });
    const response = await postSweep(rt, { 'x-appengine-cron': 'true' }, false);
    expect(response.status).toBe(200);
    expect(response.body.result).toMatchObject({ created: 2 });
  });

  it('run records expire: the sweep deletes old ones by age', async () => {
    const rt = await setup(ctx());
    const sweeper = installSweeper(rt.deferred, { shards: 1, runRetention: '1h', log: silentLogger });
    const old = await sweeper.fanOut(rt.clock.now() - 2 * 60 * MINUTE);
    await drain(rt);
    expect(await sweeper.readRun(old.runId)).toBeDefined();
    await rt.advance(2 * 60 * MINUTE);
    const fresh = await sweeper.fanOut();
    await drain(rt);
    expect(await sweeper.readRun(old.runId)).toBeUndefined();
    expect(await sweeper.readRun(fresh.runId)).toMatchObject({ status: 'done' });
  });
});
