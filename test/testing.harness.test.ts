// createTestHarness (cloud-deferred/testing): one set of behaviours, checked on the in-memory backend and on the local
// stack with both Datastore emulators, so what the in-memory backend claims is what the emulators do.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import type { Key } from '@google-cloud/datastore';
import { describe, expect, it } from 'vitest';
import { createDeferred } from '../src/runtime/deferred-runtime.js';
import { ConfigurationError, PermanentTaskFailure } from '../src/errors/index.js';
import { RunLimitError } from '../src/errors/testing.js';
import { currentTask } from '../src/core/run-context.js';
import { defineMapper } from '../src/jobs/mapper.js';
import { defineRecurringJob } from '../src/jobs/recurring.js';
import { TASK_KIND } from '../src/store/schema.js';
import { createTestHarness, type HarnessEnvironment } from '../src/testing/harness.js';
import type { TaskInfo } from '../src/types.js';
import { clearNamespace } from './support/backends.js';
import { describeHarness } from './support/stores.js';

const SECRET = 'harness-test-secret-0123456789';
const START = Date.parse('2026-03-01T09:00:00Z');

/** A small shop: orders placed in a transaction defer their shipping; shipping marks the order shipped. `after`: settings that take the place of the harness's. */
function shop(
  env: HarnessEnvironment,
  settings: Partial<Parameters<typeof createDeferred>[0]> = {},
  after: Partial<Parameters<typeof createDeferred>[0]> = {},
) {
  const deferred = createDeferred({ secret: SECRET, ...settings, ...env, ...after });
  const { datastore } = env;
  const calls: { task: string; args: unknown[]; info: TaskInfo }[] = [];
  const note = (task: string, args: unknown[]) => calls.push({ task, args, info: currentTask()! });
  const shipOrder = deferred.task('shipOrder', async (orderId: string) => {
    note('shipOrder', [orderId]);
    const key = datastore.key(['Order', orderId]);
    await deferred.transaction(async (tx) => {
      const [order] = await tx.get(key);
      tx.save({ key, data: { ...order, status: 'shipped' } });
    });
    await notify.defer(orderId, `order ${orderId} shipped`);
  });
  const notify = deferred.task('notify', (orderId: string, text: string) => note('notify', [orderId, text]));
  async function placeOrder(orderId: string, options: { paid?: boolean } = {}) {
    await deferred.transaction(async (tx) => {
      tx.save({ key: datastore.key(['Order', orderId]), data: { status: 'placed' } });
      await tx.defer(shipOrder, orderId);
      if (options.paid === false) throw new Error(`order ${orderId} is not paid`);
    });
  }
  async function orderStatus(orderId: string) {
    const [order] = await datastore.get(datastore.key(['Order', orderId]));
    return (order as { status?: string } | undefined)?.status;
  }
  return { deferred, datastore, calls, shipOrder, notify, placeOrder, orderStatus };
}

