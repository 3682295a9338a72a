// Entity-backed tasks: spill of big payloads (gzip, chunks), the state machine, duplicate and concurrent deliveries.
import { randomBytes } from 'node:crypto';
import { Datastore, PropertyFilter } from '@google-cloud/datastore';
import { describe, expect, it } from 'vitest';
import { CHUNK_KIND, TASK_KIND } from '../src/store/schema.js';
import { describeStorage, type StorageContext } from './support/backends.js';
import { httpRequest, useRuntime } from './support/runtime.js';

async function allOfKind(storage: StorageContext, kind: string): Promise<Record<string | symbol, unknown>[]> {
  const [entities] = await storage.datastore.runQuery(storage.datastore.createQuery(kind));
  return entities as Record<string | symbol, unknown>[];
}

describe('defer (entity-backed)', () => {
  const setup = useRuntime();

  describeStorage('spill and state machine', (ctx) => {
    it('runs a 5 MB argument from a chunked, compressed entity; afterwards the entity is done and its chunks gone', async () => {
      const rt = await setup(ctx());
      const big = randomBytes(5 * 1024 * 1024);
      let got: Buffer | undefined;
      const ingest = rt.deferred.task('ingest', (data: Buffer) => {
        got = data;
      });
      const deferral = await ingest.with({ delay: '1s' }).defer(big); // not due before advance()
      expect(deferral.status).toBe('enqueued');
      expect(deferral.entityKey?.kind).toBe(TASK_KIND);

      const [pending] = await allOfKind(ctx(), TASK_KIND);
      expect(pending).toMatchObject({ state: 'pending', task: 'ingest', attempts: 0, transactional: false });
      expect(pending!.cloudTaskName).toBe(deferral.cloudTaskName);
      expect(pending!.chunks as number).toBeGreaterThan(5);
      expect((pending!.payload as Buffer).length).toBe(0);
      expect(await allOfKind(ctx(), CHUNK_KIND)).toHaveLength(pending!.chunks as number);
      const request = JSON.parse(pending!.cloudTaskRequest as string);
      expect(request.task.name).toBe(deferral.cloudTaskName);
      expect(typeof request.task.httpRequest.body).toBe('string');

      await rt.advance(1000);
      expect(Buffer.compare(got!, big)).toBe(0);
      const [done] = await allOfKind(ctx(), TASK_KIND);
      expect(done).toMatchObject({ state: 'done', attempts: 1, chunks: 0, leaseUntil: null });
      expect(done!.finishedAt).toBeInstanceOf(Date);
      expect(await allOfKind(ctx(), CHUNK_KIND)).toHaveLength(0);
      expect(await rt.listTasks()).toEqual([]);
    });

    it('spills a payload above inlineThreshold and keeps small ones inline', async () => {
      const rt = await setup(ctx(), { inlineThreshold: 1000 });
      const seen: number[] = [];
      const measure = rt.deferred.task('measure', (text: string) => {
        seen.push(text.length);
      });
      const small = await measure.defer('x'.repeat(100));
      const large = await measure.defer('y'.repeat(5000));
      expect(small.entityKey).toBeNull();
      expect(large.entityKey).not.toBeNull();
      const [entity] = await allOfKind(ctx(), TASK_KIND);
      expect(entity).toMatchObject({ encoding: 'gzip', chunks: 0 });
      expect((entity!.payload as Buffer).length).toBeLessThan(1000);
      await rt.advance();
      expect(seen.sort()).toEqual([100, 5000]);
    });

    it("chunks carry their task entity's expireAt, unindexed (a TTL policy on the chunk kind reclaims them)", async () => {
      const rt = await setup(ctx(), { expireAfter: '3d' });
      const ingest = rt.deferred.task('ingest', (_data: Buffer) => undefined);
      const eta = new Date(rt.clock.now() + 3_600_000);
      await ingest.with({ eta }).defer(randomBytes(2 * 1024 * 1024)); // incompressible: three chunks
      const [task] = await allOfKind(ctx(), TASK_KIND);
      expect(task!.expireAt).toEqual(new Date(eta.getTime() + 3 * 86_400_000));
      const chunks = await allOfKind(ctx(), CHUNK_KIND);
      expect(chunks).toHaveLength(task!.chunks as number);
      expect(chunks.length).toBeGreaterThan(1);
      for (const chunk of chunks) expect(chunk.expireAt).toEqual(task!.expireAt);
      const [indexed] = await ctx().datastore.runQuery(
        ctx()
          .datastore.createQuery(CHUNK_KIND)
          .filter(new PropertyFilter('expireAt', '>', new Date(0))),
      );
      expect(indexed).toEqual([]);
    });

    it('deletes a done entity at once with retention 0', async () => {
      const rt = await setup(ctx());
      const noop = rt.deferred.task('noop', () => undefined, { entityBacked: true, retention: 0, delay: '1s' });
      await noop.defer();
      expect(await allOfKind(ctx(), TASK_KIND)).toHaveLength(1);
      await rt.advance(1000);
      expect(await allOfKind(ctx(), TASK_KIND)).toHaveLength(0);
    });

    it('RunTask before the ETA runs it now, once; the same request enqueued again after it ran runs nothing', async () => {
      const rt = await setup(ctx());
      let runs = 0;
      const once = rt.deferred.task('once', () => {
        runs++;
      });
      const deferral = await once.with({ entityBacked: true, delay: '1h' }).defer();
      await rt.advance();
      expect(runs).toBe(0);
      await rt.client.runTask({ name: deferral.cloudTaskName! });
      await rt.advance();
      expect(runs).toBe(1);

      // A second delivery of the same payload (what the sweeper's re-drive or a Cloud Tasks duplicate looks like).
      const [entity] = await allOfKind(ctx(), TASK_KIND);
      expect(entity!.state).toBe('done');
      const request = JSON.parse(entity!.cloudTaskRequest as string);
      request.task.name = `${rt.queuePath}/tasks/again`;
      delete request.task.scheduleTime;
      await rt.client.createTask(request);
      await rt.advance();
      expect(runs).toBe(1);
      expect(rt.logger.entries.some((e) => e.outcome === 'duplicate')).toBe(true);
      expect(await rt.listTasks()).toEqual([]);
    });

    it('a delivery takes over a running task whose lease has ended (its worker died), not one whose lease is live', async () => {
      const rt = await setup(ctx());
      let runs = 0;
      const work = rt.deferred.task('work', () => {
        runs++;
      });
      const deferral = await work.with({ entityBacked: true, delay: '1s' }).defer();
      const key = deferral.entityKey!;
      const [entity] = await ctx().datastore.get(key);
      // As if a worker claimed it and died: running, one attempt, lease ended a minute ago.
      entity.state = 'running';
      entity.attempts = 1;
      entity.leaseUntil = new Date(rt.clock.now() - 60_000);
      await ctx().datastore.save({ key, data: entity, excludeFromIndexes: ['payload', 'cloudTaskRequest'] });
      await rt.advance(1000);
      expect(runs).toBe(1);
      const [taken] = await ctx().datastore.get(key);
      expect(taken).toMatchObject({ state: 'done', attempts: 2 });

      const live = await work.with({ entityBacked: true, delay: '1s' }).defer();
      const [other] = await ctx().datastore.get(live.entityKey!);
      other.state = 'running';
      other.attempts = 1;
      other.leaseUntil = new Date(rt.clock.now() + 3_600_000);
      await ctx().datastore.save({
        key: live.entityKey!,
        data: other,
        excludeFromIndexes: ['payload', 'cloudTaskRequest'],
      });
      await rt.advance(1000);
      expect(runs).toBe(1);
      expect(rt.logger.entries.filter((e) => e.outcome === 'busy')).toHaveLength(1);
      expect(await rt.listTasks()).toEqual([live.cloudTaskName]); // retried later by Cloud Tasks
    });

    it('two concurrent deliveries run the function once; the other answers 503 and later finds it done', async () => {
      const rt = await setup(ctx(), { record: true });
      let runs = 0;
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      let started!: () => void;
      const running = new Promise<void>((resolve) => (started = resolve));
      const slow = rt.deferred.task('slow', async () => {
        runs++;
        started();
        await gate;
      });
      await slow.with({ entityBacked: true }).defer();
      const delivery = rt.advance();
      await running;
      const first = rt.recorded[0]!;
      const duplicate = await httpRequest(`${rt.origin}${first.url}`, { headers: first.headers, body: first.body });
      expect(duplicate.status).toBe(503);
      expect(duplicate.body.outcome).toBe('busy');
      release();
      await delivery;
      expect(runs).toBe(1);
      const again = await httpRequest(`${rt.origin}${first.url}`, { headers: first.headers, body: first.body });
      expect(again).toMatchObject({ status: 200, body: { outcome: 'duplicate' } });
      expect(runs).toBe(1);
      const [entity] = await allOfKind(ctx(), TASK_KIND);
      expect(entity).toMatchObject({ state: 'done', attempts: 1 });
      expect(entity![Datastore.KEY]).toBeDefined();
    });
  });
});
