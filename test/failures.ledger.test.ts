// deferred.failures (list, get, retry, discard) on both Datastore emulators, with failures the real handler recorded.
import { createHash, randomBytes } from 'node:crypto';
import { Datastore, type Key } from '@google-cloud/datastore';
import type { CloudTasksClient } from '@google-cloud/tasks';
import { describe, expect, it } from 'vitest';
import { createDeferred } from '../src/runtime/deferred-runtime.js';
import { taskIdOf } from '../src/core/task-names.js';
import { PermanentTaskFailure } from '../src/errors/index.js';
import { currentTask } from '../src/core/run-context.js';
import { formatTaskKey, parseTaskKey } from '../src/store/key-text.js';
import { ATTEMPTS_KIND, CHUNK_KIND, HISTORY_LIMIT, STACK_CHARS, TASK_KIND } from '../src/store/schema.js';
import { sweep } from '../src/sweeper/sweep-all.js';
import { readFailed } from '../src/dashboard/failed-view.js';
import type { Deferred } from '../src/types.js';
import { clearNamespace, describeStorage, type StorageContext } from './support/backends.js';
import { LOCATION, PROJECT, SECRET, useRuntime, type RuntimeFixture } from './support/runtime.js';
import { HOUR, MINUTE as MIN } from './support/time.js';

/** Advances the clock past the emulator's backoff (100 ms doubling) `times` times. */
async function retries(rt: RuntimeFixture, times: number): Promise<void> {
  for (let i = 0; i < times; i++) await rt.advance(MIN);
}

async function count(storage: StorageContext, kind: string): Promise<number> {
  const [rows] = await storage.datastore.runQuery(storage.datastore.createQuery(kind).select('__key__'));
  return rows.length;
}

/** The failed records of `namespace`, newest first, as a function to call again. */
function failuresOf(rt: RuntimeFixture, namespace: string) {
  return async () => (await rt.deferred.failures.list({ namespace })).tasks;
}

/** A second runtime on the same namespace and queue, with its own Datastore client: another process. */
function otherProcess(storage: StorageContext, rt: RuntimeFixture, tasks: CloudTasksClient = rt.client): Deferred {
  return createDeferred({
    projectId: PROJECT,
    location: LOCATION,
    queue: rt.queue,
    handlerUrl: `${rt.origin}/_deferred`,
    secret: SECRET,
    datastore: new Datastore({ ...storage.clientOptions, namespace: storage.namespace }),
    tasks,
    clock: rt.clock,
    logger: rt.logger,
  });
}