describeHarness('createTestHarness', (ctx) => {
  it('deferred() shows what waits, with decoded arguments and ETA; drain() runs it and what it defers, in order', async () => {
    const h = await ctx().start((env) => shop(env), { now: START });
    await h.app.placeOrder('o1');
    const waiting = await h.deferred();
    expect(waiting).toMatchObject([
      { task: 'shipOrder', args: ['o1'], due: true, entityBacked: true, queue: 'default', eta: new Date(START) },
    ]);
    expect(await h.deferred({ task: 'shipOrder', queue: 'default' })).toEqual(waiting);
    expect(await h.deferred({ task: 'notify' })).toEqual([]);
    expect(await h.deferred({ queue: 'emails' })).toEqual([]);
    const runs = await h.drain();
    expect(runs.map((r) => [r.task, r.outcome, r.args])).toEqual([
      ['shipOrder', 'done', ['o1']],
      ['notify', 'done', ['o1', 'order o1 shipped']],
    ]);
    expect(await h.app.orderStatus('o1')).toBe('shipped');
    // The child was held until its parent succeeded and named after it.
    expect(runs[1]!.cloudTaskName).toBe(`${runs[0]!.cloudTaskName}-1`);
    expect(h.runs).toEqual(runs);
    expect(await h.deferred()).toEqual([]);
    expect(await h.drain()).toEqual([]);
  });

  it('a rolled-back transaction leaves nothing to run; typed values arrive as they were deferred', async () => {
    const h = await ctx().start((env) => {
      const app = shop(env);
      const record = app.deferred.task('record', (when: Date, counts: Map<string, bigint>, raw: Buffer) =>
        app.calls.push({ task: 'record', args: [when, counts, raw], info: currentTask()! }),
      );
      return { ...app, record };
    });
    await expect(h.app.placeOrder('o2', { paid: false })).rejects.toThrow('not paid');
    expect(await h.deferred()).toEqual([]);
    const args: [Date, Map<string, bigint>, Buffer] = [
      new Date('2026-01-02T03:04:05Z'),
      new Map([['n', 2n ** 70n]]),
      Buffer.from([1, 2]),
    ];
    await h.app.record.defer(...args);
    expect((await h.deferred())[0]!.args).toEqual(args);
    await h.drain();
    expect(h.app.calls.map((c) => c.args)).toEqual([args]);
    expect(await h.app.orderStatus('o2')).toBeUndefined();
  });

  it('runNext() delivers one due task at a time, first created first; null when nothing is due', async () => {
    const h = await ctx().start((env) => shop(env));
    await h.app.notify.defer('a', 'first');
    await h.app.notify.defer('b', 'second');
    await h.app.notify.with({ delay: '1m' }).defer('c', 'later');
    expect((await h.runNext())?.args).toEqual(['a', 'first']);
    expect((await h.runNext())?.args).toEqual(['b', 'second']);
    expect(await h.runNext()).toBeNull();
    expect((await h.deferred()).map((w) => [w.args, w.due])).toEqual([[['c', 'later'], false]]);
  });

  it('advance() runs delayed tasks and ETAs when their time comes, and not before', async () => {
    const h = await ctx().start((env) => shop(env), { now: START });
    await h.app.notify.with({ delay: '5m' }).defer('d', 'in five minutes');
    await h.app.notify.with({ eta: new Date(START + 3_600_000) }).defer('e', 'at ten');
    expect((await h.deferred()).map((w) => w.eta)).toEqual([new Date(START + 300_000), new Date(START + 3_600_000)]);
    expect(await h.drain()).toEqual([]);
    expect(await h.advance('4m')).toEqual([]);
    const first = await h.advance('1m');
    expect(first.map((r) => [r.args?.[0], r.at])).toEqual([['d', new Date(START + 300_000)]]);
    expect(h.now()).toEqual(new Date(START + 300_000));
    const second = await h.advance('2h');
    expect(second.map((r) => [r.args?.[0], r.at])).toEqual([['e', new Date(START + 3_600_000)]]);
    expect(h.now()).toEqual(new Date(START + 300_000 + 7_200_000));
  });

  it('retries on the queue’s backoff, with the retry count in currentTask(), until maxAttempts records a failure', async () => {
    const h = await ctx().start(
      (env) => {
        const app = shop(env);
        const flaky = app.deferred.task(
          'flaky',
          () => {
            app.calls.push({ task: 'flaky', args: [], info: currentTask()! });
            throw new Error('the supplier is down');
          },
          { maxAttempts: 4 },
        );
        return { ...app, flaky };
      },
      {
        now: START,
        queues: {
          default: {
            retryConfig: {
              maxAttempts: 10,
              minBackoff: { seconds: 10 },
              maxBackoff: { seconds: 300 },
              maxDoublings: 16,
            },
          },
        },
      },
    );
    await h.app.flaky.defer();
    const [first] = await h.drain();
    expect(first).toMatchObject({
      outcome: 'retry',
      attempt: 1,
      error: 'Error: the supplier is down',
      nextAttemptAt: new Date(START + 10_000),
    });
    const later = await h.advance('10m');
    expect(later.map((r) => [r.attempt, r.outcome, r.at.getTime() - START])).toEqual([
      [2, 'retry', 10_000],
      [3, 'retry', 30_000],
      [4, 'failed', 70_000],
    ]);
    expect(h.app.calls.map((c) => c.info.retryCount)).toEqual([0, 1, 2, 3]);
    expect(h.failures).toEqual([later[2]]);
    expect(h.failures[0]!.error).toMatch(/gave up after 4 of 4 attempts/);
    expect(await h.deferred()).toEqual([]);
    // The failure is recorded as a `failed` task entity (the dead-letter record), with its error.
    const [records] = await h.datastore.runQuery(h.datastore.createQuery(TASK_KIND));
    expect(records.map((r) => [r.state, r.task])).toEqual([['failed', 'flaky']]);
  });

  it('records a PermanentTaskFailure as a failure without a retry', async () => {
    const h = await ctx().start((env) => {
      const app = shop(env);
      const refuse = app.deferred.task('refuse', (why: string) => {
        throw new PermanentTaskFailure(why);
      });
      return { ...app, refuse };
    });
    await h.app.refuse.defer('no such customer');
    const [run] = await h.drain();
    expect(run).toMatchObject({
      outcome: 'failed',
      error: 'PermanentTaskFailure: no such customer',
      nextAttemptAt: null,
    });
    expect(h.failures).toEqual([run]);
  });

  it('runs an entity-backed task once: a second delivery of the same task is a duplicate', async () => {
    const h = await ctx().start((env) => shop(env));
    const deferral = await h.app.notify.with({ entityBacked: true }).defer('x', 'once');
    const [task] = await h.tasks.getTask({ name: deferral.cloudTaskName!, responseView: 'FULL' });
    // The same request again under another name: what a duplicate delivery of Cloud Tasks looks like to the handler.
    await h.tasks.createTask({
      parent: deferral.cloudTaskName!.replace(/\/tasks\/.*$/, ''),
      task: { httpRequest: task.httpRequest, name: `${deferral.cloudTaskName}-copy` },
    });
    const runs = await h.drain();
    expect(runs.map((r) => r.outcome)).toEqual(['done', 'duplicate']);
    expect(h.app.calls.map((c) => c.args)).toEqual([['x', 'once']]);
  });

  it('spills a large payload into an entity (chunked past 900 KB) and hands it over whole', async () => {
    const h = await ctx().start((env) => {
      const app = shop(env);
      const big = app.deferred.task('big', (blob: Buffer, text: string) =>
        app.calls.push({ task: 'big', args: [blob.length, text.length], info: currentTask()! }),
      );
      return { ...app, big };
    });
    const random = randomBytes(1_500_000); // gzip cannot shrink it: two chunks
    await h.app.big.defer(random, 'y'.repeat(200_000));
    const [waiting] = await h.deferred();
    expect(waiting).toMatchObject({ task: 'big', entityBacked: true });
    expect((waiting!.args![0] as Buffer).equals(random)).toBe(true);
    const [entity] = await h.datastore.get(waiting!.entityKey!);
    expect(entity.chunks).toBeGreaterThan(1);
    expect((await h.drain()).map((r) => r.outcome)).toEqual(['done']);
    expect(h.app.calls.map((c) => c.args)).toEqual([[1_500_000, 200_000]]);
  });

  it('hops a task due beyond the 30-day horizon and runs it at its ETA', async () => {
    const h = await ctx().start((env) => shop(env), { now: START });
    const due = START + 45 * 86_400_000;
    await h.app.notify.with({ delay: '45d' }).defer('far', 'in 45 days');
    const [waiting] = await h.deferred();
    expect(waiting!.eta).toEqual(new Date(due));
    expect(waiting!.nextAttemptAt.getTime()).toBeLessThan(START + 30 * 86_400_000);
    const runs = await h.advance('45d');
    expect(runs.map((r) => r.outcome)).toEqual(['hopped', 'done']);
    expect(runs[1]!.at).toEqual(new Date(due));
    expect(h.app.calls.map((c) => c.args)).toEqual([['far', 'in 45 days']]);
  });

  it('ticks a recurring job on its schedule as time moves', async () => {
    const h = await ctx().start(
      (env) => {
        const app = shop(env);
        let runs = 0;
        const hourly = defineRecurringJob(app.deferred, 'hourly', { every: '1h' }, () => `run ${++runs}`);
        return { ...app, hourly };
      },
      { now: START },
    );
    await h.app.hourly.ensure();
    const ticks = await h.advance('3h30m');
    expect(ticks.map((r) => [r.outcome, r.at.getTime() - START])).toEqual([
      ['done', 3_600_000],
      ['done', 7_200_000],
      ['done', 10_800_000],
    ]);
    expect(await h.app.hourly.status()).toMatchObject({
      runs: 3,
      lastRunMessage: 'run 3',
      nextDue: new Date(START + 14_400_000),
    });
  });

  it('runs a mapper over entities in batches, continuing from query cursors', async () => {
    const h = await ctx().start((env) => {
      const app = shop(env);
      const touch = defineMapper(app.deferred, 'touch', {
        query: (datastore) => datastore.createQuery('Account'),
        map: (account, mapper) =>
          mapper.put({ key: account[env.datastore.KEY] as Key, data: { ...account, touched: true } }),
        batchSize: 2,
      });
      return { ...app, touch };
    });
    await h.datastore.save([1, 2, 3, 4, 5].map((i) => ({ key: h.datastore.key(['Account', `a${i}`]), data: { i } })));
    const jobId = await h.app.touch.start();
    await h.drain();
    expect(await h.app.touch.status(jobId)).toMatchObject({ status: 'succeeded', processed: 5 });
    const [accounts] = await h.datastore.runQuery(h.datastore.createQuery('Account'));
    expect(accounts.map((a) => a.touched)).toEqual([true, true, true, true, true]);
  });

  it('hands a Key argument over as the app’s key, which saves as a key value', async () => {
    const h = await ctx().start((env) => {
      const app = shop(env);
      const link = app.deferred.task('link', async (target: ReturnType<typeof env.datastore.key>) => {
        await env.datastore.save({ key: env.datastore.key(['Link', 'l']), data: { target } });
      });
      return { ...app, link };
    });
    await h.app.link.defer(h.datastore.key(['Order', 'o9']));
    await h.drain();
    const [link] = await h.datastore.get(h.datastore.key(['Link', 'l']));
    expect(h.datastore.isKey(link.target)).toBe(true);
    expect(link.target.path).toEqual(['Order', 'o9']);
  });

  it('sweep() reclaims finished task entities once their retention has passed', async () => {
    const h = await ctx().start((env) => shop(env), { now: START });
    await h.app.placeOrder('o3');
    await h.app.notify.with({ entityBacked: true, retention: '1h' }).defer('o3', 'kept an hour');
    await h.drain();
    const count = async () =>
      (await h.datastore.runQuery(h.datastore.createQuery(TASK_KIND).select('__key__')))[0].length;
    expect(await count()).toBe(2); // shipOrder's (transactional) and notify's; shipOrder's child was inline
    expect((await h.sweep()).stats.deleted.done).toBe(0);
    await h.advance('2h');
    expect((await h.sweep()).stats.deleted.done).toBe(1); // notify's hour is over; shipOrder's 7 days are not
    expect(await count()).toBe(1);
    await h.advance('7d');
    expect((await h.sweep()).stats.deleted.done).toBe(1);
    expect(await count()).toBe(0);
  });

  it('runs a transactional task written in a tenant’s namespace there, and sweep() reclaims it there', async () => {
    const h = await ctx().start((env) => shop(env), { now: START });
    const home = h.datastore.namespace ?? '';
    const tenant = `${home}-acme`;
    try {
      await h.app.deferred.transaction(async (tx) => {
        tx.save({ key: h.datastore.key({ namespace: tenant, path: ['Order', 't1'] }), data: { status: 'placed' } });
        await tx.defer(h.app.notify, 't1', 'a tenant’s order');
      });
      const [waiting] = await h.deferred();
      expect(waiting).toMatchObject({ task: 'notify', args: ['t1', 'a tenant’s order'], entityBacked: true });
      expect(waiting!.entityKey!.namespace).toBe(tenant);
      expect((await h.drain()).map((r) => r.outcome)).toEqual(['done']);
      await h.advance('8d'); // past the 7 days a finished task entity is kept
      const swept = await h.sweep();
      expect(swept.namespaces.map((n) => n.namespace)).toEqual([home, tenant]);
      expect(swept.namespaces[1]!.stats.deleted.done).toBe(1);
      expect((await h.datastore.runQuery(h.datastore.createQuery(tenant, TASK_KIND)))[0]).toEqual([]);
    } finally {
      await clearNamespace(h.datastore, tenant);
    }
  });

  it('shows a paused queue’s tasks as waiting but delivers nothing from it until it is resumed', async () => {
    const h = await ctx().start((env) => shop(env));
    await h.app.notify.defer('p', 'paused');
    const queue = `projects/test-project/locations/us-central1/queues/default`;
    await h.tasks.pauseQueue({ name: queue });
    expect(await h.deferred()).toMatchObject([{ args: ['p', 'paused'], paused: true, due: false }]);
    expect(await h.drain()).toEqual([]);
    await h.tasks.resumeQueue({ name: queue });
    expect((await h.drain()).map((r) => r.outcome)).toEqual(['done']);
  });

  it("runs an app with its production oidc settings: each delivery carries the harness's token, which the handler checks", async () => {
    const h = await ctx().start(
      (env) => shop(env, { oidc: { serviceAccountEmail: 'tasks@prod-project.iam.gserviceaccount.com' } }),
      { now: START },
    );
    await h.app.placeOrder('o1');
    const runs = await h.drain();
    expect(runs.map((r) => [r.task, r.outcome, r.status])).toEqual([
      ['shipOrder', 'done', 200],
      ['notify', 'done', 200],
    ]);
    expect(await h.app.orderStatus('o1')).toBe('shipped');
    // The handler checks the token against the keys it is given: keys other than the harness's refuse every delivery.
    const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const otherKeys = { keys: [{ ...publicKey.export({ format: 'jwk' }), alg: 'RS256', use: 'sig', kid: 'other' }] };
    const pinned = await ctx().start((env) => shop(env, {}, { oidc: { ...env.oidc, jwks: otherKeys } }), {
      now: START,
    });
    await pinned.app.placeOrder('o2');
    const refused = await pinned.runNext();
    expect(refused).toMatchObject({ task: 'shipOrder', outcome: 'forbidden', status: 403 });
    expect(pinned.app.calls).toEqual([]);
  });

  it('stops drain() with a RunLimitError when a task keeps deferring itself', async () => {
    const h = await ctx().start((env) => {
      const app = shop(env);
      const forever: { defer(): Promise<unknown> } = app.deferred.task('forever', () => forever.defer());
      return { ...app, forever };
    });
    await h.app.forever.defer();
    await expect(h.drain({ maxRuns: 5 })).rejects.toBeInstanceOf(RunLimitError);
    expect(h.runs).toHaveLength(5);
  });
});

describe('createTestHarness: configuration', () => {
  it('refuses an app whose Deferred does not use the harness’s clients and clock, naming them', async () => {
    const attempt = createTestHarness((env) =>
      createDeferred({
        ...env,
        secret: SECRET,
        clock: { now: () => Date.now() },
        handlerUrl: 'https://worker.example.com/_deferred',
      }),
    );
    await expect(attempt).rejects.toBeInstanceOf(ConfigurationError);
    await expect(
      createTestHarness((env) => createDeferred({ ...env, secret: SECRET, clock: { now: () => 0 } })),
    ).rejects.toThrow(/does not use the harness's clock/);
    await expect(createTestHarness(() => ({ nothing: true }))).rejects.toThrow(/must return the Deferred/);
  });
});
