// Safe chaining and retries: children held until the parent succeeds, deterministic names, currentTask(), maxAttempts, failures.
import { describe, expect, it } from 'vitest';
import { PermanentTaskFailure, SingularTaskFailure } from '../src/errors/index.js';
import { currentTask } from '../src/core/run-context.js';
import { TASK_KIND } from '../src/store/schema.js';
import type { TaskInfo } from '../src/types.js';
import { describeStorage } from './support/backends.js';
import { useRuntime, type RuntimeFixture } from './support/runtime.js';

/** Advances the clock past the emulator's backoff (100 ms doubling) `times` times. */
async function retries(rt: RuntimeFixture, times: number): Promise<void> {
  for (let i = 0; i < times; i++) await rt.advance(60_000);
}

describe('chaining and retries', () => {
  const setup = useRuntime();

  describeStorage('held children', (ctx) => {
    for (const entityBacked of [false, true]) {
      it(`a parent that defers a child then throws 3 times leads to exactly one child run (${entityBacked ? 'entity-backed' : 'inline'})`, async () => {
        const rt = await setup(ctx());
        const childRuns: TaskInfo[] = [];
        const parentAttempts: number[] = [];
        const child = rt.deferred.task('child', (n: number) => {
          expect(n).toBe(7);
          childRuns.push(currentTask()!);
        });
        const parent = rt.deferred.task(
          'parent',
          async () => {
            const info = currentTask()!;
            parentAttempts.push(info.retryCount);
            const held = await child.defer(7);
            expect(held.status).toBe('held');
            expect(held.cloudTaskName).toBe(`${info.cloudTaskName}-1`);
            if (info.retryCount < 3) throw new Error(`flaky ${info.retryCount}`);
          },
          { entityBacked },
        );
        const deferral = await parent.with({ name: `parent-${entityBacked ? 'e' : 'i'}` }).defer();
        await rt.advance();
        expect(await rt.listTasks()).toEqual([deferral.cloudTaskName]); // failed once; no child yet
        await retries(rt, 4);
        expect(parentAttempts).toEqual([0, 1, 2, 3]);
        expect(childRuns).toHaveLength(1);
        expect(childRuns[0]!.cloudTaskName).toBe(`${deferral.cloudTaskName}-1`);
        expect(await rt.listTasks()).toEqual([]);
      });
    }

    it('names grandchildren from their parent; a duplicate delivery of the parent does not fork the chain', async () => {
      const rt = await setup(ctx(), { record: true });
      const runs: string[] = [];
      const name = () => currentTask()!.cloudTaskName.split('/').pop()!;
      const leaf = rt.deferred.task('leaf', () => {
        runs.push(name());
      });
      const middle = rt.deferred.task('middle', async () => {
        runs.push(name());
        await leaf.defer();
        await leaf.defer();
      });
      const root = rt.deferred.task('root', async () => {
        runs.push(name());
        await middle.defer();
      });
      await root.with({ name: 'root' }).defer();
      await rt.advance();
      expect(runs.sort()).toEqual(['root', 'root-1', 'root-1-1', 'root-1-2']);
      // Cloud Tasks delivers the root again (at-least-once): it runs again, but its child's name is taken.
      const first = rt.recorded.find((r) => r.url.endsWith('/tasks/root'))!;
      const again = await rt.post(first.url, { headers: first.headers, body: first.body });
      expect(again.status).toBe(200);
      await rt.advance();
      expect(runs.sort()).toEqual(['root', 'root', 'root-1', 'root-1-1', 'root-1-2']);
    });
  });

  describeStorage('stray defers', (ctx) => {
    it('a defer made after its parent finished (promise not awaited) is enqueued at once, with a warning', async () => {
      const rt = await setup(ctx());
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      let stray: Promise<unknown> | undefined;
      let childRuns = 0;
      const child = rt.deferred.task('strayChild', () => {
        childRuns++;
      });
      const parent = rt.deferred.task('careless', () => {
        stray = gate.then(() => child.defer());
      });
      await parent.defer();
      await rt.advance();
      release();
      expect(await stray).toMatchObject({ status: 'enqueued' });
      await rt.advance();
      expect(childRuns).toBe(1);
      expect(
        rt.logger.entries.some((e) => e.severity === 'WARNING' && /after its parent careless/.test(e.message)),
      ).toBe(true);
    });
  });

  describeStorage('currentTask, maxAttempts and failures', (ctx) => {
    it('currentTask() reports retry counts 0, 1, 2 across retries', async () => {
      const rt = await setup(ctx());
      const seen: TaskInfo[] = [];
      const flaky = rt.deferred.task('flaky', () => {
        const info = currentTask()!;
        seen.push(info);
        if (info.retryCount < 2) throw new Error('not yet');
      });
      expect(currentTask()).toBeUndefined();
      const deferral = await flaky.defer();
      await rt.advance();
      await retries(rt, 2);
      expect(seen.map((s) => s.retryCount)).toEqual([0, 1, 2]);
      expect(seen.map((s) => s.attempt)).toEqual([1, 2, 3]);
      expect(seen.map((s) => s.previousResponse)).toEqual([null, 500, 500]);
      for (const info of seen) {
        expect(info).toMatchObject({ task: 'flaky', queue: rt.queue, cloudTaskName: deferral.cloudTaskName });
        expect(info.eta).toBeInstanceOf(Date);
      }
      const retryLogs = rt.logger.entries.filter((e) => e.outcome === 'retry');
      expect(retryLogs.map((e) => [e.severity, e.attempt])).toEqual([
        ['ERROR', 1],
        ['ERROR', 2],
      ]);
    });

    for (const entityBacked of [false, true]) {
      it(`enforces maxAttempts from the retry count, then records the task failed (${entityBacked ? 'entity-backed' : 'inline'})`, async () => {
        const rt = await setup(ctx());
        let runs = 0;
        const doomed = rt.deferred.task(
          'doomed',
          () => {
            runs++;
            throw new Error('always broken');
          },
          { maxAttempts: 3, entityBacked },
        );
        await doomed.defer();
        await rt.advance();
        await retries(rt, 5);
        expect(runs).toBe(3);
        expect(await rt.listTasks()).toEqual([]);
        const [entities] = await ctx().datastore.runQuery(ctx().datastore.createQuery(TASK_KIND));
        expect(entities).toHaveLength(1);
        expect(entities[0]).toMatchObject({ state: 'failed' });
        expect(entities[0]!.lastError).toMatch(/always broken \(gave up after 3 of 3 attempts\)/);
      });
    }

    it('PermanentTaskFailure is answered 2xx, not retried, and recorded; SingularTaskFailure retries quietly', async () => {
      const rt = await setup(ctx());
      let permanentRuns = 0;
      let singularRuns = 0;
      const permanent = rt.deferred.task('permanent', () => {
        permanentRuns++;
        throw new PermanentTaskFailure('user u1 is gone');
      });
      const singular = rt.deferred.task('singular', () => {
        singularRuns++;
        if (singularRuns === 1) throw new SingularTaskFailure('report not ready');
      });
      await permanent.with({ entityBacked: true }).defer();
      await singular.defer();
      await rt.advance();
      await retries(rt, 2);
      expect(permanentRuns).toBe(1);
      expect(singularRuns).toBe(2);
      const [entities] = await ctx().datastore.runQuery(ctx().datastore.createQuery(TASK_KIND));
      expect(entities).toHaveLength(1);
      expect(entities[0]).toMatchObject({ state: 'failed', lastError: 'PermanentTaskFailure: user u1 is gone' });
      const quiet = rt.logger.entries.find((e) => e.task === 'singular' && e.outcome === 'retry');
      expect(quiet?.severity).toBe('INFO');
      const loud = rt.logger.entries.find((e) => e.task === 'permanent' && e.outcome === 'failed');
      expect(loud?.severity).toBe('ERROR');
    });
  });
});
