// The README's examples: each examples/*.ts appears verbatim in README.md, and here each one runs on the emulators.
import { readFileSync, readdirSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { createWorker, deferReports } from '../examples/quickstart.js';
import { orderTasks } from '../examples/transactional.js';
import { creditTasks } from '../examples/chaining.js';
import { receiptTasks } from '../examples/bulk.js';
import { Invoice, invoiceTasks } from '../examples/classes.js';
import { recordTaskMetrics } from '../examples/metrics.js';
import { metrics } from '@opentelemetry/api';
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import { PermanentTaskFailure } from '../src/errors/index.js';
import { replayFailedReports } from '../examples/failures.js';
import { taskIdOf } from '../src/core/task-names.js';
import { freePort } from '../src/local-stack/datastore-emulator.js';
import { ManualClock, startTasksEmulator } from '../src/tasks-emulator/index.js';
import { TASK_KIND } from '../src/store/schema.js';
import { describeStorage } from './support/backends.js';
import { useRuntime } from './support/runtime.js';

const root = new URL('../', import.meta.url);

describe('README examples', () => {
  it('every examples/*.ts file is included verbatim in README.md', () => {
    const readme = readFileSync(new URL('README.md', root), 'utf8');
    const files = readdirSync(new URL('examples/', root)).filter((f) => f.endsWith('.ts'));
    expect(files.length).toBeGreaterThanOrEqual(4);
    for (const file of files) {
      const text = readFileSync(new URL(`examples/${file}`, root), 'utf8');
      expect(readme, `README.md must include examples/${file} verbatim in a ts block`).toContain(
        `\`\`\`ts\n${text}\`\`\``,
      );
    }
  });

  const setup = useRuntime();

  describeStorage('run', (ctx) => {
    it('quickstart: three defers, all delivered by the emulator to the node:http handler', async () => {
      const clock = new ManualClock();
      const emulator = await startTasksEmulator({ clock, autoCreateQueues: true });
      const tasks = emulator.createClient();
      const port = await freePort();
      const worker = createWorker({
        datastore: ctx().datastore,
        tasks,
        handlerUrl: `http://127.0.0.1:${port}/_deferred`,
      });
      await new Promise<void>((resolve) => worker.server.listen(port, '127.0.0.1', resolve));
      try {
        expect((worker.server.address() as AddressInfo).port).toBe(port);
        await deferReports(worker);
        await clock.advance(1000); // the worker schedules by the system clock, a little ahead of this ManualClock
        expect(worker.sent).toHaveLength(2);
        await clock.advance(6 * 60_000);
        expect(worker.sent.sort()).toEqual([
          expect.stringMatching(/^u1 since 2026-01-01T00:00:00.000Z \(retry 0, \w+\)$/),
          'u2 since 2026-01-01T00:00:00.000Z (retry 0, report-u2-2026-01)',
          expect.stringMatching(/^u3 since/),
        ]);
      } finally {
        worker.server.closeAllConnections();
        await new Promise((resolve) => worker.server.close(resolve));
        await tasks.close();
        await emulator.stop();
      }
    });

    it('transactional: a paid order ships once; an unpaid one leaves no order and no task', async () => {
      const rt = await setup(ctx());
      const { placeOrder, shipped } = orderTasks(rt.deferred, ctx().datastore);
      await placeOrder('o-1', true);
      await expect(placeOrder('o-2', false)).rejects.toThrow('order o-2 is not paid');
      await rt.advance();
      expect(shipped).toEqual(['o-1']);
      const [orders] = await ctx().datastore.runQuery(ctx().datastore.createQuery('Order'));
      expect(orders).toHaveLength(1);
    });

    it('chaining: the credit job pages through every account once; a bad amount fails permanently', async () => {
      const rt = await setup(ctx());
      const { datastore } = ctx();
      await datastore.save(
        [1, 2, 3, 4, 5].map((n) => ({ key: datastore.key(['Account', `a${n}`]), data: { balance: n } })),
      );
      const { addCredit, pages } = creditTasks(rt.deferred, datastore);
      await addCredit.bind({ amount: 10 }).defer(null);
      for (let i = 0; i < 5; i++) await rt.advance(1000);
      const [accounts] = await datastore.runQuery(datastore.createQuery('Account'));
      expect(accounts.map((a) => a.balance).sort((a, b) => a - b)).toEqual([11, 12, 13, 14, 15]);
      expect(pages.reduce((a, b) => a + b, 0)).toBe(5);

      await addCredit.bind({ amount: 0 }).defer(null);
      await rt.advance();
      const [failed] = await datastore.runQuery(datastore.createQuery(TASK_KIND));
      expect(failed.map((f) => f.lastError)).toEqual(['PermanentTaskFailure: amount must be positive, got 0']);
    });

    it('bulk: receipts for many orders in one call, each once though asked twice; reminders a day later', async () => {
      const rt = await setup(ctx());
      const { sendReceipts, remindLater, sent } = receiptTasks(rt.deferred);
      const orders = Array.from({ length: 120 }, (_, i) => `o${i}`);
      await sendReceipts(orders);
      await sendReceipts(orders.slice(0, 30)); // a retried request: the names are taken, nothing is added
      for (let i = 0; i < 3; i++) await rt.advance(1000);
      expect(sent.sort()).toEqual([...orders].sort());
      const reminders = await remindLater(['o1', 'o2']);
      expect(reminders.map((d) => d.eta.getTime())).toEqual(Array(2).fill(rt.clock.now() + 86_400_000));
      await rt.advance(86_400_000);
      expect(sent.filter((o) => o === 'o1' || o === 'o2')).toHaveLength(4);
    });

    it('failures: lists why a task failed, replays it once', async () => {
      const rt = await setup(ctx());
      let broken = true;
      const sent: string[] = [];
      const sendReport = rt.deferred.task(
        'sendReport',
        (user: string) => {
          if (broken) throw new Error(`SMTP 451 for ${user}`);
          sent.push(user);
        },
        { maxAttempts: 2 },
      );
      const since = rt.clock.now();
      const deferral = await sendReport.defer('u1');
      await rt.advance();
      await rt.advance(60_000);
      broken = false;
      const key = `failed.${rt.queue}.${taskIdOf(deferral.cloudTaskName!)}`;
      expect(await replayFailedReports(rt.deferred, since)).toEqual([
        `${key}: 2 attempts, the last answered 200: Error: SMTP 451 for u1 (gave up after 2 of 2 attempts)`,
        `retried ${key} as ${deferral.cloudTaskName}-r1`,
      ]);
      await rt.advance();
      expect(sent).toEqual(['u1']);
      expect(await replayFailedReports(rt.deferred, since)).toEqual([]); // nothing failed is left
    });

    it('classes: a method runs on the instance loaded from its key', async () => {
      const rt = await setup(ctx());
      Invoice.sentVia = [];
      Invoice.store.set('inv-1', new Invoice('inv-1'));
      const { invoices } = invoiceTasks(rt.deferred);
      await invoices.defer(new Invoice('inv-1', 'open'), 'send', 'email');
      await rt.advance();
      expect(Invoice.sentVia).toEqual(['inv-1 by email']);
      expect(Invoice.store.get('inv-1')!.status).toBe('sent');
    });

    it('classes: sendAll defers one method call per instance in one deferMany', async () => {
      const rt = await setup(ctx());
      Invoice.sentVia = [];
      for (const id of ['inv-2', 'inv-3']) Invoice.store.set(id, new Invoice(id));
      const { sendAll } = invoiceTasks(rt.deferred);
      const deferrals = await sendAll([new Invoice('inv-2'), new Invoice('inv-3')]);
      expect(deferrals.map((d) => d.task)).toEqual(['Invoice.send', 'Invoice.send']);
      await rt.advance();
      expect(Invoice.sentVia.sort()).toEqual(['inv-2 by email', 'inv-3 by email']);
    });

    it('metrics: task outcomes and durations are counted from the events, by task and outcome', async () => {
      const reader = new CollectingReader();
      const provider = new MeterProvider({ readers: [reader] });
      metrics.setGlobalMeterProvider(provider);
      try {
        const rt = await setup(ctx());
        recordTaskMetrics(rt.deferred);
        const work = rt.deferred.task('work', (fail: boolean) => {
          if (fail) throw new PermanentTaskFailure('bad input');
        });
        await work.defer(false);
        await work.defer(false);
        await work.defer(true);
        await rt.advance();
        const { resourceMetrics } = await reader.collect();
        const points = (name: string) =>
          resourceMetrics.scopeMetrics
            .flatMap((scope) => scope.metrics)
            .filter((metric) => metric.descriptor.name === name)
            .flatMap((metric) => metric.dataPoints as { attributes: Record<string, unknown>; value: unknown }[]);
        const runs = points('deferred_task_runs').map((p) => [p.attributes.outcome, p.value]);
        expect(runs.sort()).toEqual([
          ['taskFailed', 1],
          ['taskSucceeded', 2],
        ]);
        const durations = points('deferred_task_duration_ms').map((p) => (p.value as { count: number }).count);
        expect(durations.sort()).toEqual([1, 2]);
        const deferred = points('deferred_tasks_deferred').map((p) => [
          p.attributes.task,
          p.attributes.status,
          p.value,
        ]);
        expect(deferred).toEqual([['work', 'enqueued', 3]]);
      } finally {
        await provider.shutdown();
        metrics.disable();
      }
    });
  });
});

/** A metric reader the test collects from when it wants (a pull reader, as Prometheus's is). */
class CollectingReader extends MetricReader {
  protected onForceFlush(): Promise<void> {
    return Promise.resolve();
  }
  protected onShutdown(): Promise<void> {
    return Promise.resolve();
  }
}
