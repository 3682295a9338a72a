// The entity state machine on the real emulators: a horizon hop's retarget never touches a task a delivery is running.
import { describe, expect, it } from 'vitest';
import { claimTask, retargetTask } from '../src/store/state-machine.js';
import { describeStorage } from './support/backends.js';
import { seedTasks } from './support/task-fixture.js';
import { DAY } from './support/time.js';

const NOW = Date.UTC(2026, 0, 10, 12);

describe('store: state machine', () => {
  describeStorage('retargetTask', (ctx) => {
    async function seedFarTask() {
      const keys = await seedTasks(ctx().datastore, undefined as never, 'q', [{ id: 'far', eta: NOW + 45 * DAY }], {
        now: NOW,
      });
      return keys.get('far')!;
    }

    it('moves a pending task to its next Cloud Task', async () => {
      const key = await seedFarTask();
      expect((await claimTask(ctx().datastore, key, NOW, 60_000)).kind).toBe('early');
      expect(await retargetTask(ctx().datastore, key, 'projects/p/locations/l/queues/q/tasks/far-h1', '{}')).toBe(true);
      const [entity] = await ctx().datastore.get(key);
      expect(entity).toMatchObject({ state: 'pending', cloudTaskName: 'projects/p/locations/l/queues/q/tasks/far-h1' });
    });

    it('leaves a task alone that a forced run claimed between the early decision and the retarget', async () => {
      const key = await seedFarTask();
      expect((await claimTask(ctx().datastore, key, NOW, 60_000)).kind).toBe('early');
      // RunTask on the same Cloud Task: delivered with its own schedule time at the ETA, so it runs now.
      expect(
        (await claimTask(ctx().datastore, key, NOW, 60_000, { scheduledMs: NOW + 45 * DAY, notBeforeMs: null })).kind,
      ).toBe('run');
      expect(await retargetTask(ctx().datastore, key, 'projects/p/locations/l/queues/q/tasks/far-h1', '{}')).toBe(
        false,
      );
      const [entity] = await ctx().datastore.get(key);
      expect(entity).toMatchObject({ state: 'running', attempts: 1, leaseUntil: new Date(NOW + 60_000) });
      expect(entity.cloudTaskName).not.toMatch(/-h1$/);
    });
  });
});
