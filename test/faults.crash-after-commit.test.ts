// Faults: an app process killed (SIGKILL) or frozen (SIGSTOP) between a transaction's commit and its enqueue.
import { Datastore } from '@google-cloud/datastore';
import { describe, expect, it } from 'vitest';
import { TASK_KIND } from '../src/store/schema.js';
import { sweep } from '../src/sweeper/index.js';
import type { LogEntry } from '../src/types.js';
import { describeStorage } from './support/backends.js';
import {
  Ledger,
  leftovers,
  processState,
  report,
  startFaultProcess,
  tally,
  total,
  useFaultProcesses,
  type Expected,
} from './support/faults.js';
import { useRuntime, type RuntimeFixture } from './support/runtime.js';
import { MINUTE, DAY } from './support/time.js';

describe('faults: killed between commit and enqueue', { timeout: 120_000 }, () => {
  const setup = useRuntime();
  useFaultProcesses();

  /** The parent serves `work` (recording runs) and sweeps with the runtime's own clock. */
  async function parent(storage: Parameters<typeof setup>[0]) {
    const rt = await setup(storage);
    const ledger = new Ledger();
    rt.deferred.task('work', (id: string) => {
      ledger.record('start', id);
      ledger.record('end', id);
    });
    const logs: LogEntry[] = [];
    const sweepAt = (offsetMs = 0) =>
      sweep({
        datastore: storage.datastore,
        tasks: rt.client,
        now: new Date(rt.clock.now() + offsetMs),
        log: { write: (entry) => logs.push(entry) },
      });
    return { rt, ledger, logs, sweepAt };
  }

  const childOptions = (rt: RuntimeFixture, storage: Parameters<typeof setup>[0]) => ({
    mode: 'defer' as const,
    storage,
    tasksPort: rt.emulator.port,
    queue: rt.queue,
    handlerUrl: `${rt.origin}/_deferred`,
    clockMs: rt.clock.now(),
  });

  describeStorage('SIGKILL after commit', (ctx) => {
    it('committed tasks run exactly once after the sweeper re-drives them; an unconfirmed plain defer is reclaimed, not run', async () => {
      const { rt, ledger, sweepAt } = await parent(ctx());
      // Transaction A enqueues both tasks; transaction B commits three (one spilled, 300 KB) and dies at its first enqueue.
      const app = startFaultProcess({
        ...childOptions(rt, ctx()),
        plan: {
          steps: [
            { kind: 'tx', ids: ['a1', 'a2'] },
            { kind: 'tx', ids: ['b1', 'b2', 'b3'], big: ['b2'] },
          ],
          stopAt: 3,
          signal: 'hang',
        },
      });
      await app.waitFor(/^ENQUEUE /);
      await app.kill();
      // A plain entity-backed defer killed between writing its entity and creating its task: defer() never returned.
      const plain = startFaultProcess({
        ...childOptions(rt, ctx()),
        plan: { steps: [{ kind: 'plain', ids: ['c1'], entityBacked: true, big: ['c1'] }], stopAt: 1, signal: 'hang' },
      });
      await plain.waitFor(/^ENQUEUE /);
      await plain.kill();

      const [order] = await ctx().datastore.get(ctx().datastore.key(['Order', 'b1+b2+b3']));
      expect(order).toMatchObject({ paid: true }); // B committed
      expect(app.confirmed().map(([id]) => id)).toEqual(['a1', 'a2']);
      await rt.advance(MINUTE); // the app's clock ran on while it started: its tasks are due a few seconds later
      expect(ledger.ends('a1') + ledger.ends('a2')).toBe(2);
      expect(ledger.ends('b1')).toBe(0);

      await rt.advance(11 * MINUTE); // past ETA + the sweeper's 10-minute grace
      const first = await sweepAt();
      expect(first.stats).toMatchObject({ redriven: 3, errors: 0 });
      expect(first.stats.deleted.leaked).toBe(1); // c1: its caller never heard of it
      await rt.advance();
      const second = await sweepAt();
      expect(second.stats.redriven).toBe(0);
      await rt.advance(MINUTE);

      const final = await sweepAt(8 * DAY); // past the 7-day retention of done records
      expect(final.stats.errors).toBe(0);
      const left = await leftovers(ctx());
      expect(await rt.listTasks()).toEqual([]);
      const expected: Expected[] = [
        ...['a1', 'a2', 'b1', 'b2', 'b3'].map((id) => ({ id, kind: 'transactional' as const, promised: true })),
        { id: 'c1', kind: 'entity', promised: false },
      ];
      const counts = tally('killed between commit and enqueue', ctx().backend, expected, ledger, {
        leaks: total(left),
      });
      report(counts);
      expect(counts).toMatchObject({ lost: 0, doubleRuns: 0, livePayloadsDeleted: 0, leaks: 0 });
      for (const id of ['a1', 'a2', 'b1', 'b2', 'b3']) expect(ledger.ends(id)).toBe(1);
      expect(ledger.starts('c1')).toBe(0);
    });
  });

  describeStorage('SIGSTOP after commit, continued after the re-drive', (ctx) => {
    it("a late enqueue that finds the sweeper's re-drive keeps the entity: the task runs once", async () => {
      const { rt, ledger, logs, sweepAt } = await parent(ctx());
      await rt.client.createQueue({ parent: rt.queuePath.split('/queues/')[0]!, queue: { name: rt.queuePath } });
      const app = startFaultProcess({
        ...childOptions(rt, ctx()),
        plan: { steps: [{ kind: 'tx', ids: ['s1'] }], stopAt: 1, signal: 'stop' },
      });
      const line = await app.waitFor(/^ENQUEUE /);
      const cloudTaskName = line.split(' ')[1]!;
      await expect.poll(() => processState(app.pid), { timeout: 30_000 }).toBe('T');

      // Frozen (a GC pause, a suspended VM) past the grace: the sweeper re-drives into a paused queue.
      await rt.client.pauseQueue({ name: rt.queuePath });
      await rt.advance(11 * MINUTE);
      const { stats } = await sweepAt();
      expect(stats.redriven).toBe(1);
      expect(logs.some((l) => l.event === 'redriven')).toBe(true);

      // The app wakes up and enqueues late: the name is taken by its own re-driven task.
      app.child.kill('SIGCONT');
      await app.waitFor(/^DONE$/);
      const [entity] = (await ctx().datastore.runQuery(ctx().datastore.createQuery(TASK_KIND)))[0] as Record<
        string | symbol,
        unknown
      >[];
      expect(entity).toMatchObject({ state: 'pending', transactional: true });
      expect(entity![Datastore.KEY]).toBeDefined();

      await rt.client.resumeQueue({ name: rt.queuePath });
      await rt.advance();
      expect(ledger.ends('s1')).toBe(1);
      await sweepAt(8 * DAY);
      const counts = tally(
        'frozen between commit and enqueue, re-driven meanwhile',
        ctx().backend,
        [{ id: 's1', kind: 'transactional', promised: true, cloudTaskName }],
        ledger,
        {
          leaks: total(await leftovers(ctx())),
          missingTaskNames: rt.logger.entries.filter((e) => e.outcome === 'missing').map((e) => String(e.taskName)),
        },
      );
      report(counts);
      expect(counts).toMatchObject({ lost: 0, doubleRuns: 0, livePayloadsDeleted: 0, leaks: 0 });
    });

    it('a transactional defer whose name another deferral holds (queued or finished) still drops its entity', async () => {
      const { rt, ledger } = await parent(ctx());
      const work = rt.deferred.task('other', (id: string) => ledger.record('end', id));
      await work.with({ name: 'taken', delay: '1h' }).defer('first');
      const held = await rt.deferred.transaction((tx) => work.with({ transaction: tx, name: 'taken' }).defer('second'));
      expect(held.status).toBe('held'); // the commit happened; the enqueue found the name taken (logged)
      expect(rt.logger.entries.some((e) => /could not be enqueued now: TaskAlreadyExistsError/.test(e.message))).toBe(
        true,
      );
      await rt.advance(61 * MINUTE);
      const again = await rt.deferred.transaction((tx) =>
        work.with({ transaction: tx, name: 'taken', ifExists: 'ignore' }).defer('third'),
      );
      expect(again).toMatchObject({ status: 'existing', entityKey: null });
      expect(ledger.events.map((e) => e.id)).toEqual(['first']);
      expect(total(await leftovers(ctx()))).toBe(0);
    });
  });
});
