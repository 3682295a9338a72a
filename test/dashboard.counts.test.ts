// countTasks (the dashboard overview's counts): by state, unfinished by age, finished by retention, behind-by, from index-only queries, on both emulators.
import { expect, it } from 'vitest';
import { countTasks } from '../src/dashboard/counts.js';
import { Reader } from '../src/dashboard/reads.js';
import { inventory } from '../src/sweeper/inventory.js';
import { describeStorage } from './support/backends.js';
import { seedTasks, type TaskSpec } from './support/task-fixture.js';
import { DAY, HOUR, MINUTE as MIN } from './support/time.js';
import { useRuntime } from './support/runtime.js';

const setup = useRuntime();

describeStorage('dashboard countTasks', (ctx) => {
  it('counts by state, by age and by retention, and says what the sweeper is behind by', async () => {
    const rt = await setup(ctx());
    const now = Date.now();
    const specs: TaskSpec[] = [
      { id: 'p-30m', created: now - 30 * MIN },
      { id: 'p-2h', created: now - 2 * HOUR },
      { id: 'p-3d', created: now - 3 * DAY },
      { id: 'p-10d', created: now - 10 * DAY },
      { id: 'r-5m', state: 'running', created: now - 5 * MIN, leaseUntil: now + 10 * MIN },
      // retained: finished 1 h ago, kept 1 day
      { id: 'd-kept', state: 'done', created: now - 2 * HOUR, finishedAt: now - HOUR, retentionMs: DAY },
      // due 30 min ago
      { id: 'd-due', state: 'done', created: now - 3 * HOUR, finishedAt: now - 2 * HOUR, retentionMs: 90 * MIN },
      // due 5 h ago, and 2 days ago
      { id: 'f-5h', state: 'failed', created: now - 7 * HOUR, finishedAt: now - 6 * HOUR, retentionMs: HOUR },
      { id: 'f-2d', state: 'failed', created: now - 4 * DAY, finishedAt: now - 3 * DAY, retentionMs: DAY },
      // past its hard age limit
      { id: 'p-expired', created: now - 40 * DAY, expireAt: now - DAY, chunks: 2 },
    ];
    await seedTasks(ctx().datastore, rt.client, rt.queue, specs, { now, shards: 4 });
    const counts = await countTasks(new Reader(ctx().datastore, ctx().namespace), { nowMs: now, shards: 4 });

    expect(counts.total).toBe(10);
    expect(counts.byState).toEqual({ pending: 5, running: 1, done: 2, failed: 2, retried: 0 });
    expect(counts.unfinished.total).toBe(6);
    expect(counts.unfinished.byAge).toEqual({ '< 1h': 2, '1h - 1d': 1, '1d - 7d': 1, '>= 7d': 2 });
    expect(counts.finished.total).toBe(4);
    expect(counts.finished.byAge).toEqual({ retained: 1, 'due < 1h': 1, 'due 1h - 1d': 1, 'due >= 1d': 1 });
    expect(counts.expired).toBe(1);
    expect(counts.chunks).toBe(2);
    // The oldest reclaimable entity: f-2d, due since 2 days (p-expired is past its expireAt since 1 day).
    expect(counts.behindByMs).toBe(2 * DAY);
    expect(counts.oldestReclaimable).toBe(new Date(now - 2 * DAY).toISOString());
    expect(counts.shards).toBe(4);

    // The same totals as `deferred stats` (which reads every key).
    const stats = await inventory(ctx().datastore, { nowMs: now });
    const sum = (state: string) => Object.values(stats.tasks[state] ?? {}).reduce((a, b) => a + b, 0);
    for (const state of ['pending', 'running', 'done', 'failed']) expect(counts.byState[state]).toBe(sum(state));
    expect(counts.expired).toBe(stats.expiredTasks);
  });

  it('costs the same number of queries for 10 entities as for 600: counts, not reads of each entity', async () => {
    const rt = await setup(ctx());
    const now = Date.now();
    const spec = (n: number, prefix: string): TaskSpec[] =>
      Array.from({ length: n }, (_, i) => ({ id: `${prefix}-${i}`, created: now - 2 * HOUR }));
    await seedTasks(ctx().datastore, rt.client, rt.queue, spec(10, 'a'), { now, shards: 4 });
    const small = await countTasks(new Reader(ctx().datastore, ctx().namespace), { nowMs: now, shards: 4 });
    await seedTasks(ctx().datastore, rt.client, rt.queue, spec(590, 'b'), { now, shards: 4 });
    const large = await countTasks(new Reader(ctx().datastore, ctx().namespace), { nowMs: now, shards: 4 });
    expect(large.byState.pending).toBe(600);
    expect(large.unfinished.byAge['1h - 1d']).toBe(600);
    expect(large.cost.queries).toBe(small.cost.queries);
  });

  it('an empty namespace: zeros, up to date', async () => {
    const counts = await countTasks(new Reader(ctx().datastore, ctx().namespace), { nowMs: Date.now(), shards: 16 });
    expect(counts).toMatchObject({ total: 0, behindByMs: 0, oldestReclaimable: null, expired: 0, chunks: 0 });
    expect(counts.byState).toEqual({ pending: 0, running: 0, done: 0, failed: 0, retried: 0 });
  });
});
