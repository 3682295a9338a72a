// inspectTask / inventory on entities written by the real runtime: decoded arguments, Cloud Task status, sweep verdict, counts by state and age.
import type { Key } from '@google-cloud/datastore';
import { expect, it } from 'vitest';
import { inspectTask, inventory } from 'cloud-deferred/inspect';
import { describeStorage } from './support/backends.js';
import { useRuntime } from './support/runtime.js';

const setup = useRuntime();

describeStorage('inspectTask and inventory', (ctx) => {
  it('decodes the arguments of a pending entity-backed task and tells what the sweeper would do', async () => {
    const rt = await setup(ctx());
    const report = rt.deferred.task('report', (_since: Date, _totals: Map<string, bigint>, _raw: Buffer) => undefined, {
      entityBacked: true,
    });
    const args: [Date, Map<string, bigint>, Buffer] = [
      new Date(Date.UTC(2026, 0, 1)),
      new Map([['eur', 12n ** 20n]]),
      Buffer.from('raw'),
    ];
    const deferral = await report.with({ delay: '1h' }).defer(...args);
    const key = deferral.entityKey as Key;

    const pending = await inspectTask(ctx().datastore, rt.client, key, { nowMs: rt.clock.now() });
    expect(pending).toMatchObject({
      entity: { state: 'pending', task: 'report', attempts: 0, transactional: false },
      cloudTask: 'exists',
      verdict: 'keep (not-due)',
    });
    expect(pending!.payload).toMatchObject({ task: 'report', args });
    // Two hours later, with its Cloud Task gone, it is a leak.
    await rt.client.deleteTask({ name: deferral.cloudTaskName! });
    const leaked = await inspectTask(ctx().datastore, rt.client, key, { nowMs: rt.clock.now() + 2 * 3_600_000 });
    expect(leaked).toMatchObject({ cloudTask: 'gone', verdict: 'delete (leaked)' });

    const counts = await inventory(ctx().datastore, { nowMs: rt.clock.now() });
    expect(counts).toMatchObject({ totalTasks: 1, expiredTasks: 0, chunks: 0 });
    expect(counts.tasks.pending).toEqual({ '< 1h': 1, '1h - 1d': 0, '1d - 7d': 0, '>= 7d': 0 });
    expect(
      await inspectTask(ctx().datastore, rt.client, ctx().datastore.key(['_DeferredTask', 'none'])),
    ).toBeUndefined();
  });

  it('a done task keeps its record without its payload until its retention ends', async () => {
    const rt = await setup(ctx());
    const ping = rt.deferred.task('ping', (_n: number) => undefined, { entityBacked: true, retention: '1h' });
    const deferral = await ping.defer(1);
    await rt.advance();
    const done = await inspectTask(ctx().datastore, rt.client, deferral.entityKey!, { nowMs: rt.clock.now() });
    expect(done).toMatchObject({ entity: { state: 'done', attempts: 1 }, payload: null, verdict: 'keep (retention)' });
    const later = await inspectTask(ctx().datastore, rt.client, deferral.entityKey!, {
      nowMs: rt.clock.now() + 2 * 3_600_000,
    });
    expect(later!.verdict).toBe('delete (done)');
  });
});
