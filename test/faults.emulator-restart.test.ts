// Faults: the (in-memory) Cloud Tasks emulator restarted while tasks are queued: what is run, re-driven, reported, lost.
import { afterAll, describe, expect, it } from 'vitest';
import { sweep } from '../src/sweeper/index.js';
import type { LogEntry } from '../src/types.js';
import { startTasksEmulator, type RunningTasksEmulator } from '../src/tasks-emulator/index.js';
import { describeStorage } from './support/backends.js';
import { Ledger, leftovers, report, tally, total, type Expected } from './support/faults.js';
import { useRuntime } from './support/runtime.js';
import { MINUTE, DAY } from './support/time.js';

describe('faults: Cloud Tasks emulator restarted', { timeout: 60_000 }, () => {
  const setup = useRuntime();
  let restarted: RunningTasksEmulator | undefined; // serves the file's port (and client) after the first restart
  afterAll(() => restarted?.stop());

  describeStorage('queued tasks lost by the queue', (ctx) => {
    it('transactional tasks are re-driven and run once; other entity-backed ones are reported; inline ones are lost', async () => {
      const rt = await setup(ctx());
      const ledger = new Ledger();
      const work = rt.deferred.task('work', (id: string, _blob?: Buffer) => {
        ledger.record('start', id);
        ledger.record('end', id);
      });
      const expected: Expected[] = [];
      const blob = Buffer.alloc(300 * 1024, 2);
      for (let i = 0; i < 3; i++) {
        const ran = await work.defer(`ran-${i}`); // due now: runs before the restart
        expected.push({ id: `ran-${i}`, kind: 'inline', promised: true, cloudTaskName: ran.cloudTaskName! });
      }
      await rt.advance();
      const later = { delay: '10m' } as const;
      for (let i = 0; i < 5; i++) {
        const inline = await work.with(later).defer(`inline-${i}`);
        const entity = await work.with({ ...later, entityBacked: true }).defer(`entity-${i}`);
        const spilled = await work.with(later).defer(`spilled-${i}`, blob);
        const tx = await rt.deferred.transaction((t) => work.with({ ...later, transaction: t }).defer(`tx-${i}`));
        expected.push(
          { id: `inline-${i}`, kind: 'inline', promised: true, cloudTaskName: inline.cloudTaskName! },
          { id: `entity-${i}`, kind: 'entity', promised: true, cloudTaskName: entity.cloudTaskName! },
          { id: `spilled-${i}`, kind: 'entity', promised: true, cloudTaskName: spilled.cloudTaskName! },
          { id: `tx-${i}`, kind: 'transactional', promised: true, cloudTaskName: tx.cloudTaskName! },
        );
      }
      expect(await rt.listTasks()).toHaveLength(20);

      // Restart: same port and clock, empty memory. The runtime's client reconnects by itself.
      await (restarted ?? rt.emulator).stop();
      restarted = await startTasksEmulator({ clock: rt.clock, autoCreateQueues: true, port: rt.emulator.port });
      await rt.advance(11 * MINUTE);
      expect(await rt.listTasks()).toEqual([]);
      expect(ledger.events.filter((e) => e.e === 'end')).toHaveLength(3);

      const logs: LogEntry[] = [];
      const options = { datastore: ctx().datastore, tasks: rt.client, log: { write: (e: LogEntry) => logs.push(e) } };
      const found = await sweep({ ...options, now: new Date(rt.clock.now() + 10 * MINUTE) });
      expect(found.stats).toMatchObject({ redriven: 5, errors: 0 });
      expect(found.stats.deleted.leaked).toBe(10);
      const warnings = logs.filter((l) => l.severity === 'WARNING' && l.reason === 'leaked').map((l) => l.task);
      const reportedNames = new Set(warnings);
      const reported = new Set(expected.filter((e) => reportedNames.has(e.cloudTaskName)).map((e) => e.id));
      expect([...reported].sort()).toEqual(
        expected
          .filter((e) => /^(entity|spilled)-/.test(e.id))
          .map((e) => e.id)
          .sort(),
      );
      await rt.advance(11 * MINUTE);
      await sweep({ ...options, now: new Date(rt.clock.now() + 8 * DAY) });

      const counts = tally('Cloud Tasks emulator restarted, 20 queued', ctx().backend, expected, ledger, {
        reported,
        leaks: total(await leftovers(ctx())),
        missingTaskNames: rt.logger.entries.filter((e) => e.outcome === 'missing').map((e) => String(e.taskName)),
      });
      report(counts);
      // Inline tasks live only in the queue: the 5 queued ones are gone without a trace (documented).
      expect(counts).toMatchObject({ lost: 5, reported: 10, doubleRuns: 0, livePayloadsDeleted: 0, leaks: 0 });
      for (let i = 0; i < 5; i++) expect(ledger.ends(`tx-${i}`)).toBe(1);
    });
  });
});
