// Faults: transient Datastore errors while an entity-backed task's outcome is recorded (completeTask) do not make it run again.
import { describe, expect, it } from 'vitest';
import { claimTask, completeTask, COMPLETE_RETRIES } from '../src/store/state-machine.js';
import { TASK_KIND } from '../src/store/schema.js';
import { fromEntity } from '../src/store/task-entity.js';
import { describeStorage } from './support/backends.js';
import { errors, injectCommitFaults, type CommitFault } from './support/datastore-faults.js';
import { useRuntime } from './support/runtime.js';
import { seedTasks } from './support/task-fixture.js';
import { HOUR } from './support/time.js';

const cases: { name: string; faults: CommitFault[] }[] = [
  { name: 'UNAVAILABLE before the commit reached Datastore', faults: [{ error: errors.unavailable }] },
  { name: 'DEADLINE_EXCEEDED before the commit reached Datastore', faults: [{ error: errors.deadline }] },
  { name: 'ABORTED (contention)', faults: [{ error: errors.aborted }] },
  {
    name: 'DEADLINE_EXCEEDED after the commit was applied (answer lost)',
    faults: [{ error: errors.deadline, when: 'after' }],
  },
  {
    name: 'UNAVAILABLE, DEADLINE_EXCEEDED and ABORTED in a row',
    faults: [{ error: errors.unavailable }, { error: errors.deadline }, { error: errors.aborted }],
  },
];

describe('faults: recording a run outcome', { timeout: 60_000 }, () => {
  const setup = useRuntime();

  describeStorage('completeTask on transient errors', (ctx) => {
    it.each(cases)('$name: the task ends done and never runs again', async ({ faults }) => {
      const rt = await setup(ctx());
      const injection = injectCommitFaults(ctx().datastore);
      let runs = 0;
      const work = rt.deferred.task('work', () => {
        runs++;
        injection.arm(...faults); // the next commit of this client is the one that records `done`
      });
      const deferral = await work.with({ entityBacked: true }).defer();

      await rt.advance();
      expect(runs).toBe(1);
      expect(injection.injected).toBe(faults.length);
      const [entity] = await ctx().datastore.get(deferral.entityKey!);
      expect(entity).toMatchObject({ state: 'done', attempts: 1, leaseUntil: null });
      expect(rt.logger.entries.filter((e) => e.outcome === 'lost')).toEqual([]);
      expect(await rt.listTasks()).toEqual([]);

      await rt.advance(HOUR); // far past the lease: a delivery still queued would run it again now
      expect(runs).toBe(1);
      expect(await rt.listTasks()).toEqual([]);
    });

    it(`gives up after ${COMPLETE_RETRIES} retries, leaving the entity running under its lease`, async () => {
      const [key] = [
        ...(await seedTasks(ctx().datastore, undefined as never, 'q', [{ id: 'a' }], { now: 0 })).values(),
      ];
      const claim = await claimTask(ctx().datastore, key!, 1_000, 60_000);
      expect(claim.kind).toBe('run');
      const injection = injectCommitFaults(ctx().datastore);
      injection.arm(...Array.from({ length: COMPLETE_RETRIES + 2 }, () => ({ error: errors.unavailable })));

      await expect(completeTask(ctx().datastore, key!, 1, { kind: 'done' }, 2_000)).rejects.toMatchObject({ code: 14 });
      expect(injection.injected).toBe(COMPLETE_RETRIES + 1);
      expect(injection.pending).toBe(1);
      const [entity] = await ctx().datastore.get(key!);
      expect(entity).toMatchObject({ state: 'running', attempts: 1 });
    });

    it('never overwrites a delivery that took the task over between a failed commit and its retry', async () => {
      const [key] = [
        ...(await seedTasks(ctx().datastore, undefined as never, 'q', [{ id: 'a' }], { now: 0 })).values(),
      ];
      const first = await claimTask(ctx().datastore, key!, 1_000, 60_000);
      expect(first.kind).toBe('run');
      const injection = injectCommitFaults(ctx().datastore);
      let takeover: string | undefined;
      injection.arm({
        error: errors.unavailable,
        then: async () => {
          // The lease of attempt 1 has ended: another delivery claims the task (attempt 2).
          takeover = (await claimTask(ctx().datastore, key!, 100_000, 60_000)).kind;
        },
      });

      expect(await completeTask(ctx().datastore, key!, 1, { kind: 'done' }, 100_500)).toBe(false);
      expect(takeover).toBe('run');
      expect(injection.injected).toBe(1);
      const [entity] = await ctx().datastore.get(key!);
      expect(fromEntity(ctx().datastore, entity)).toMatchObject({ state: 'running', attempts: 2, finishedAt: null });
      expect(entity[ctx().datastore.KEY].kind).toBe(TASK_KIND);
    });

    it('a done commit applied but answered DEADLINE_EXCEEDED with retention 0 counts as recorded (entity gone)', async () => {
      const seeded = await seedTasks(
        ctx().datastore,
        undefined as never,
        'q',
        [{ id: 'a', retentionMs: 0, chunks: 2 }],
        {
          now: 0,
        },
      );
      const key = seeded.get('a')!;
      expect((await claimTask(ctx().datastore, key, 1_000, 60_000)).kind).toBe('run');
      const injection = injectCommitFaults(ctx().datastore);
      injection.arm({ error: errors.deadline, when: 'after' });

      expect(await completeTask(ctx().datastore, key, 1, { kind: 'done' }, 2_000)).toBe(true);
      expect(injection.injected).toBe(1);
      const [entity] = await ctx().datastore.get(key);
      expect(entity).toBeUndefined();
    });
  });
});
