// Faults: many deliveries of the same entity-backed tasks at once, fighting over their entities (ABORTED, lock waits).
import { Transaction } from '@google-cloud/datastore';
import { afterEach, describe, expect, it } from 'vitest';
import { TASK_KIND } from '../src/store/schema.js';
import { sweep } from '../src/sweeper/index.js';
import { describeStorage } from './support/backends.js';
import { Ledger, leftovers, report, tally, total, type Expected } from './support/faults.js';
import { useRuntime } from './support/runtime.js';
import { HOUR, DAY } from './support/time.js';
import { silentLogger } from '../src/core/logger.js';

const ENTITIES = 4;
const COPIES = 8;

/** Counts commits that failed with ABORTED (contention) in this process, by wrapping Transaction#commit. */
function countAborted(): { readonly aborted: number; restore(): void } {
  const original = Transaction.prototype.commit;
  const counter = { aborted: 0, restore: () => void (Transaction.prototype.commit = original) };
  Transaction.prototype.commit = function (this: Transaction, ...args: unknown[]) {
    const result = (original as (...a: unknown[]) => unknown).apply(this, args);
    if (result instanceof Promise) {
      result.catch((error: { code?: number }) => {
        if (error?.code === 10) counter.aborted++;
      });
    }
    return result;
  } as typeof original;
  return counter;
}

describe('faults: concurrent deliveries of one entity', { timeout: 60_000 }, () => {
  const setup = useRuntime();
  let restore: (() => void) | undefined;
  afterEach(() => restore?.());

  describeStorage('contention', (ctx) => {
    it(`${ENTITIES} entities x ${COPIES + 1} simultaneous deliveries: each function runs once, the rest are retried or ignored`, async () => {
      const rt = await setup(ctx());
      const ledger = new Ledger();
      const work = rt.deferred.task('work', async (id: string) => {
        ledger.record('start', id);
        await new Promise((resolve) => setTimeout(resolve, 20)); // hold the lease while the others arrive
        ledger.record('end', id);
      });
      const expected: Expected[] = [];
      const requests: string[] = [];
      // Paused queue: each task and copies of its stored request under other names, then all delivered at once.
      await rt.client.createQueue({ parent: rt.queuePath.split('/queues/')[0]!, queue: { name: rt.queuePath } });
      await rt.client.pauseQueue({ name: rt.queuePath });
      for (let i = 0; i < ENTITIES; i++) {
        const deferral = await work.with({ entityBacked: true }).defer(`e${i}`);
        expected.push({ id: `e${i}`, kind: 'entity', promised: true, cloudTaskName: deferral.cloudTaskName! });
      }
      const [entities] = await ctx().datastore.runQuery(ctx().datastore.createQuery(TASK_KIND));
      for (const entity of entities) requests.push(entity.cloudTaskRequest as string);
      const counter = countAborted();
      restore = counter.restore;
      for (const stored of requests) {
        for (let c = 0; c < COPIES; c++) {
          const request = JSON.parse(stored);
          request.task.name = `${request.task.name}-copy${c}`;
          await rt.client.createTask(request);
        }
      }
      await rt.client.resumeQueue({ name: rt.queuePath });
      await rt.advance();
      await rt.advance(HOUR); // the retries of busy and failed deliveries: all find their entity done
      expect(await rt.listTasks()).toEqual([]);

      const outcomes: Record<string, number> = {};
      for (const entry of rt.logger.entries) {
        const outcome = entry.outcome ?? (/handler error/.test(entry.message) ? 'error' : 'other');
        outcomes[String(outcome)] = (outcomes[String(outcome)] ?? 0) + 1;
      }
      const [after] = await ctx().datastore.runQuery(ctx().datastore.createQuery(TASK_KIND));
      for (const entity of after) expect(entity).toMatchObject({ state: 'done', attempts: 1 });
      await sweep({
        datastore: ctx().datastore,
        tasks: rt.client,
        now: new Date(rt.clock.now() + 8 * DAY),
        log: silentLogger,
      });
      const counts = tally(`${COPIES + 1} concurrent deliveries per entity`, ctx().backend, expected, ledger, {
        leaks: total(await leftovers(ctx())),
        missingTaskNames: rt.logger.entries.filter((e) => e.outcome === 'missing').map((e) => String(e.taskName)),
      });
      report(counts);
      process.stdout.write(
        `[contention] ${ctx().backend}: ${counter.aborted} ABORTED commits, outcomes ${JSON.stringify(outcomes)}\n`,
      );
      expect(counts).toMatchObject({ lost: 0, doubleRuns: 0, livePayloadsDeleted: 0, leaks: 0 });
      for (const e of expected) expect(ledger.starts(e.id)).toBe(1);
      expect(outcomes.done).toBe(ENTITIES);
      // The copies are ignored as busy (leased), duplicate (done) or stale (their Cloud Task is not the entity's own),
      // or answered with an error and retried.
      const ignored = ['busy', 'duplicate', 'stale', 'error'].reduce((n, outcome) => n + (outcomes[outcome] ?? 0), 0);
      expect(ignored).toBeGreaterThanOrEqual(ENTITIES * COPIES);
    });
  });
});
