// Namespaces: transactional tasks in tenants' namespaces are registered once, swept there (re-driven, reclaimed), fanned out over and counted; deliveries resolve only into them.
import { Datastore } from '@google-cloud/datastore';
import type { CloudTasksClient } from '@google-cloud/tasks';
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryLogger, silentLogger } from '../src/core/logger.js';
import { NAMESPACE_KIND, TASK_KIND } from '../src/store/schema.js';
import { discoverNamespaces, installSweeper, segmentTaskId, sweep } from '../src/sweeper/index.js';
import { clearNamespace, describeStorage, type StorageContext } from './support/backends.js';
import { useRuntime, type RuntimeFixture } from './support/runtime.js';
import { DAY, MINUTE } from './support/time.js';

/** A Cloud Tasks client whose next `createTask` fails as a lost enqueue would (the process died before it). */
function losingNextEnqueue(client: CloudTasksClient): { client: CloudTasksClient; loseNext: () => void } {
  let lose = false;
  const proxy = new Proxy(client, {
    get(target, property, receiver) {
      if (property === 'createTask' && lose) {
        return () => {
          lose = false;
          return Promise.reject(Object.assign(new Error('14 UNAVAILABLE: lost'), { code: 14 }));
        };
      }
      const value = Reflect.get(target, property, receiver) as unknown;
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  }) as CloudTasksClient;
  return { client: proxy, loseNext: () => (lose = true) };
}

async function drain(rt: RuntimeFixture): Promise<void> {
  for (let i = 0; i < 100; i++) {
    await rt.advance();
    if ((await rt.listTasks()).length === 0) return;
  }
  throw new Error(`queue did not drain: ${(await rt.listTasks()).join(', ')}`);
}

describe('namespaces', () => {
  const setup = useRuntime();

  describeStorage('a runtime that defers into tenants’ namespaces', (ctx) => {
    const created: string[] = [];
    /** A namespace of this test's own (cleared afterwards). */
    const tenant = (name: string) => {
      const namespace = `${ctx().namespace}-${name}`;
      created.push(namespace);
      return namespace;
    };
    afterEach(async () => {
      for (const namespace of created.splice(0)) await clearNamespace(ctx().datastore, namespace);
    });
    const keyIn = (namespace: string, ...path: string[]) => ctx().datastore.key({ namespace, path });
    const tasksIn = async (namespace: string) =>
      (await ctx().datastore.runQuery(ctx().datastore.createQuery(namespace, TASK_KIND)))[0];
    const registryEntry = async (namespace: string) =>
      (await ctx().datastore.get(ctx().datastore.key([NAMESPACE_KIND, `ns:${namespace}`])))[0] as
        Record<string, unknown> | undefined;

    it('registers a tenant namespace once per process; sweep() re-drives a lost enqueue there, reclaims, then forgets it', async () => {
      const real = await setup(ctx());
      const tasks = losingNextEnqueue(real.client);
      const rt = await setup(ctx(), { tasks: tasks.client, queue: real.queue });
      const ran: string[] = [];
      const ship = rt.deferred.task('ship', (id: string) => void ran.push(id));
      const acme = tenant('acme');
      const placeOrder = (id: string) =>
        rt.deferred.transaction(async (tx) => {
          tx.save({ key: keyIn(acme, 'Order', id), data: { status: 'paid' } });
          return tx.defer(ship, id);
        });

      tasks.loseNext();
      const lost = await placeOrder('o1'); // committed in acme's entity group; its enqueue is lost
      expect(lost.entityKey!.namespace).toBe(acme);
      expect(ran).toEqual([]);
      const registered = await registryEntry(acme);
      expect(registered).toMatchObject({ namespace: acme });
      await rt.advance(MINUTE);
      await placeOrder('o2');
      await rt.advance();
      expect(ran).toEqual(['o2']);
      // The second defer into acme wrote no registration: the entry is the first one.
      expect((await registryEntry(acme))!.refreshedAt).toEqual(registered!.refreshedAt);

      const log = new MemoryLogger();
      const first = await sweep({
        datastore: ctx().datastore,
        tasks: rt.client,
        now: new Date(rt.clock.now() + 20 * MINUTE),
        log,
      });
      expect(first.namespaces.map((n) => n.namespace)).toEqual([ctx().namespace, acme]);
      expect(first.namespaces[0]!.shards).toBe(16);
      expect(first.namespaces[1]!.stats).toMatchObject({ redriven: 1 });
      expect(log.entries.find((e) => e.event === 'redriven')).toMatchObject({ namespace: acme });
      await rt.advance();
      expect(ran.sort()).toEqual(['o1', 'o2']);

      const reclaimed = await sweep({
        datastore: ctx().datastore,
        tasks: rt.client,
        now: new Date(rt.clock.now() + 8 * DAY),
        log: silentLogger,
      });
      expect(reclaimed.namespaces[1]!.stats.deleted.done).toBe(2);
      expect(await tasksIn(acme)).toEqual([]);
      expect(await registryEntry(acme)).toBeDefined(); // registered for 30 days

      const idle = await sweep({
        datastore: ctx().datastore,
        tasks: rt.client,
        now: new Date(rt.clock.now() + 31 * DAY),
        log: silentLogger,
      });
      expect(idle.namespaces.find((n) => n.namespace === acme)).toMatchObject({ shards: 0 });
      expect(await registryEntry(acme)).toBeUndefined(); // idle and run out: forgotten
    });

    it('a process renews a registration once less than 15 days of it are left, and never for its own namespace', async () => {
      const rt = await setup(ctx());
      const noop = rt.deferred.task('noop', () => undefined);
      const acme = tenant('acme');
      const deferInto = (account: ReturnType<typeof keyIn>) =>
        rt.deferred.transaction(async (tx) => {
          tx.save({ key: account, data: { n: 1 } });
          await tx.defer(noop);
        });
      await deferInto(ctx().datastore.key(['Account', 'x'])); // the runtime's own namespace: no registry entry
      expect((await ctx().datastore.runQuery(ctx().datastore.createQuery(NAMESPACE_KIND)))[0]).toEqual([]);

      await deferInto(keyIn(acme, 'Account', 'x'));
      const first = (await registryEntry(acme))!;
      expect((first.registeredUntil as Date).getTime() - (first.refreshedAt as Date).getTime()).toBe(30 * DAY);
      await rt.advance(14 * DAY);
      await deferInto(keyIn(acme, 'Account', 'x')); // 16 days left: relied on
      expect((await registryEntry(acme))!.refreshedAt).toEqual(first.refreshedAt);
      await rt.advance(2 * DAY);
      await deferInto(keyIn(acme, 'Account', 'x')); // 14 days left: renewed before the commit
      const renewed = (await registryEntry(acme))!;
      expect((renewed.refreshedAt as Date).getTime()).toBe(rt.clock.now());
      expect((renewed.registeredUntil as Date).getTime()).toBe(rt.clock.now() + 30 * DAY);
    });

    it('a registry write that fails rolls the transaction back: nothing is committed where no sweep would look', async () => {
      let failUpserts = 1;
      const flaky = new Proxy(ctx().datastore, {
        get(target, property, receiver) {
          if (property === 'upsert' && failUpserts > 0) {
            return () => {
              failUpserts--;
              return Promise.reject(Object.assign(new Error('14 UNAVAILABLE: registry write lost'), { code: 14 }));
            };
          }
          return Reflect.get(target, property, receiver) as unknown; // methods run on the proxy, reading through it
        },
      });
      const rt = await setup({ ...ctx(), datastore: flaky });
      const noop = rt.deferred.task('noop', () => undefined);
      const acme = tenant('acme');
      const order = keyIn(acme, 'Order', 'o1');
      const placeOrder = () =>
        rt.deferred.transaction(async (tx) => {
          tx.save({ key: order, data: { status: 'paid' } });
          return tx.defer(noop);
        });
      await expect(placeOrder()).rejects.toThrow(/registry write lost/);
      expect((await ctx().datastore.get(order))[0]).toBeUndefined();
      expect(await tasksIn(acme)).toEqual([]);
      expect(await registryEntry(acme)).toBeUndefined();
      expect(await rt.listTasks()).toEqual([]);

      const deferral = await placeOrder(); // the next one registers and commits
      expect(deferral.entityKey!.namespace).toBe(acme);
      expect(await registryEntry(acme)).toMatchObject({ namespace: acme });
      expect(await tasksIn(acme)).toHaveLength(1);
    });

    it('the distributed sweep fans out shard tasks per namespace, with deterministic names, and its run adds them up', async () => {
      const rt = await setup(ctx(), { shards: 4 }); // entities written over 4 shards: at most 4 shard tasks a tenant
      const sweeper = installSweeper(rt.deferred, {
        shards: 2,
        olderThanMs: 0,
        graceMs: 10 * MINUTE,
        log: silentLogger,
      });
      const noop = rt.deferred.task('noop', () => undefined);
      const [a, b] = [tenant('a'), tenant('b')];
      for (const namespace of [a, b]) {
        await rt.deferred.transaction(async (tx) => {
          tx.save({ key: keyIn(namespace, 'Account', 'x'), data: { n: 1 } });
          await tx.defer(noop);
        });
      }
      await rt.advance();
      await rt.advance(8 * DAY); // past the retention of the two done tasks: shard tasks sweep at the clock's time
      const fanOut = await sweeper.fanOut();
      expect(fanOut.namespaces.map((n) => n.namespace)).toEqual([ctx().namespace, a, b]);
      const [home, ...tenants] = fanOut.namespaces;
      expect(home!.shards).toBe(2);
      const expected = [
        ...[0, 1].map((shard) => segmentTaskId(fanOut.runId, shard, 0)),
        ...tenants.flatMap(({ namespace, shards }) =>
          Array.from({ length: shards }, (_, shard) => segmentTaskId(fanOut.runId, shard, 0, namespace)),
        ),
      ];
      expect(fanOut).toMatchObject({ created: expected.length, existing: 0, shards: expected.length });
      expect((await rt.listTasks()).map((name) => name.split('/').pop()).sort()).toEqual(expected.sort());
      const again = await sweeper.fanOut();
      expect(again).toMatchObject({ created: 0, existing: expected.length });

      await drain(rt);
      const run = await sweeper.readRun(fanOut.runId);
      expect(run).toMatchObject({ status: 'done', shards: expected.length });
      expect(run!.shardsDone).toEqual(
        expect.arrayContaining(['0', '1', `${a}/${tenants[0]!.shards - 1}`, `${b}/${tenants[1]!.shards - 1}`]),
      );
      expect(run!.totals.deleted.done).toBe(2);
      expect(await tasksIn(a)).toEqual([]);
      expect(await tasksIn(b)).toEqual([]);
    });

    /** An entity-backed task of `neighbour` (same secret, its own namespace) in its paused queue: its body and a replay of it at `rt`. */
    async function capturedFrom(neighbour: RuntimeFixture, rt: RuntimeFixture) {
      await neighbour.client.createQueue({
        parent: neighbour.queuePath.replace(/\/queues\/.*$/, ''),
        queue: { name: neighbour.queuePath },
      });
      await neighbour.client.pauseQueue({ name: neighbour.queuePath });
      const work = neighbour.deferred.task('work', () => undefined);
      const deferral = await work.with({ entityBacked: true }).defer();
      const [task] = await neighbour.client.getTask({ name: deferral.cloudTaskName!, responseView: 'FULL' });
      const body = Buffer.from(task.httpRequest!.body as Uint8Array);
      const replay = () =>
        rt.post('/_deferred/tasks/work', {
          body,
          headers: {
            'content-type': 'application/json',
            'x-deferred-signature': task.httpRequest!.headers!['x-deferred-signature']!,
            'x-cloudtasks-queuename': neighbour.queue,
            'x-cloudtasks-taskname': deferral.cloudTaskName!.split('/').pop()!,
            'x-cloudtasks-taskretrycount': '0',
            'x-cloudtasks-taskexecutioncount': '0',
          },
        });
      return { deferral, body, replay };
    }

    it('a signed reference into a namespace this runtime does not write to runs nothing and changes nothing', async () => {
      const rt = await setup(ctx());
      let runs = 0;
      rt.deferred.task('work', () => void runs++);
      // Another runtime, signing with the same secret, whose task entities live in its own namespace.
      const otherNamespace = tenant('other');
      const other: StorageContext = {
        ...ctx(),
        namespace: otherNamespace,
        datastore: new Datastore({ ...ctx().clientOptions, namespace: otherNamespace }),
      };
      const neighbour = await setup(other);
      const { deferral, body, replay } = await capturedFrom(neighbour, rt);
      expect(JSON.parse(body.toString()).ref).toMatchObject({ namespace: otherNamespace });

      const answer = await replay();
      expect(answer).toMatchObject({ status: 200, body: { outcome: 'rejected' } });
      expect(runs).toBe(0);
      expect(rt.logger.entries.map((e) => e.message)).toContainEqual(
        expect.stringMatching(
          new RegExp(`points into namespace "${otherNamespace}", where this runtime writes no task entities`),
        ),
      );
      const [entity] = await other.datastore.get(deferral.entityKey!);
      expect(entity).toMatchObject({ state: 'pending', attempts: 0, cloudTaskName: deferral.cloudTaskName });
    });

    it('a signed reference without a namespace (a runtime in the default namespace) does not resolve there from another namespace', async () => {
      const rt = await setup(ctx()); // its own namespace is this test's
      let runs = 0;
      rt.deferred.task('work', () => void runs++);
      const inDefault: StorageContext = { ...ctx(), namespace: '', datastore: new Datastore(ctx().clientOptions) };
      const neighbour = await setup(inDefault);
      const { deferral, body, replay } = await capturedFrom(neighbour, rt);
      try {
        expect(deferral.entityKey!.namespace).toBeUndefined();
        expect(JSON.parse(body.toString()).ref.namespace).toBeUndefined(); // the default namespace's key: no namespace

        const answer = await replay();
        expect(answer).toMatchObject({ status: 200, body: { outcome: 'rejected' } });
        expect(runs).toBe(0);
        expect(rt.logger.entries.map((e) => e.message)).toContainEqual(
          expect.stringMatching(/points into namespace "", where this runtime writes no task entities/),
        );
        const [entity] = await inDefault.datastore.get(deferral.entityKey!);
        expect(entity).toMatchObject({ state: 'pending', attempts: 0 });

        // Its own runtime (in the default namespace) runs it: the reference itself is sound.
        const own = await neighbour.post('/_deferred/tasks/work', {
          body,
          headers: {
            'content-type': 'application/json',
            'x-deferred-signature': (
              await neighbour.client.getTask({ name: deferral.cloudTaskName!, responseView: 'FULL' })
            )[0].httpRequest!.headers!['x-deferred-signature']!,
            'x-cloudtasks-queuename': neighbour.queue,
            'x-cloudtasks-taskname': deferral.cloudTaskName!.split('/').pop()!,
            'x-cloudtasks-taskretrycount': '0',
            'x-cloudtasks-taskexecutioncount': '0',
          },
        });
        expect(own).toMatchObject({ status: 200, body: { outcome: 'done' } });
      } finally {
        await inDefault.datastore.delete(deferral.entityKey!); // the default namespace is shared: remove ours only
      }
    });

    it('with discoverNamespaces, a sweep also covers namespaces it was never told of, where the store lists them', async () => {
      const rt = await setup(ctx());
      const legacy = tenant('legacy'); // as if written before the registry existed: no entry
      await ctx().datastore.save({ key: keyIn(legacy, 'Thing', 't'), data: { n: 1 } });
      const listed = await discoverNamespaces(ctx().datastore);
      const log = new MemoryLogger();
      const result = await sweep({
        datastore: ctx().datastore,
        tasks: rt.client,
        discoverNamespaces: true,
        dryRun: true, // it covers every namespace of the database: other tests' too, here
        log,
      });
      const notDiscoverable = log.entries.filter((e) => e.event === 'namespaces-not-discoverable');
      if (ctx().backend === 'datastore') {
        expect(listed).toContain(legacy);
        expect(result.namespaces.map((n) => n.namespace)).toContain(legacy);
        expect(notDiscoverable).toEqual([]);
      } else {
        expect(listed).toBeUndefined(); // the Firestore emulator refuses __namespace__ queries
        expect(result.namespaces.map((n) => n.namespace)).toEqual([ctx().namespace]);
        expect(notDiscoverable).toHaveLength(1);
        expect(notDiscoverable[0]).toMatchObject({ severity: 'WARNING' });
      }
      // Named explicitly, a namespace is covered on every store.
      const named = await sweep({
        datastore: ctx().datastore,
        tasks: rt.client,
        namespaces: [legacy],
        dryRun: true,
        log: silentLogger,
      });
      expect(named.namespaces.map((n) => n.namespace)).toEqual([ctx().namespace, legacy]);
    });
  });
});