describe('deferred.failures', () => {
  const setup = useRuntime();

  describeStorage('history, list and get', (ctx) => {
    it('an entity-backed task that gives up keeps every attempt; the ERROR line names its entity as inspect reads it', async () => {
      const rt = await setup(ctx());
      const runs: number[] = [];
      const sync = rt.deferred.task(
        'sync',
        (n: number) => {
          runs.push(n);
          throw new Error(`upstream down for ${n} (retry ${currentTask()!.retryCount})`);
        },
        { entityBacked: true, maxAttempts: 3 },
      );
      const deferral = await sync.defer(7);
      await rt.advance();
      await retries(rt, 3);
      expect(runs).toEqual([7, 7, 7]);

      const page = await rt.deferred.failures.list();
      expect(page.cursor).toBeNull();
      expect(page.tasks).toHaveLength(1);
      const [listed] = page.tasks;
      expect(listed).toMatchObject({
        key: formatTaskKey(deferral.entityKey!),
        task: 'sync',
        queue: rt.queue,
        attempts: 3,
        inline: false,
        cloudTaskId: taskIdOf(deferral.cloudTaskName!),
        lastErrorCut: false,
      });
      expect(listed!.lastError).toBe('Error: upstream down for 7 (retry 2) (gave up after 3 of 3 attempts)');

      const full = (await rt.deferred.failures.get(listed!.key))!;
      expect(full).toMatchObject({ state: 'failed', task: 'sync', attempts: 3, retried: null, payload: { args: [7] } });
      expect(full.history.map((h) => [h.attempt, h.retryCount, h.status, h.outcome])).toEqual([
        [1, 0, 500, 'retry'],
        [2, 1, 500, 'retry'],
        [3, 2, 200, 'failed'],
      ]);
      expect(full.history[0]!.error).toBe('Error: upstream down for 7 (retry 0)');
      expect(full.history[0]!.stack).toMatch(/^Error: upstream down for 7 \(retry 0\)\n\s+at /);
      expect(full.history[0]!.stack!.length).toBeLessThanOrEqual(STACK_CHARS);
      expect(full.history[2]!.at.getTime()).toBe(listed!.failedAt.getTime());
      expect(full.failedAt!.getTime()).toBe(listed!.failedAt.getTime());

      // Every line about the task carries its entity key, in the form inspect accepts.
      const lines = rt.logger.entries.filter((e) => e.task === 'sync');
      expect(lines.length).toBeGreaterThanOrEqual(3);
      for (const line of lines) expect(line.entityKey).toBe(listed!.key);
      const parsed = parseTaskKey(ctx().datastore, listed!.key, ctx().namespace);
      expect(parsed.path).toEqual(deferral.entityKey!.path);
      // A pending or done entity is not a failure record.
      const ok = rt.deferred.task('ok', () => undefined, { entityBacked: true });
      const done = await ok.defer();
      await rt.advance();
      expect(await rt.deferred.failures.get(done.entityKey!)).toBeUndefined();
      expect(await rt.deferred.failures.get('no-such-record')).toBeUndefined();
    });

    it('an inline task keeps its earlier attempts in a log that its failure record takes over', async () => {
      const rt = await setup(ctx());
      const flaky = rt.deferred.task(
        'flaky',
        (id: string) => {
          const { attempt } = currentTask()!;
          if (attempt < 3) throw new Error(`attempt ${attempt} of ${id} failed`);
          throw new PermanentTaskFailure(`${id} is broken for good`);
        },
        { maxAttempts: 5 },
      );
      const deferral = await flaky.defer('job-1');
      await rt.advance();
      expect(await count(ctx(), ATTEMPTS_KIND)).toBe(1); // the first failed attempt, logged
      await retries(rt, 3);
      expect(await count(ctx(), ATTEMPTS_KIND)).toBe(0); // folded into the failure record

      const [listed] = (await rt.deferred.failures.list()).tasks;
      const id = taskIdOf(deferral.cloudTaskName!);
      expect(listed).toMatchObject({
        key: `failed.${rt.queue}.${id}`,
        task: 'flaky',
        inline: true,
        attempts: 3,
        lastError: 'PermanentTaskFailure: job-1 is broken for good',
      });
      const full = (await rt.deferred.failures.get(listed!.key))!;
      expect(full.history.map((h) => [h.attempt, h.status, h.outcome, h.error])).toEqual([
        [1, 500, 'retry', 'Error: attempt 1 of job-1 failed'],
        [2, 500, 'retry', 'Error: attempt 2 of job-1 failed'],
        [3, 200, 'failed', 'PermanentTaskFailure: job-1 is broken for good'],
      ]);
      expect(full.payload).toMatchObject({ args: ['job-1'] });
      // The ERROR line names the record it wrote.
      const line = rt.logger.entries.find((e) => e.message.startsWith('task flaky failed permanently'));
      expect(line?.entityKey).toBe(listed!.key);
    });

    it("each attempt names the trace and span of its run's log lines, which the dashboard links to; untraced ones none", async () => {
      const rt = await setup(ctx(), { openTelemetry: false });
      const traceId = randomBytes(16).toString('hex');
      const carried = (flags: string) => `00-${traceId}-${randomBytes(8).toString('hex')}-${flags}`;
      const fails = (label: string) => () => {
        throw new Error(`${label} attempt ${currentTask()!.attempt} failed`);
      };
      const entityBacked = rt.deferred.task('tracedEntity', fails('entity'), { entityBacked: true, maxAttempts: 2 });
      const inline = rt.deferred.task('tracedInline', fails('inline'), { maxAttempts: 2 });
      const untraced = rt.deferred.task('untraced', fails('untraced'), { maxAttempts: 1 });
      await entityBacked.with({ traceparent: carried('01') }).defer();
      await inline.with({ traceparent: carried('00') }).defer(); // not sampled: not in Cloud Trace
      await untraced.defer();
      await rt.advance();
      await retries(rt, 2);

      for (const task of ['tracedEntity', 'tracedInline']) {
        const [listed] = (await rt.deferred.failures.list({ task })).tasks;
        const full = (await rt.deferred.failures.get(listed!.key))!;
        expect(full.history.map((h) => h.outcome)).toEqual(['retry', 'failed']);
        // Each attempt's trace and span are those of the ERROR/WARNING line its run wrote.
        const runLines = rt.logger.entries.filter((e) => e.task === task && e.outcome !== undefined);
        expect(runLines).toHaveLength(2);
        expect(full.history.map((h) => [h.traceId, h.spanId])).toEqual(
          runLines.map((line) => [
            String(line['logging.googleapis.com/trace']).split('/').pop(),
            line['logging.googleapis.com/spanId'],
          ]),
        );
        expect(full.history[0]!.traceId).toBe(traceId);
        // ... and their durations the ones those lines give.
        expect(full.history.map((h) => h.durationMs)).toEqual(runLines.map((line) => line.durationMs));

        // Where each attempt's lines are: the query names its trace and span, and its labels as its line carries them
        // (which tell the attempts apart when, without OpenTelemetry, they share the span the task carried), in a
        // window around its run.
        const record = (await readFailed(rt.deferred.failures, listed!.key, ctx().namespace ?? '', PROJECT))!;
        record.history.forEach((shown, i) => {
          const labels = runLines[i]!['logging.googleapis.com/labels'] as { task: string; attempt: string };
          const query = String(shown.logQuery);
          expect(query).toContain(
            `trace="projects/${PROJECT}/traces/${traceId}" AND spanId="${full.history[i]!.spanId}" AND labels.task="${labels.task}" AND labels.attempt="${labels.attempt}" AND `,
          );
          const [from, to] = [...query.matchAll(/timestamp[<>]="([^"]+)"/g)].map((m) => Date.parse(m[1]!));
          expect(from).toBeLessThan(full.history[i]!.at.getTime());
          expect(to).toBeGreaterThan(full.history[i]!.at.getTime());
          expect(shown.logsUrl).toBe(
            `https://console.cloud.google.com/logs/query;query=${encodeURIComponent(query)}?project=${PROJECT}`,
          );
          expect(shown.traceUrl).toBe(
            task === 'tracedEntity'
              ? `https://console.cloud.google.com/traces/list?tid=${traceId}&project=${PROJECT}`
              : null,
          );
        });
        expect(record.history[0]!.logQuery).not.toBe(record.history[1]!.logQuery);
      }
      const [plain] = (await rt.deferred.failures.list({ task: 'untraced' })).tasks;
      const full = (await rt.deferred.failures.get(plain!.key))!;
      expect(full.history).toHaveLength(1);
      expect(full.history[0]).not.toHaveProperty('traceId');
      const record = (await readFailed(rt.deferred.failures, plain!.key, ctx().namespace ?? '', PROJECT))!;
      expect(record.history[0]).not.toHaveProperty('logsUrl');
    });

    it('an inline task that succeeds after failures leaves no attempt log; history is bounded', async () => {
      const rt = await setup(ctx());
      const later = rt.deferred.task('later', () => {
        if (currentTask()!.attempt < 3) throw new Error('not yet');
      });
      await later.defer();
      await rt.advance();
      await retries(rt, 3);
      expect(await count(ctx(), ATTEMPTS_KIND)).toBe(0);
      expect((await rt.deferred.failures.list()).tasks).toEqual([]);

      const stubborn = rt.deferred.task(
        'stubborn',
        () => {
          throw new Error('x'.repeat(5000));
        },
        { entityBacked: true, maxAttempts: HISTORY_LIMIT + 5 },
      );
      const deferral = await stubborn.defer();
      await rt.advance();
      for (let i = 0; i < HISTORY_LIMIT + 5; i++) await rt.advance(HOUR); // past the doubling backoff

      const full = (await rt.deferred.failures.get(deferral.entityKey!))!;
      expect(full.attempts).toBe(HISTORY_LIMIT + 5);
      expect(full.history).toHaveLength(HISTORY_LIMIT);
      expect(full.history[0]!.attempt).toBe(6);
      expect(full.history.at(-1)!.attempt).toBe(HISTORY_LIMIT + 5);
      expect(full.history[0]!.error!.length).toBeLessThanOrEqual(500);
      const [listed] = (await rt.deferred.failures.list()).tasks;
      expect(listed!.lastErrorCut).toBe(true);
      expect(Buffer.byteLength(listed!.lastError)).toBeLessThan(1400);
    });

    it('lists newest first across shards, filters by task, queue, time and error text, and pages by cursor', async () => {
      const rt = await setup(ctx());
      const fail = rt.deferred.task('fail', (n: number) => {
        throw new PermanentTaskFailure(n % 3 === 0 ? `quota exceeded for ${n}` : `bad input ${n}`);
      });
      const other = rt.deferred.task('other', (n: number) => {
        throw new PermanentTaskFailure(`other ${n}`);
      });
      const failedAt = new Map<number, number>();
      const start = rt.clock.now();
      for (let n = 0; n < 12; n++) {
        if (n % 4 === 3) await other.defer(n);
        else await fail.with(n === 10 ? { queue: `${rt.queue}-b` } : {}).defer(n);
        await rt.advance();
        failedAt.set(n, rt.clock.now());
        await rt.advance(1000);
      }
      const all = await rt.deferred.failures.list();
      expect(all.tasks).toHaveLength(12);
      const times = all.tasks.map((t) => t.failedAt.getTime());
      expect(times).toEqual([...failedAt.values()].reverse());
      expect(new Set(all.tasks.map((t) => t.key)).size).toBe(12);

      // Pages of 5: the same order, no record twice, then no cursor.
      const paged: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const page: Awaited<ReturnType<typeof rt.deferred.failures.list>> = await rt.deferred.failures.list(
          {},
          { limit: 5, cursor },
        );
        paged.push(...page.tasks.map((t) => t.key));
        cursor = page.cursor;
        pages++;
      } while (cursor);
      expect(paged).toEqual(all.tasks.map((t) => t.key));
      expect(pages).toBeLessThanOrEqual(4);

      const keysOf = async (filter: Parameters<typeof rt.deferred.failures.list>[0]) =>
        (await rt.deferred.failures.list(filter)).tasks.map((t) => t.lastError);
      expect(await keysOf({ task: 'other' })).toEqual([
        'PermanentTaskFailure: other 11',
        'PermanentTaskFailure: other 7',
        'PermanentTaskFailure: other 3',
      ]);
      expect(await keysOf({ queue: `${rt.queue}-b` })).toEqual(['PermanentTaskFailure: bad input 10']);
      expect(await keysOf({ task: 'fail', grep: 'QUOTA' })).toEqual([
        'PermanentTaskFailure: quota exceeded for 9',
        'PermanentTaskFailure: quota exceeded for 6',
        'PermanentTaskFailure: quota exceeded for 0',
      ]);
      expect(await keysOf({ grep: /input [12]$/ })).toEqual([
        'PermanentTaskFailure: bad input 2',
        'PermanentTaskFailure: bad input 1',
      ]);
      expect(await keysOf({ since: failedAt.get(8)!, until: failedAt.get(10)! })).toEqual([
        'PermanentTaskFailure: quota exceeded for 9',
        'PermanentTaskFailure: bad input 8',
      ]);
      expect(await keysOf({ until: start })).toEqual([]);

      // A filter few records match, with a small scan budget: short pages with a cursor, all matches in the end.
      const found: string[] = [];
      cursor = null;
      let shortPages = 0;
      do {
        const page: Awaited<ReturnType<typeof rt.deferred.failures.list>> = await rt.deferred.failures.list(
          { task: 'other' },
          { limit: 10, maxScan: 2, cursor },
        );
        expect(page.scanned).toBeLessThanOrEqual(2);
        if (page.cursor && page.tasks.length < 10) shortPages++;
        found.push(...page.tasks.map((t) => t.lastError));
        cursor = page.cursor;
      } while (cursor);
      expect(found).toEqual(await keysOf({ task: 'other' }));
      expect(shortPages).toBeGreaterThan(0);
      const seen: string[] = [];
      for await (const failed of rt.deferred.failures.matching({ task: 'other' })) seen.push(failed.lastError);
      expect(seen).toEqual(found);
      await expect(rt.deferred.failures.list({}, { cursor: 'garbage' })).rejects.toThrow(/cursor is not one/);
      await expect(rt.deferred.failures.list({}, { limit: 0 })).rejects.toThrow(/limit must be a whole number/);
    });

    it("otherNamespaces names the registry's namespaces holding matching records; list({ namespace }) lists them", async () => {
      const rt = await setup(ctx());
      const tenant = `${ctx().namespace}-acme`;
      try {
        const charge = rt.deferred.task('charge', (id: string) => {
          throw new PermanentTaskFailure(`card of ${id} declined`);
        });
        await rt.deferred.transaction(async (tx) => {
          tx.save({ key: ctx().datastore.key({ namespace: tenant, path: ['Order', 'o1'] }), data: { paid: false } });
          return tx.defer(charge, 'o1');
        });
        expect(await rt.deferred.failures.otherNamespaces()).toEqual([]); // registered, nothing failed there yet
        await rt.advance();
        expect((await rt.deferred.failures.list()).tasks).toEqual([]);
        expect(await rt.deferred.failures.otherNamespaces()).toEqual([tenant]);
        expect(await rt.deferred.failures.otherNamespaces({ task: 'other' })).toEqual([]);
        const there = await rt.deferred.failures.list({ namespace: tenant });
        expect(there.tasks.map((t) => [t.task, t.lastError])).toEqual([
          ['charge', 'PermanentTaskFailure: card of o1 declined'],
        ]);
        expect(await rt.deferred.failures.otherNamespaces({ namespace: tenant })).toEqual([]); // its own registry is empty
      } finally {
        await clearNamespace(ctx().datastore, tenant);
      }
    });

    it('get, retry and discard take keys in their text form in the namespace options.namespace names', async () => {
      const rt = await setup(ctx());
      const tenant = `${ctx().namespace}-globex`;
      try {
        let declined = true;
        const charged: string[] = [];
        const charge = rt.deferred.task('charge', (id: string) => {
          if (declined) throw new PermanentTaskFailure(`card of ${id} declined`);
          charged.push(id);
        });
        for (const id of ['o1', 'o2']) {
          await rt.deferred.transaction(async (tx) => {
            tx.save({ key: ctx().datastore.key({ namespace: tenant, path: ['Order', id] }), data: { paid: false } });
            return tx.defer(charge, id);
          });
        }
        await rt.advance();
        const failures = failuresOf(rt, tenant);
        const [first, second] = (await failures()).map((t) => t.key);
        // The text form holds no namespace: in the runtime's own there is no such record, and nothing is touched.
        expect(await rt.deferred.failures.get(first!)).toBeUndefined();
        expect(await rt.deferred.failures.discard(first!)).toMatchObject([{ status: 'missing' }]);
        expect(await rt.deferred.failures.retry(first!)).toMatchObject([{ status: 'missing' }]);
        const record = await rt.deferred.failures.get(first!, { namespace: tenant });
        expect(record?.lastError).toMatch(/declined/);
        const id = (record!.payload as { args: string[] }).args[0];
        expect(await rt.deferred.failures.discard(first!, { namespace: tenant, dryRun: true })).toMatchObject([
          { status: 'would-discard' },
        ]);
        expect(await failures()).toHaveLength(2);

        declined = false;
        const [retried] = await rt.deferred.failures.retry(first!, { namespace: tenant });
        expect(retried).toMatchObject({ status: 'retried', enqueued: true });
        await rt.advance();
        expect(charged).toEqual([id]); // the replay, written beside its record in the tenant's namespace, ran
        expect((await rt.deferred.failures.get(first!, { namespace: tenant }))?.state).toBe('retried');
        expect(await rt.deferred.failures.discard([second!], { namespace: tenant })).toMatchObject([
          { status: 'discarded' },
        ]);
        expect(await failures()).toEqual([]);
        expect(await rt.deferred.failures.get(second!, { namespace: tenant })).toBeUndefined();
      } finally {
        await clearNamespace(ctx().datastore, tenant);
      }
    });
  });

  describeStorage('retry', (ctx) => {
    it('replays once with the same arguments, marks the record retried, and a second retry runs nothing', async () => {
      const rt = await setup(ctx());
      let broken = true;
      const runs: { args: unknown[]; name: string; retryCount: number }[] = [];
      const charge = rt.deferred.task(
        'charge',
        (account: string, amount: bigint, when: Date) => {
          const info = currentTask()!;
          runs.push({ args: [account, amount, when], name: info.cloudTaskName, retryCount: info.retryCount });
          if (broken) throw new PermanentTaskFailure('card processor rejected the call');
        },
        { maxAttempts: 4, headers: { 'X-Tenant': 'acme' } },
      );
      const when = new Date('2026-03-04T05:06:07Z');
      const deferral = await charge.defer('acct-1', 1234n, when);
      await rt.advance();
      expect(runs).toHaveLength(1);
      const [listed] = (await rt.deferred.failures.list()).tasks;

      const dry = await rt.deferred.failures.retry(listed!.key, { dryRun: true });
      expect(dry).toEqual([
        {
          key: listed!.key,
          status: 'would-retry',
          task: 'charge',
          cloudTaskName: `${rt.queuePath}/tasks/${taskIdOf(deferral.cloudTaskName!)}-r1`,
        },
      ]);
      expect((await rt.deferred.failures.list()).tasks).toHaveLength(1); // a dry run changes nothing

      broken = false; // the bug is fixed
      const [result] = await rt.deferred.failures.retry(listed!.key);
      expect(result).toMatchObject({
        key: listed!.key,
        status: 'retried',
        enqueued: true,
        task: 'charge',
        cloudTaskName: dry[0]!.cloudTaskName,
      });
      await rt.advance();
      expect(runs).toHaveLength(2);
      expect(runs[1]).toEqual({ args: ['acct-1', 1234n, when], name: dry[0]!.cloudTaskName, retryCount: 0 });

      const again = await rt.deferred.failures.retry([listed!.key, listed!.entityKey]);
      expect(again.map((r) => [r.status, r.cloudTaskName])).toEqual([
        ['already-retried', dry[0]!.cloudTaskName],
        ['already-retried', dry[0]!.cloudTaskName],
      ]);
      await rt.advance(MIN);
      expect(runs).toHaveLength(2);
      expect((await rt.deferred.failures.list()).tasks).toEqual([]);
      const record = (await rt.deferred.failures.get(listed!.key))!;
      expect(record).toMatchObject({
        state: 'retried',
        retried: { cloudTaskName: dry[0]!.cloudTaskName, entityKey: result!.entityKey },
        payload: { args: ['acct-1', 1234n, when] },
      });
      expect(record.retried!.at.getTime()).toBe(result!.retriedAt!.getTime());
      // The replay ran as an entity-backed task and is done.
      const replay = parseTaskKey(ctx().datastore, result!.entityKey!, ctx().namespace);
      const [entity] = await ctx().datastore.get(replay);
      expect(entity).toMatchObject({ state: 'done', task: 'charge', transactional: true, attempts: 1 });
      expect(JSON.parse(entity.cloudTaskRequest as string).task.httpRequest.headers['X-Tenant']).toBe('acme');
      expect(await rt.deferred.failures.retry('nothing-here')).toEqual([{ key: 'nothing-here', status: 'missing' }]);
      expect(await rt.deferred.failures.retry(result!.entityKey!)).toMatchObject([
        { status: 'not-failed', state: 'done' },
      ]);
    });

    it('two processes retrying one record at once replay it once', async () => {
      const rt = await setup(ctx());
      let broken = true;
      let runs = 0;
      const once = rt.deferred.task(
        'once',
        () => {
          runs++;
          if (broken) throw new PermanentTaskFailure('not yet');
        },
        { entityBacked: true },
      );
      await once.defer();
      await rt.advance();
      const [listed] = (await rt.deferred.failures.list()).tasks;
      broken = false;
      const other = otherProcess(ctx(), rt);
      const results = await Promise.all([
        rt.deferred.failures.retry(listed!.key),
        other.failures.retry(listed!.key),
        rt.deferred.failures.retry(listed!.key),
      ]);
      const statuses = results.map(([r]) => r!.status).sort();
      expect(statuses).toEqual(['already-retried', 'already-retried', 'retried']);
      expect(new Set(results.map(([r]) => r!.cloudTaskName)).size).toBe(1);
      await rt.advance();
      await retries(rt, 2);
      expect(runs).toBe(2); // the failed run and one replay
      const [tasks] = await ctx().datastore.runQuery(ctx().datastore.createQuery(TASK_KIND));
      expect(tasks).toHaveLength(2); // the retried record and its replay
    });

    it('replays a spilled 2 MB payload from its chunks, into another queue after a delay', async () => {
      const rt = await setup(ctx());
      let broken = true;
      const received: string[] = [];
      const digest = (data: Buffer) => createHash('sha256').update(data).digest('hex');
      const ingest = rt.deferred.task('ingest', (data: Buffer) => {
        received.push(`${currentTask()!.queue}:${digest(data)}`);
        if (broken) throw new PermanentTaskFailure('parser bug');
      });
      const big = randomBytes(2 * 1024 * 1024); // incompressible: three chunks
      const deferral = await ingest.defer(big);
      expect(deferral.entityKey).not.toBeNull();
      await rt.advance();
      expect(received).toEqual([`${rt.queue}:${digest(big)}`]);
      expect(await count(ctx(), CHUNK_KIND)).toBe(3); // a failed entity keeps its payload

      broken = false;
      const retryQueue = `${rt.queue}-replay`;
      const [result] = await rt.deferred.failures.retry(deferral.entityKey!, { queue: retryQueue, delay: '10m' });
      expect(result).toMatchObject({ status: 'retried', enqueued: true });
      expect(result!.cloudTaskName).toMatch(new RegExp(`/queues/${retryQueue}/tasks/.+-r1$`));
      expect(await count(ctx(), CHUNK_KIND)).toBe(6); // the record's and its replay's
      await rt.advance(5 * MIN);
      expect(received).toHaveLength(1); // not due yet
      await rt.advance(6 * MIN);
      expect(received).toEqual([`${rt.queue}:${digest(big)}`, `${retryQueue}:${digest(big)}`]);
      expect(await count(ctx(), CHUNK_KIND)).toBe(3); // the replay is done: its chunks are gone
      await expect(rt.deferred.failures.retry(deferral.entityKey!, { queue: 'no/slashes' })).rejects.toThrow(
        /not a valid queue id/,
      );
    });

    it('retryMatching replays every record a filter matches; inline records too', async () => {
      const rt = await setup(ctx());
      let broken = true;
      const ran: string[] = [];
      const send = rt.deferred.task('send', (to: string) => {
        ran.push(to);
        if (broken) throw new PermanentTaskFailure(`smtp refused ${to}`);
      });
      const keep = rt.deferred.task('keep', () => {
        throw new PermanentTaskFailure('leave me');
      });
      for (const to of ['a@x', 'b@x', 'c@x']) await send.defer(to);
      await keep.defer();
      await rt.advance();
      broken = false;
      const dry = await rt.deferred.failures.retryMatching({ task: 'send' }, { dryRun: true });
      expect(dry.map((r) => r.status)).toEqual(['would-retry', 'would-retry', 'would-retry']);
      const results = await rt.deferred.failures.retryMatching({ task: 'send' });
      expect(results.map((r) => r.status)).toEqual(['retried', 'retried', 'retried']);
      await rt.advance();
      expect(ran.sort()).toEqual(['a@x', 'a@x', 'b@x', 'b@x', 'c@x', 'c@x']);
      expect((await rt.deferred.failures.list()).tasks.map((t) => t.task)).toEqual(['keep']);
      expect(await rt.deferred.failures.retryMatching({ task: 'send' })).toEqual([]);
    });

    it('a replay whose Cloud Task could not be created is re-driven by the sweeper, and runs once', async () => {
      const rt = await setup(ctx());
      let broken = true;
      let runs = 0;
      const job = rt.deferred.task('job', () => {
        runs++;
        if (broken) throw new PermanentTaskFailure('down');
      });
      await job.defer();
      await rt.advance();
      broken = false;
      // The process that retries loses its connection to Cloud Tasks right after the commit.
      const unavailable = Object.assign(new Error('14 UNAVAILABLE: connection reset'), { code: 14 });
      const failing = new Proxy(rt.client, {
        get: (target, name, receiver) =>
          name === 'createTask' ? () => Promise.reject(unavailable) : Reflect.get(target, name, receiver),
      });
      const [listed] = (await rt.deferred.failures.list()).tasks;
      const [result] = await otherProcess(ctx(), rt, failing).failures.retry(listed!.key);
      expect(result).toMatchObject({
        status: 'retried',
        enqueued: false,
        error: 'Error: 14 UNAVAILABLE: connection reset',
      });
      await rt.advance(MIN);
      expect(runs).toBe(1);
      // The replay's entity is its outbox: a sweep past its ETA + grace creates the task again, and it runs.
      const swept = await sweep({
        datastore: ctx().datastore,
        tasks: rt.client,
        now: new Date(rt.clock.now() + 11 * MIN),
      });
      expect(swept.stats.redriven).toBe(1);
      await rt.advance();
      expect(runs).toBe(2);
      expect(await rt.deferred.failures.retry(listed!.key)).toMatchObject([{ status: 'already-retried' }]);
    });

    it('a retried record is swept after its retention, counted as deleted: retried', async () => {
      const rt = await setup(ctx());
      let broken = true;
      const job = rt.deferred.task(
        'job',
        () => {
          if (broken) throw new PermanentTaskFailure('down');
        },
        { retention: '1h' },
      );
      await job.defer();
      await rt.advance();
      broken = false;
      const [listed] = (await rt.deferred.failures.list()).tasks;
      await rt.advance(30 * MIN);
      await rt.deferred.failures.retry(listed!.key);
      await rt.advance();
      const options = { datastore: ctx().datastore, tasks: rt.client };
      const early = await sweep({ ...options, now: new Date(rt.clock.now() + 45 * MIN) }); // 75 min after the failure
      expect(early.stats.deleted.retried).toBe(0);
      const late = await sweep({ ...options, now: new Date(rt.clock.now() + 2 * HOUR) });
      expect(late.stats.deleted).toMatchObject({ retried: 1, done: 1 });
      expect(await rt.deferred.failures.get(listed!.key)).toBeUndefined();
    });
  });

  describeStorage('discard', (ctx) => {
    it('deletes failure records and their chunks, and never a live task', async () => {
      const rt = await setup(ctx());
      const big = rt.deferred.task('big', (_data: Buffer) => {
        throw new PermanentTaskFailure('no');
      });
      const small = rt.deferred.task('small', (_n: number) => {
        throw new PermanentTaskFailure('no');
      });
      const later = rt.deferred.task('later', () => undefined, { entityBacked: true });
      const spilled = await big.defer(randomBytes(1_500_000));
      await small.defer(1);
      await small.defer(2);
      const pending = await later.with({ delay: '1d' }).defer();
      await rt.advance();
      expect(await count(ctx(), CHUNK_KIND)).toBe(2);

      const dry = await rt.deferred.failures.discard([spilled.entityKey!, pending.entityKey!], { dryRun: true });
      expect(dry.map((r) => r.status)).toEqual(['would-discard', 'not-failed']);
      expect(await count(ctx(), TASK_KIND)).toBe(4);
      const results = await rt.deferred.failures.discard([spilled.entityKey!, pending.entityKey!, 'gone']);
      expect(results).toEqual([
        { key: formatTaskKey(spilled.entityKey!), status: 'discarded', task: 'big' },
        { key: formatTaskKey(pending.entityKey!), status: 'not-failed', task: 'later', state: 'pending' },
        { key: 'gone', status: 'missing' },
      ]);
      expect(await count(ctx(), CHUNK_KIND)).toBe(0);
      const matched = await rt.deferred.failures.discardMatching({ task: 'small' });
      expect(matched.map((r) => r.status)).toEqual(['discarded', 'discarded']);
      const [left] = await ctx().datastore.runQuery(ctx().datastore.createQuery(TASK_KIND));
      expect(left.map((e) => (e[Datastore.KEY] as Key).name)).toEqual([pending.entityKey!.name]);
    });
  });
});
