// Load with faults: 10,000 mixed tasks at 50 concurrent dispatches, some answers lost or refused; counts and throughput.
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import pLimit from 'p-limit';
import { describe, expect, it } from 'vitest';
import { createDeferred } from '../../src/runtime/deferred-runtime.js';
import { MemoryLogger } from '../../src/core/logger.js';
import { sweep } from '../../src/sweeper/index.js';
import { startTasksEmulator } from '../../src/tasks-emulator/index.js';
import { describeStorage } from '../support/backends.js';
import { Ledger, leftovers, report, tally, total, type Expected } from '../support/faults.js';
import { LOCATION, PROJECT, SECRET } from '../support/runtime.js';
import { DAY } from '../support/time.js';
import { silentLogger } from '../../src/core/logger.js';

/** Tasks per backend: 10,000 on the Firestore emulator (the production-like one), 2,000 on the Datastore emulator, to keep CI short; `LOAD_TASKS` sets both. */
function tasksFor(backend: string): number {
  if (process.env.LOAD_TASKS) return Number(process.env.LOAD_TASKS);
  return backend === 'firestore' ? 10_000 : 2_000;
}
const CONCURRENCY = 50;

type Kind = Expected['kind'] | 'spilled';

/** The mix: 60 % inline, 25 % entity-backed, 5 % spilled (a 150 KB argument), 10 % transactional. */
function kindOf(i: number): Kind {
  const slot = i % 20;
  if (slot < 2) return 'transactional';
  if (slot === 2) return 'spilled';
  if (slot < 8) return 'entity';
  return 'inline';
}

/** A stable pseudo-random number 0..99 for a delivery, so faults hit the same deliveries on every run. */
function dice(taskName: string): number {
  return createHash('sha1').update(taskName).digest().readUInt16BE(0) % 100;
}

describe(`load: mixed tasks at concurrency ${CONCURRENCY}`, { timeout: 600_000 }, () => {
  describeStorage('load', (ctx) => {
    it('none lost, no entity-backed task run twice, nothing left behind', async () => {
      const TASKS = tasksFor(ctx().backend);
      const emulator = await startTasksEmulator({ autoCreateQueues: false });
      const client = emulator.createClient();
      const logger = new MemoryLogger();
      const ledger = new Ledger();
      let handler: http.RequestListener = () => undefined;
      const faults = { dropped: 0, refused: 0 };
      const server = http.createServer((req, res) => {
        const firstAttempt = req.headers['x-cloudtasks-taskretrycount'] === '0';
        const roll = dice(String(req.headers['x-cloudtasks-taskname']));
        if (firstAttempt && roll === 1) {
          faults.refused++; // a load balancer's 503 before the app saw it
          res.writeHead(503).end();
          return;
        }
        if (firstAttempt && roll === 2) {
          faults.dropped++; // the task ran, its answer is lost: Cloud Tasks delivers it again
          res.writeHead = (() => {
            req.socket.destroy();
            return res;
          }) as typeof res.writeHead;
        }
        handler(req, res);
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const queue = `load-${ctx().namespace}`;
      const parent = `projects/${PROJECT}/locations/${LOCATION}`;
      try {
        await client.createQueue({
          parent,
          queue: {
            name: `${parent}/queues/${queue}`,
            rateLimits: { maxDispatchesPerSecond: 500, maxConcurrentDispatches: CONCURRENCY },
            retryConfig: { minBackoff: { nanos: 100_000_000 }, maxBackoff: { seconds: 1 }, maxAttempts: -1 },
          },
        });
        const deferred = createDeferred({
          projectId: PROJECT,
          location: LOCATION,
          queue,
          handlerUrl: `${origin}/_deferred`,
          secret: SECRET,
          datastore: ctx().datastore,
          tasks: client,
          logger,
        });
        handler = deferred.handler;
        const work = deferred.task('work', (id: string, _padding?: string) => {
          ledger.record('start', id);
          ledger.record('end', id);
        });
        const padding = 'x'.repeat(150_000);
        const expected: Expected[] = [];
        const limit = pLimit(CONCURRENCY);
        const started = performance.now();
        await Promise.all(
          Array.from({ length: TASKS }, (_, i) =>
            limit(async () => {
              const id = `t${i}`;
              const kind = kindOf(i);
              const deferral =
                kind === 'transactional'
                  ? await deferred.transaction(async (tx) => {
                      tx.save({ key: ctx().datastore.key(['Order', id]), data: { total: i } });
                      return work.with({ transaction: tx }).defer(id);
                    })
                  : kind === 'spilled'
                    ? await work.defer(id, padding)
                    : await work.with({ entityBacked: kind === 'entity' }).defer(id);
              expect(deferral.status).toBe('enqueued');
              expected.push({
                id,
                kind: kind === 'spilled' ? 'entity' : kind,
                promised: true,
                cloudTaskName: deferral.cloudTaskName!,
              });
            }),
          ),
        );
        const deferredMs = performance.now() - started;
        await expect.poll(() => ledger.completed, { timeout: 540_000, interval: 250 }).toBe(TASKS);
        const ranMs = performance.now() - started;
        await expect
          .poll(async () => (await client.listTasks({ parent: `${parent}/queues/${queue}` }))[0].length, {
            timeout: 60_000,
            interval: 250,
          })
          .toBe(0);

        await sweep({
          datastore: ctx().datastore,
          tasks: client,
          now: new Date(Date.now() + 8 * DAY),
          log: silentLogger,
        });
        const counts = tally(
          `${TASKS} mixed tasks, concurrency ${CONCURRENCY}, 2 % answers lost, 1 % refused`,
          ctx().backend,
          expected,
          ledger,
          {
            leaks: total(await leftovers(ctx())),
            missingTaskNames: logger.entries.filter((e) => e.outcome === 'missing').map((e) => String(e.taskName)),
          },
        );
        counts.throughput = `${Math.round((TASKS * 1000) / ranMs)} tasks/s (deferred at ${Math.round((TASKS * 1000) / deferredMs)}/s)`;
        report(counts);
        const inlineReruns = expected.filter((e) => e.kind === 'inline' && ledger.ends(e.id) > 1).length;
        const duplicates = logger.entries.filter((e) => e.outcome === 'duplicate').length;
        process.stdout.write(
          `[load] ${ctx().backend}: ${faults.dropped} answers dropped, ${faults.refused} refused; ${inlineReruns} inline re-runs, ${duplicates} duplicate deliveries ignored; ${Math.round(ranMs)} ms\n`,
        );
        expect(counts).toMatchObject({ lost: 0, doubleRuns: 0, livePayloadsDeleted: 0, leaks: 0 });
        expect(faults.dropped).toBeGreaterThan(0);
        expect(duplicates).toBeGreaterThan(0);
      } finally {
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
        await client.close();
        await emulator.stop();
      }
    });
  });
});
