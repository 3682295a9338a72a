// Recurring jobs end to end: schedules through our Cloud Tasks emulator (ManualClock), one chain per job, outcomes recorded.
import { describe, expect, it } from 'vitest';
import { defineRecurringJob } from '../src/jobs/recurring.js';
import { describeStorage } from './support/backends.js';
import { useRuntime, type RuntimeFixture } from './support/runtime.js';
import { HOUR } from './support/time.js';

/** Moves the clock forward and lets every dispatch it causes finish. */
async function elapse(rt: RuntimeFixture, ms: number) {
  await rt.advance(ms);
  await rt.advance(0);
}

describe('defineRecurringJob', () => {
  const setup = useRuntime();

  describeStorage('every interval', (ctx) => {
    it('runs once per interval and records each outcome', async () => {
      const rt = await setup(ctx());
      let runs = 0;
      const job = defineRecurringJob(rt.deferred, 'hourly', { every: '1h' }, () => {
        runs++;
        if (runs === 2) throw new Error('upstream unavailable');
        return `run ${runs}`;
      });
      const start = rt.clock.now();
      const created = await job.ensure();
      expect(created).toMatchObject({ enabled: true, status: 'idle', schedule: 'every 1h', runs: 0 });
      expect(created.nextDue!.getTime()).toBe(start + HOUR);

      await elapse(rt, HOUR);
      expect(runs).toBe(1);
      expect(await job.status()).toMatchObject({ runs: 1, lastRunSucceeded: true, lastRunMessage: 'run 1' });
      expect((await job.status())!.nextDue!.getTime()).toBe(start + 2 * HOUR);

      await elapse(rt, HOUR);
      expect(runs).toBe(2);
      const failed = await job.status();
      expect(failed).toMatchObject({
        runs: 2,
        lastRunSucceeded: false,
        lastRunMessage: 'upstream unavailable',
        status: 'idle',
      });
      expect(failed!.lastRunStarted!.getTime()).toBe(start + 2 * HOUR);
      expect(failed!.lastRunFinished!.getTime()).toBeGreaterThanOrEqual(failed!.lastRunStarted!.getTime());

      await elapse(rt, HOUR);
      expect(runs).toBe(3);
      expect(await rt.listTasks()).toHaveLength(1); // exactly the next tick
    });

    it('a job disabled mid-chain stops: its pending tick runs nothing and schedules nothing', async () => {
      const rt = await setup(ctx());
      let runs = 0;
      const job = defineRecurringJob(rt.deferred, 'stoppable', { every: '1h' }, () => void runs++);
      await job.ensure();
      await elapse(rt, HOUR);
      expect(runs).toBe(1);
      expect(await rt.listTasks()).toHaveLength(1);
      expect(await job.disable()).toMatchObject({ enabled: false, nextDue: null });
      await elapse(rt, 3 * HOUR);
      expect(runs).toBe(1);
      expect(await rt.listTasks()).toEqual([]);
      expect(await job.status()).toMatchObject({ enabled: false, runs: 1 });
    });

    it('re-enabling yields one chain, and enabling twice starts no second one', async () => {
      const rt = await setup(ctx());
      let runs = 0;
      const job = defineRecurringJob(rt.deferred, 'single', { every: '1h' }, () => void runs++);
      const first = await job.ensure();
      await job.disable(); // first chain's tick stays queued
      const second = await job.enable();
      expect(second.chain).not.toBe(first.chain);
      expect((await job.enable()).chain).toBe(second.chain); // already enabled: same chain
      await job.ensure(); // idempotent too
      expect(await rt.listTasks()).toHaveLength(2); // old tick (stale) + new chain's tick

      await elapse(rt, HOUR);
      expect(runs).toBe(1); // the stale tick ran nothing
      await elapse(rt, HOUR);
      await elapse(rt, HOUR);
      expect(runs).toBe(3);
      expect(await rt.listTasks()).toHaveLength(1);
    });

    it('runNow runs once at once, records it, and leaves the chain as it was', async () => {
      const rt = await setup(ctx());
      let runs = 0;
      const job = defineRecurringJob(rt.deferred, 'manual', { every: '6h' }, () => `manual ${++runs}`);
      const before = await job.ensure();
      await job.runNow();
      await elapse(rt, 0);
      expect(runs).toBe(1);
      const after = await job.status();
      expect(after).toMatchObject({ runs: 1, lastRunSucceeded: true, lastRunMessage: 'manual 1', chain: before.chain });
      expect(after!.nextDue!.getTime()).toBe(before.nextDue!.getTime());
      expect(await rt.listTasks()).toHaveLength(1);
    });
  });

  describeStorage('schedule changes', (ctx) => {
    it('a deploy with a new schedule replaces the chain; the old one stops', async () => {
      const rt = await setup(ctx());
      let runs = 0;
      const v1 = defineRecurringJob(rt.deferred, 'evolving', { every: '1h' }, () => void runs++);
      const first = await v1.ensure();
      expect(JSON.parse(first.scheduleSpec)).toEqual({ every: '1h' });
      const other = (await import('../src/runtime/deferred-runtime.js')).createDeferred({
        projectId: 'test-project',
        location: 'us-central1',
        queue: rt.queue,
        handlerUrl: `${rt.origin}/_deferred`,
        secret: 'test-secret-0123456789abcdef',
        datastore: ctx().datastore,
        tasks: rt.client,
        clock: rt.clock,
      });
      const v2 = defineRecurringJob(other, 'evolving', { every: '2h' }, () => void runs++);
      const second = await v2.ensure();
      expect(second.chain).not.toBe(first.chain);
      expect(second.schedule).toBe('every 2h');
      expect(second.nextDue!.getTime()).toBe(rt.clock.now() + 2 * HOUR);
    });
  });

  describeStorage('cron', (ctx) => {
    it('schedules on the cron expression in its time zone', async () => {
      const rt = await setup(ctx());
      const job = defineRecurringJob(rt.deferred, 'nightly', { cron: '30 3 * * *', timeZone: 'UTC' }, () => 'ok');
      const record = await job.ensure();
      const due = record.nextDue!;
      expect(due.getUTCHours()).toBe(3);
      expect(due.getUTCMinutes()).toBe(30);
      expect(due.getTime()).toBeGreaterThan(rt.clock.now());
      expect(due.getTime() - rt.clock.now()).toBeLessThanOrEqual(24 * HOUR);
      expect(record.schedule).toBe('cron 30 3 * * * (UTC)');
      await elapse(rt, due.getTime() - rt.clock.now());
      const after = await job.status();
      expect(after).toMatchObject({ runs: 1, lastRunSucceeded: true });
      expect(after!.nextDue!.getTime()).toBe(due.getTime() + 24 * HOUR);
    });
  });

  it('rejects bad schedules with a one-line error naming the job', async () => {
    const { createDeferred } = await import('../src/runtime/deferred-runtime.js');
    const { Datastore } = await import('@google-cloud/datastore');
    const { CloudTasksClient } = await import('@google-cloud/tasks');
    const deferred = createDeferred({
      projectId: 'p',
      location: 'l',
      secret: 'a-secret-of-16-chars-or-more',
      datastore: new Datastore({ projectId: 'p', apiEndpoint: '127.0.0.1:1' }),
      tasks: new CloudTasksClient({ apiEndpoint: '127.0.0.1', port: 1 }),
    });
    expect(() => defineRecurringJob(deferred, 'a', { cron: 'every day' }, () => {})).toThrow(
      /recurring job "a": cron "every day" is not valid/,
    );
    expect(() => defineRecurringJob(deferred, 'b', { every: '10ms' }, () => {})).toThrow(/every must be at least 1s/);
    expect(() => defineRecurringJob(deferred, 'c', { every: 'often' }, () => {})).toThrow(/"often" is not a duration/);
  });
});
