// Transactional defer: the entity is the outbox, written in the caller's transaction and entity group; enqueued after commit.
import { randomBytes } from 'node:crypto';
import { Datastore, type Key } from '@google-cloud/datastore';
import type { CloudTasksClient } from '@google-cloud/tasks';
import { describe, expect, it } from 'vitest';
import { CHUNK_KIND, TASK_KIND } from '../src/store/schema.js';
import type { Deferral } from '../src/types.js';
import { describeStorage, type StorageContext } from './support/backends.js';
import { errors, injectCommitFaults } from './support/datastore-faults.js';
import { useRuntime } from './support/runtime.js';

async function taskEntities(storage: StorageContext): Promise<Record<string | symbol, unknown>[]> {
  const [entities] = await storage.datastore.runQuery(storage.datastore.createQuery(TASK_KIND));
  return entities as Record<string | symbol, unknown>[];
}

function rootOf(key: Key): Key {
  let root = key;
  while (root.parent) root = root.parent;
  return root;
}

describe('defer (transactional)', () => {
  const setup = useRuntime();

  describeStorage('deferred.transaction', (ctx) => {
    it('committed: the task runs once, after the commit; its entity was written transactionally', async () => {
      const rt = await setup(ctx());
      const runs: string[] = [];
      const ship = rt.deferred.task('ship', (orderId: string) => {
        runs.push(orderId);
      });
      const orderKey = ctx().datastore.key(['Order', 'o1']);
      let held: Awaited<ReturnType<typeof ship.defer>> | undefined;
      await rt.deferred.transaction(async (tx) => {
        tx.save({ key: orderKey, data: { status: 'paid' } });
        held = await ship.with({ transaction: tx, delay: '1s' }).defer('o1');
        expect(held.status).toBe('held');
        expect(await rt.listTasks()).toEqual([]);
      });
      expect(held!.status).toBe('enqueued');
      expect(await rt.listTasks()).toEqual([held!.cloudTaskName]);
      const [entity] = await taskEntities(ctx());
      expect(entity).toMatchObject({ state: 'pending', transactional: true, task: 'ship' });
      const entityKey = entity![Datastore.KEY] as Key;
      expect(rootOf(entityKey).path).toEqual(orderKey.path);
      expect(held!.entityKey?.path).toEqual(entityKey.path);

      await rt.advance(1000);
      expect(runs).toEqual(['o1']);
      const [order] = await ctx().datastore.get(orderKey);
      expect(order.status).toBe('paid');
      const [done] = await taskEntities(ctx());
      expect(done!.state).toBe('done');
    });

    it('rolled back: nothing runs, no entity, no Cloud Task', async () => {
      const rt = await setup(ctx());
      let runs = 0;
      const ship = rt.deferred.task('ship', () => {
        runs++;
      });
      const orderKey = ctx().datastore.key(['Order', 'o2']);
      await expect(
        rt.deferred.transaction(async (tx) => {
          tx.save({ key: orderKey, data: { status: 'paid' } });
          await tx.defer(ship);
          throw new Error('payment declined');
        }),
      ).rejects.toThrow('payment declined');
      await rt.advance();
      expect(runs).toBe(0);
      expect(await taskEntities(ctx())).toEqual([]);
      expect(await rt.listTasks()).toEqual([]);
      const [order] = await ctx().datastore.get(orderKey);
      expect(order).toBeUndefined();
    });

    it('a 500 KB payload in a transaction that writes the caller entity: same root; runs once; rollback leaves nothing', async () => {
      const rt = await setup(ctx());
      const sizes: number[] = [];
      const archive = rt.deferred.task('archive', (blob: Buffer) => {
        sizes.push(blob.length);
      });
      const blob = randomBytes(500 * 1024);
      const accountKey = ctx().datastore.key(['Account', 'acme']);
      const invoiceKey = ctx().datastore.key(['Account', 'acme', 'Invoice', 'i1']);

      await expect(
        rt.deferred.transaction(async (tx) => {
          tx.save({ key: invoiceKey, data: { total: 10 } });
          await archive.with({ transaction: tx }).defer(blob);
          throw new Error('abort');
        }),
      ).rejects.toThrow('abort');
      expect(await taskEntities(ctx())).toEqual([]);

      const deferral = await rt.deferred.transaction(async (tx) => {
        tx.save({ key: invoiceKey, data: { total: 10 } });
        return archive.with({ transaction: tx }).defer(blob);
      });
      const [entity] = await taskEntities(ctx());
      const entityKey = entity![Datastore.KEY] as Key;
      expect(rootOf(entityKey).path).toEqual(accountKey.path);
      expect(rootOf(invoiceKey).path).toEqual(rootOf(entityKey).path);
      expect(entity!.payloadBytes as number).toBeGreaterThan(500 * 1024);
      expect(deferral.entityKey?.path).toEqual(entityKey.path);

      await rt.advance();
      expect(sizes).toEqual([500 * 1024]);
      const [done] = await taskEntities(ctx());
      expect(done!.state).toBe('done');
    });

    it('a commit Datastore aborts (ABORTED) runs the callback again: one entity with its chunks, one Cloud Task, one run', async () => {
      const rt = await setup(ctx());
      const faults = injectCommitFaults(ctx().datastore);
      faults.arm({ error: errors.aborted });
      const runs: string[] = [];
      const ship = rt.deferred.task('ship', (orderId: string, label: Buffer) => {
        runs.push(`${orderId}:${label.length}`);
      });
      const orderKey = ctx().datastore.key(['Order', 'o4']);
      const label = randomBytes(1200 * 1024); // incompressible: spilled over two chunks
      let calls = 0;
      const deferrals: Deferral[] = [];
      const result = await rt.deferred.transaction(async (tx) => {
        calls++;
        const [order] = await tx.get(orderKey);
        tx.save({ key: orderKey, data: { status: 'paid', seenBefore: order !== undefined, call: calls } });
        deferrals.push(await ship.with({ transaction: tx, delay: '1s' }).defer('o4', label));
        return calls;
      });
      expect(faults.injected).toBe(1);
      expect(calls).toBe(2);
      expect(result).toBe(2);
      const deferral = deferrals[1]!;
      expect(deferral.status).toBe('enqueued');
      expect(await rt.listTasks()).toEqual([deferral.cloudTaskName]);

      // Nothing of the aborted attempt: the caller's entity as the second call wrote it, one task entity, its chunks.
      const [order] = await ctx().datastore.get(orderKey);
      expect(order).toMatchObject({ status: 'paid', seenBefore: false, call: 2 });
      const entities = await taskEntities(ctx());
      expect(entities).toHaveLength(1);
      const entity = entities[0]!;
      expect((entity[Datastore.KEY] as Key).path).toEqual(deferral.entityKey!.path);
      expect(entity).toMatchObject({ state: 'pending', transactional: true, attempts: 0 });
      expect(entity.cloudTaskName).toBe(deferral.cloudTaskName);
      const [chunks] = await ctx().datastore.runQuery(ctx().datastore.createQuery(CHUNK_KIND));
      expect(entity.chunks as number).toBeGreaterThan(1);
      expect(chunks).toHaveLength(entity.chunks as number);
      for (const chunk of chunks) {
        expect((chunk[Datastore.KEY] as Key).parent?.path).toEqual(deferral.entityKey!.path);
        expect(chunk.expireAt).toEqual(entity.expireAt);
      }

      await rt.advance(1000);
      expect(runs).toEqual([`o4:${label.length}`]);
      const [done] = await taskEntities(ctx());
      expect(done).toMatchObject({ state: 'done', attempts: 1 });
      expect(await rt.listTasks()).toEqual([]);
    });

    it('an explicit parent places the entity in that entity group', async () => {
      const rt = await setup(ctx());
      const noop = rt.deferred.task('noop', () => undefined);
      const parent = ctx().datastore.key(['Tenant', 't9']);
      const deferral = await rt.deferred.transaction((tx) => noop.with({ transaction: tx, parent }).defer());
      expect(deferral.entityKey?.parent?.path).toEqual(parent.path);
      await rt.advance();
    });

    it('a commit whose enqueue was lost keeps its entity as the outbox; re-driving the stored request runs it once', async () => {
      const real = await setup(ctx());
      let fail = true;
      const flaky = new Proxy(real.client, {
        get(target, property, receiver) {
          if (property === 'createTask' && fail) {
            return () => {
              fail = false;
              return Promise.reject(Object.assign(new Error('14 UNAVAILABLE: lost'), { code: 14 }));
            };
          }
          const value = Reflect.get(target, property, receiver) as unknown;
          return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
        },
      }) as CloudTasksClient;
      const rt = await setup(ctx(), { tasks: flaky, queue: real.queue });
      let runs = 0;
      const ship = rt.deferred.task('ship', () => {
        runs++;
      });
      await rt.deferred.transaction(async (tx) => {
        tx.save({ key: ctx().datastore.key(['Order', 'o3']), data: { status: 'paid' } });
        await tx.defer(ship);
      });
      expect(rt.logger.entries.some((e) => e.severity === 'ERROR' && /could not be enqueued/.test(e.message))).toBe(
        true,
      );
      expect(await rt.listTasks()).toEqual([]);
      const [entity] = await taskEntities(ctx());
      expect(entity).toMatchObject({ state: 'pending', transactional: true, attempts: 0 });

      // What the sweeper does for a committed transactional task whose Cloud Task is gone.
      await rt.client.createTask(JSON.parse(entity!.cloudTaskRequest as string));
      await rt.advance();
      expect(runs).toBe(1);
      const [done] = await taskEntities(ctx());
      expect(done!.state).toBe('done');
    });

    it('refuses a transaction that does not come from deferred.transaction', async () => {
      const rt = await setup(ctx());
      const noop = rt.deferred.task('noop', () => undefined);
      const raw = ctx().datastore.transaction();
      await expect(noop.with({ transaction: raw as never }).defer()).rejects.toThrow(/deferred\.transaction/);
    });
  });
});
