// Entity-backed tasks: spill of big payloads (gzip, chunks), the state machine, duplicate and concurrent deliveries.
import { randomBytes } from 'node:crypto';
import { Datastore, PropertyFilter, type Key } from '@google-cloud/datastore';
import { describe, expect, it } from 'vitest';
import { CHUNK_KIND, INDEXED_TASK_PROPERTIES, TASK_KIND } from '../src/store/schema.js';
import { hasZstd } from '../src/store/packed-payload.js';
import { describeStorage, type StorageContext } from './support/backends.js';
import { httpRequest, useRuntime } from './support/runtime.js';
import type { DeferOptions } from '../src/types.js';

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

    it('writes a new entity without its null lease, error and end; one with them as null (earlier versions) runs the same', async () => {
      const rt = await setup(ctx());
      const seen: string[] = [];
      const note = rt.deferred.task('note', (text: string) => seen.push(text), { entityBacked: true });
      const later = { delay: '1s' }; // not due before advance()
      const fresh = await note.with(later).defer('new');
      const old = await note.with(later).defer('old');
      const raw = async (key: Key) => (await ctx().datastore.get(key))[0] as Record<string | symbol, unknown>;
      const written = await raw(fresh.entityKey!);
      expect(written).toMatchObject({ state: 'pending', attempts: 0 });
      for (const name of ['leaseUntil', 'lastError', 'finishedAt']) expect(written).not.toHaveProperty(name);
      // The other entity rewritten as earlier versions wrote it: the same properties plus the three as null.
      const { [ctx().datastore.KEY]: _key, ...properties } = await raw(old.entityKey!);
      const indexed = new Set<string>(INDEXED_TASK_PROPERTIES);
      await ctx().datastore.save({
        key: old.entityKey!,
        data: Object.entries({ ...properties, leaseUntil: null, lastError: null, finishedAt: null }).map(
          ([name, value]) => ({ name, value, excludeFromIndexes: !indexed.has(name) }),
        ),
      });
      expect(await raw(old.entityKey!)).toMatchObject({ leaseUntil: null, lastError: null, finishedAt: null });
      await rt.advance(1000);
      expect(seen.sort()).toEqual(['new', 'old']);
      for (const deferral of [fresh, old]) {
        const done = await raw(deferral.entityKey!);
        expect(done).toMatchObject({ state: 'done', attempts: 1, leaseUntil: null, lastError: null });
        expect(done.finishedAt).toBeInstanceOf(Date);
      }
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

    it("stores payloads at the task's compression: 'none' as they are, gzip, Brotli and zstd smaller; all run", async () => {
      const rt = await setup(ctx(), { inlineThreshold: 1000, defaults: { compression: 'none' } });
      const seen: string[] = [];
      const keep = rt.deferred.task('keep', (text: string) => {
        seen.push(text);
      });
      const squeezed = rt.deferred.task('squeezed', (text: string) => seen.push(text), { compression: 9 });
      const text = 'z'.repeat(20_000);
      const later = { delay: '1s' }; // not due before advance(): the stored payloads are read first
      const plain = await keep.with(later).defer(text);
      const gz = await squeezed.with(later).defer(text);
      const fast = await keep.with({ ...later, compression: 1 }).defer(text);
      const byKey = async (key: Key) => (await ctx().datastore.get(key))[0] as Record<string, unknown>;
      const stored = await byKey(plain.entityKey!);
      expect(stored.encoding).toBe('identity');
      expect((stored.payload as Buffer).length).toBeGreaterThan(20_000);
      for (const deferral of [gz, fast]) {
        const entity = await byKey(deferral.entityKey!);
        expect(entity.encoding).toBe('gzip');
        expect((entity.payload as Buffer).length).toBeLessThan(1000);
      }
      await expect(keep.with({ compression: 0 as never }).defer(text)).rejects.toThrow(/compression must be/);
      // The other codecs: stored under their HTTP names, read back by the handler.
      const codecs = [
        { compression: 'brotli', encoding: 'br' },
        ...(hasZstd() ? [{ compression: { codec: 'zstd', level: 3 }, encoding: 'zstd' } as const] : []),
      ] as const;
      for (const { compression, encoding } of codecs) {
        const deferral = await keep.with({ ...later, compression }).defer(text);
        const entity = await byKey(deferral.entityKey!);
        expect(entity.encoding).toBe(encoding);
        expect((entity.payload as Buffer).length).toBeLessThan(1000);
      }
      await rt.advance(1000);
      expect(seen).toEqual(Array.from({ length: 3 + codecs.length }, () => text));
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

    it('without OIDC, RunTask before the ETA runs nothing early (a replay looks the same); Cloud Tasks retries it past its ETA, once', async () => {
      const rt = await setup(ctx());
      let runs = 0;
      const once = rt.deferred.task('once', () => {
        runs++;
      });
      const deferral = await once.with({ entityBacked: true, delay: '1h' }).defer();
      await rt.client.runTask({ name: deferral.cloudTaskName! });
      await rt.advance();
      expect(runs).toBe(0);
      expect(rt.logger.entries.filter((e) => e.outcome === 'notDue')).toHaveLength(1);
      expect(await rt.listTasks()).toEqual([deferral.cloudTaskName]); // answered 503: Cloud Tasks keeps it
      await rt.advance(30 * 60_000);
      expect(runs).toBe(0); // retried with the queue's backoff, and answered 503 until the ETA
      // The backoff (0.1 s doubling, up to an hour) brings its first retry after the ETA at about 1.8 h.
      await rt.advance(2 * 3_600_000);
      expect(runs).toBe(1);
      expect(await rt.listTasks()).toEqual([]);
    });

    describe('state beats unsigned headers (no OIDC): a captured body replayed with made-up headers', () => {
      /** An entity-backed task in a paused queue, and what a replay of its body with `headers` gets. */
      async function captured(rt: Awaited<ReturnType<typeof setup>>, options: DeferOptions) {
        await rt.client.createQueue({
          parent: rt.queuePath.replace(/\/queues\/.*$/, ''),
          queue: { name: rt.queuePath },
        });
        await rt.client.pauseQueue({ name: rt.queuePath });
        let runs = 0;
        const work = rt.deferred.task('work', () => void runs++);
        const deferral = await work.with({ entityBacked: true, ...options }).defer();
        const [task] = await rt.client.getTask({ name: deferral.cloudTaskName!, responseView: 'FULL' });
        const body = Buffer.from(task.httpRequest!.body as Uint8Array);
        const signature = task.httpRequest!.headers!['x-deferred-signature']!;
        const id = deferral.cloudTaskName!.split('/').pop()!;
        const replay = (headers: Record<string, string>) =>
          rt.post('/_deferred/tasks/work', {
            body,
            headers: { 'content-type': 'application/json', 'x-deferred-signature': signature, ...headers },
          });
        const cloudTasks = (over: Record<string, string> = {}) => ({
          'x-cloudtasks-queuename': rt.queue,
          'x-cloudtasks-taskname': id,
          'x-cloudtasks-taskretrycount': '0',
          'x-cloudtasks-taskexecutioncount': '0',
          ...over,
        });
        return { deferral, replay, cloudTasks, runs: () => runs };
      }
      const entityOf = async (key: Key) => (await ctx().datastore.get(key))[0] as Record<string, unknown>;

      it('a forged ETA header does not make it run before its ETA', async () => {
        const rt = await setup(ctx());
        const { deferral, replay, cloudTasks, runs } = await captured(rt, { delay: '1h' });
        const eta = String(Math.floor(deferral.eta.getTime() / 1000));
        const early = await replay(cloudTasks({ 'x-cloudtasks-tasketa': eta }));
        expect(early).toMatchObject({ status: 503, body: { outcome: 'notDue' } });
        expect(runs()).toBe(0);
        expect(await entityOf(deferral.entityKey!)).toMatchObject({ state: 'pending', attempts: 0 });
        await rt.advance(3_600_000); // due now: the same replay runs it, once
        expect(await replay(cloudTasks({ 'x-cloudtasks-tasketa': eta }))).toMatchObject({ status: 200 });
        expect(runs()).toBe(1);
      });

      it('a forged retry count of 99 does not fail it past maxAttempts: the entity counts its own attempts', async () => {
        const rt = await setup(ctx());
        const { deferral, replay, cloudTasks, runs } = await captured(rt, { delay: '1m', maxAttempts: 3 });
        await rt.advance(60_000);
        const answer = await replay(cloudTasks({ 'x-cloudtasks-taskretrycount': '99' }));
        expect(answer).toMatchObject({ status: 200, body: { outcome: 'done' } });
        expect(runs()).toBe(1);
        expect(await entityOf(deferral.entityKey!)).toMatchObject({ state: 'done', attempts: 1 });
      });

      it('a replay without headers before the horizon neither runs nor hops it (no extra Cloud Task)', async () => {
        const rt = await setup(ctx());
        const { deferral, replay, runs } = await captured(rt, { delay: '45d' });
        const answer = await replay({});
        expect(answer).toMatchObject({ status: 503, body: { outcome: 'notDue' } });
        expect(runs()).toBe(0);
        expect(await rt.listTasks()).toEqual([deferral.cloudTaskName]);
        expect(await entityOf(deferral.entityKey!)).toMatchObject({
          state: 'pending',
          cloudTaskName: deferral.cloudTaskName,
        });
      });

      it('a delivery of the Cloud Task before a hop, again after the hop, runs and hops nothing', async () => {
        const rt = await setup(ctx());
        const { deferral, replay, cloudTasks, runs } = await captured(rt, { delay: '45d' });
        await rt.client.resumeQueue({ name: rt.queuePath });
        await rt.advance(30 * 86_400_000); // the horizon delivery hops it to <id>-h1
        expect(await rt.listTasks()).toEqual([`${deferral.cloudTaskName}-h1`]);
        const again = await replay(cloudTasks());
        expect(again).toMatchObject({ status: 200, body: { outcome: 'stale' } });
        expect(await rt.listTasks()).toEqual([`${deferral.cloudTaskName}-h1`]);
        await rt.advance(15 * 86_400_000);
        expect(runs()).toBe(1);
      });
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

describe('defer (entity-backed) with OIDC', () => {
  const setup = useRuntime({ oidc: true });

  describeStorage('forced runs', (ctx) => {
    it('RunTask before the ETA runs it now, once (its token vouches for it); the same request enqueued again after it ran runs nothing', async () => {
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
  });
});
