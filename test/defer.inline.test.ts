// Inline defer round trips through the official Cloud Tasks client, our emulator and a real HTTP server, on both Datastore emulators.
import { Datastore } from '@google-cloud/datastore';
import { describe, expect, it } from 'vitest';
import { describeStorage } from './support/backends.js';
import { useRuntime } from './support/runtime.js';

describe('defer (inline)', () => {
  const setup = useRuntime();

  describeStorage('round trip', (ctx) => {
    it('runs a registered task with its arguments, once, and leaves the queue empty', async () => {
      const rt = await setup(ctx());
      const calls: unknown[][] = [];
      const sendReport = rt.deferred.task('sendReport', async (userId: string, since: Date) => {
        calls.push([userId, since]);
      });
      const since = new Date('2026-01-02T03:04:05.678Z');
      const deferral = await sendReport.defer('u1', since);
      expect(deferral).toMatchObject({ task: 'sendReport', queue: rt.queue, status: 'enqueued', entityKey: null });
      expect(deferral.cloudTaskName).toMatch(new RegExp(`^${rt.queuePath}/tasks/`));
      await rt.advance();
      expect(calls).toEqual([['u1', since]]);
      expect(calls[0]![1]).toBeInstanceOf(Date);
      expect(await rt.listTasks()).toEqual([]);
      const done = rt.logger.entries.find((e) => e.message === 'task sendReport done');
      expect(done).toMatchObject({
        severity: 'INFO',
        task: 'sendReport',
        attempt: 1,
        taskName: deferral.cloudTaskName,
      });
      expect(typeof done!.durationMs).toBe('number');
    });

    it('round-trips every supported value type', async () => {
      const rt = await setup(ctx());
      let received: unknown[] | undefined;
      const echo = rt.deferred.task('echo', (...args: unknown[]) => {
        received = args;
      });
      const cyclic: { name: string; self?: unknown } = { name: 'loop' };
      cyclic.self = cyclic;
      const key = ctx().datastore.key(['Account', 'acme', 'Report', 7]);
      const values: unknown[] = [
        'text ✓',
        42,
        -0.5,
        true,
        null,
        undefined,
        Number.NaN,
        Number.POSITIVE_INFINITY,
        Number.NEGATIVE_INFINITY,
        12345678901234567890n,
        new Date('2026-05-06T07:08:09.010Z'),
        new Map<unknown, unknown>([
          ['a', 1],
          [2, new Set(['x'])],
        ]),
        new Set([1, 'two']),
        Buffer.from([0, 1, 2, 255]),
        new Uint8Array([9, 8, 7]),
        new Float64Array([1.5, -2.25]),
        { nested: { list: [1, { deep: 'yes' }], missing: undefined } },
        cyclic,
        key,
        /a+b/gi,
        -0,
        new Uint8Array([1, 2, 3]).buffer,
        new Date(Number.NaN),
      ];
      for (const entityBacked of [false, true]) {
        received = undefined;
        await echo.with({ entityBacked }).defer(...values);
        await rt.advance();
        expect(received).toBeDefined();
        checkValues(received!, values, key);
      }
    });

    function checkValues(got: unknown[], values: unknown[], key: { path: unknown[] }): void {
      expect(got.slice(0, 5)).toEqual(values.slice(0, 5));
      expect(got.length).toBe(values.length);
      expect(got[5]).toBeUndefined();
      expect(Number.isNaN(got[6])).toBe(true);
      expect(got[7]).toBe(Number.POSITIVE_INFINITY);
      expect(got[8]).toBe(Number.NEGATIVE_INFINITY);
      expect(got[9]).toBe(12345678901234567890n);
      expect(got[10]).toEqual(values[10]);
      expect(got[11]).toEqual(values[11]);
      expect(got[12]).toEqual(values[12]);
      expect(Buffer.isBuffer(got[13])).toBe(true);
      expect(got[13]).toEqual(values[13]);
      expect(got[14]).toBeInstanceOf(Uint8Array);
      expect(got[14]).toEqual(values[14]);
      expect(got[15]).toBeInstanceOf(Float64Array);
      expect(got[15]).toEqual(values[15]);
      expect(got[16]).toEqual(values[16]);
      expect('missing' in (got[16] as { nested: object }).nested).toBe(true);
      const loop = got[17] as { name: string; self: unknown };
      expect(loop.name).toBe('loop');
      expect(loop.self).toBe(loop);
      const gotKey = got[18] as Parameters<Datastore['isKey']>[0] & { path: unknown[]; parent?: { name?: string } };
      expect(gotKey.path).toEqual(key.path);
      expect(gotKey.parent?.name).toBe('acme');
      expect(Datastore.isKey(gotKey)).toBe(true);
      expect(got[19]).toEqual(/a+b/gi);
      expect(Object.is(got[20], -0)).toBe(true);
      expect(got[21]).toBeInstanceOf(ArrayBuffer);
      expect([...new Uint8Array(got[21] as ArrayBuffer)]).toEqual([1, 2, 3]);
      expect(got[22]).toBeInstanceOf(Date);
      expect(Number.isNaN((got[22] as Date).getTime())).toBe(true);
    }

    it('serves the same through the Fetch-API handler', async () => {
      const rt = await setup(ctx(), { serve: 'fetch' });
      const seen: string[] = [];
      const hello = rt.deferred.task('hello', (name: string) => {
        seen.push(name);
      });
      await hello.defer('fetch');
      await rt.advance();
      expect(seen).toEqual(['fetch']);
    });
  });
});
