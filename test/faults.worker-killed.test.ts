// Faults: a worker process SIGKILLed in the middle of its tasks; a new worker on the same address finishes them.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { sweep } from '../src/sweeper/index.js';
import { describeStorage } from './support/backends.js';
import {
  Ledger,
  freePort,
  leftovers,
  report,
  startFaultProcess,
  tally,
  total,
  useFaultProcesses,
  type Expected,
} from './support/faults.js';
import { useRuntime } from './support/runtime.js';
import { MINUTE, DAY } from './support/time.js';
import { silentLogger } from '../src/core/logger.js';

describe('faults: worker killed mid-task', { timeout: 120_000 }, () => {
  const setup = useRuntime();
  useFaultProcesses();
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  describeStorage('SIGKILL with every task in flight', (ctx) => {
    it('every task is retried and completes; entity-backed ones complete once; nothing leaks', async () => {
      const port = await freePort();
      const rt = await setup(ctx(), { handlerUrl: `http://127.0.0.1:${port}/_deferred` });
      const work = rt.deferred.task('work', (_id: string, _blob?: Buffer) => undefined);
      const dir = mkdtempSync(join(tmpdir(), 'faults-'));
      dirs.push(dir);
      const ledgerFile = join(dir, 'ledger.jsonl');
      const worker = (clockMs: number, hang: boolean) =>
        startFaultProcess({
          mode: 'worker',
          storage: ctx(),
          tasksPort: rt.emulator.port,
          queue: rt.queue,
          handlerUrl: `http://127.0.0.1:${port}/_deferred`,
          clockMs,
          port,
          ledger: ledgerFile,
          hang,
        });

      const first = worker(rt.clock.now(), true);
      await first.waitFor(/^READY$/);
      const expected: Expected[] = [];
      const blob = Buffer.alloc(300 * 1024, 1);
      for (let i = 0; i < 8; i++) {
        const inline = await work.defer(`inline-${i}`);
        const entity = await work.with({ entityBacked: true }).defer(`entity-${i}`);
        const spilled = await work.defer(`spilled-${i}`, blob);
        const tx = await rt.deferred.transaction((t) => work.with({ transaction: t }).defer(`tx-${i}`));
        expected.push(
          { id: `inline-${i}`, kind: 'inline', promised: true, cloudTaskName: inline.cloudTaskName! },
          { id: `entity-${i}`, kind: 'entity', promised: true, cloudTaskName: entity.cloudTaskName! },
          { id: `spilled-${i}`, kind: 'entity', promised: true, cloudTaskName: spilled.cloudTaskName! },
          { id: `tx-${i}`, kind: 'transactional', promised: true, cloudTaskName: tx.cloudTaskName! },
        );
      }
      // Killed after the function returned but before `done` was recorded: the documented at-least-once window.
      const post = await work.with({ entityBacked: true }).defer('post-0');
      const window: Expected[] = [{ id: 'post-0', kind: 'entity', promised: true, cloudTaskName: post.cloudTaskName! }];

      await expect.poll(() => first.lines.filter((l) => l.startsWith('RUNNING ')).length, { timeout: 60_000 }).toBe(33);
      await first.kill();
      expect((await first.exited).signal).toBe('SIGKILL');

      // While no worker runs: a sweep after the leases ended keeps every payload (their Cloud Tasks are retrying).
      const during = await sweep({
        datastore: ctx().datastore,
        tasks: rt.client,
        now: new Date(rt.clock.now() + 20 * MINUTE),
        log: silentLogger,
      });
      expect(during.stats.deleted).toMatchObject({ done: 0, failed: 0, leaked: 0, expired: 0 });
      expect(during.stats.kept).toBe(25);

      // A new worker on the same address, its clock past the dead runs' leases (11 min).
      const second = worker(rt.clock.now() + 15 * MINUTE, false);
      await second.waitFor(/^READY$/);
      await rt.advance(MINUTE); // the retries (backoff 0.1 s, 0.2 s, ...) reach the new worker
      expect(await rt.listTasks()).toEqual([]);

      await sweep({
        datastore: ctx().datastore,
        tasks: rt.client,
        now: new Date(rt.clock.now() + 8 * DAY),
        log: silentLogger,
      });
      const ledger = new Ledger().load(ledgerFile);
      const missing = second.logs().filter((e) => e.outcome === 'missing');
      const leaks = total(await leftovers(ctx()));
      const counts = tally('worker SIGKILLed mid-task', ctx().backend, expected, ledger, {
        leaks,
        missingTaskNames: missing.map((e) => String(e.taskName)),
      });
      report(counts);
      expect(counts).toMatchObject({ lost: 0, doubleRuns: 0, livePayloadsDeleted: 0, leaks: 0 });
      for (const e of expected) expect({ id: e.id, starts: ledger.starts(e.id) }).toEqual({ id: e.id, starts: 2 });
      const windowCounts = tally('killed after return, before done', ctx().backend, window, ledger, { leaks });
      report(windowCounts);
      expect(windowCounts).toMatchObject({ lost: 0, doubleRuns: 1 }); // documented: runs again after its lease
    });
  });
});
