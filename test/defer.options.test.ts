// Per-call and per-task options through the emulator: delay and eta (with hops past 30 days), names, deadline, headers, queue.
import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { checkSignature } from '../src/codec/index.js';
import { parseStoredRequest } from '../src/core/cloud-task-request.js';
import { TaskAlreadyExistsError } from '../src/errors/index.js';
import { TASK_KIND } from '../src/store/schema.js';
import type { Deferral } from '../src/types.js';
import { describeStorage } from './support/backends.js';
import { SECRET, useRuntime } from './support/runtime.js';
import { DAY } from './support/time.js';

describe('defer options', () => {
  const setup = useRuntime();

  describeStorage('scheduling and naming', (ctx) => {
    it("delay: '5m' runs after five minutes, not before; eta runs at that time", async () => {
      const rt = await setup(ctx());
      const ran: string[] = [];
      const note = rt.deferred.task('note', (what: string) => {
        ran.push(what);
      });
      const start = rt.clock.now();
      const delayed = await note.with({ delay: '5m' }).defer('delay');
      await note.with({ eta: new Date(start + 10 * 60_000) }).defer('eta');
      expect(delayed.eta.getTime()).toBe(start + 5 * 60_000);
      const [task] = await rt.client.getTask({ name: delayed.cloudTaskName! });
      expect(Number(task.scheduleTime!.seconds) * 1000).toBe(Math.floor((start + 5 * 60_000) / 1000) * 1000);
      await rt.advance(4 * 60_000);
      expect(ran).toEqual([]);
      await rt.advance(60_000);
      expect(ran).toEqual(['delay']);
      await rt.advance(5 * 60_000);
      expect(ran).toEqual(['delay', 'eta']);
    });

    it('an entity-backed task due now is created without scheduleTime (as an inline one); a delayed one with it', async () => {
      const rt = await setup(ctx());
      const ran: string[] = [];
      const note = rt.deferred.task('note', (what: string) => {
        ran.push(what);
      });
      const start = rt.clock.now();
      const now = await note.with({ entityBacked: true }).defer('now');
      const later = await note.with({ entityBacked: true, delay: '1m' }).defer('later');
      const stored = async (deferral: Deferral) => {
        const [entity] = await ctx().datastore.get(deferral.entityKey!);
        return parseStoredRequest(String(entity.cloudTaskRequest)).task!;
      };
      expect((await stored(now)).scheduleTime).toBeUndefined();
      expect(Number((await stored(later)).scheduleTime!.seconds)).toBe(Math.floor((start + 60_000) / 1000));
      await rt.advance();
      expect(ran).toEqual(['now']);
      await rt.advance(60_000);
      expect(ran).toEqual(['now', 'later']);
    });

    it('a task due in 45 days hops at the 30-day horizon and runs once, at its ETA', async () => {
      const rt = await setup(ctx());
      const runs: number[] = [];
      const later = rt.deferred.task('later', () => {
        runs.push(rt.clock.now());
      });
      const start = rt.clock.now();
      const deferral = await later.with({ delay: '45d' }).defer();
      expect(deferral.entityKey).not.toBeNull(); // beyond the horizon a task is entity-backed
      const [first] = await rt.client.getTask({ name: deferral.cloudTaskName! });
      expect(Number(first.scheduleTime!.seconds) * 1000).toBeLessThanOrEqual(start + 30 * DAY);
      await rt.advance(30 * DAY);
      expect(runs).toEqual([]);
      const [entity] = (await ctx().datastore.runQuery(ctx().datastore.createQuery(TASK_KIND)))[0];
      expect(entity.cloudTaskName).toBe(`${deferral.cloudTaskName}-h1`);
      expect(entity.state).toBe('pending');
      expect((entity.expireAt as Date).getTime()).toBe(start + 45 * DAY + 30 * DAY);
      await rt.advance(15 * DAY);
      expect(runs).toHaveLength(1);
      expect(runs[0]).toBeGreaterThanOrEqual(start + 45 * DAY);
      expect(await rt.listTasks()).toEqual([]);
      expect(rt.logger.entries.filter((e) => e.outcome === 'hopped')).toHaveLength(1);
    });

    it('a task deferred by 0.1 (a v1 signature) runs during the upgrade window, and its hop is signed v2', async () => {
      const rt = await setup(ctx());
      const runs: number[] = [];
      const later = rt.deferred.task('later', () => void runs.push(rt.clock.now()));
      const start = rt.clock.now();
      const deferral = await later.with({ delay: '45d' }).defer();
      // Make it what 0.1 left behind: its Cloud Task and stored request signed v1 (over the body alone).
      const [entity] = await ctx().datastore.get(deferral.entityKey!);
      const request = JSON.parse(entity.cloudTaskRequest as string);
      const body = Buffer.from(request.task.httpRequest.body as string, 'base64');
      request.task.httpRequest.headers['x-deferred-signature'] =
        `v1=${createHmac('sha256', SECRET).update(body).digest('base64url')}`;
      request.task.name = `${deferral.cloudTaskName}-legacy`;
      await rt.client.deleteTask({ name: deferral.cloudTaskName! });
      await rt.client.createTask(request);
      entity.cloudTaskName = request.task.name;
      entity.cloudTaskRequest = JSON.stringify(request);
      await ctx().datastore.save({
        key: deferral.entityKey!,
        data: entity,
        excludeFromIndexes: ['payload', 'cloudTaskRequest'],
      });

      await rt.advance(30 * DAY);
      expect(runs).toEqual([]);
      const [hop] = await rt.client.getTask({ name: `${request.task.name}-h1`, responseView: 'FULL' });
      const signature = hop.httpRequest!.headers!['x-deferred-signature']!;
      expect(signature).toMatch(/^v2=/);
      expect(checkSignature(Buffer.from(hop.httpRequest!.body as Uint8Array), signature, [SECRET], 'task')).toBe(
        'valid',
      );
      await rt.advance(15 * DAY);
      expect(runs).toHaveLength(1);
      expect(runs[0]).toBeGreaterThanOrEqual(start + 45 * DAY);
    });

    it("name de-duplicates: a taken name throws TaskAlreadyExistsError, or with ifExists: 'ignore' returns 'existing'", async () => {
      const rt = await setup(ctx());
      let runs = 0;
      const once = rt.deferred.task('once', () => {
        runs++;
      });
      const first = await once.with({ name: 'report-u1', delay: '1m' }).defer();
      expect(first.cloudTaskName).toBe(`${rt.queuePath}/tasks/report-u1`);
      const error = await once
        .with({ name: 'report-u1' })
        .defer()
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(TaskAlreadyExistsError);
      expect((error as TaskAlreadyExistsError).code).toBe('TASK_ALREADY_EXISTS');
      const ignored = await once.with({ name: 'report-u1', ifExists: 'ignore' }).defer();
      expect(ignored.status).toBe('existing');
      const entityIgnored = await once.with({ name: 'report-u1', ifExists: 'ignore', entityBacked: true }).defer();
      expect(entityIgnored.status).toBe('existing');
      expect((await ctx().datastore.runQuery(ctx().datastore.createQuery(TASK_KIND)))[0]).toEqual([]);
      await rt.advance(60_000);
      expect(runs).toBe(1);
    });

    it('sends dispatchDeadline and headers with the task, to the chosen queue; task options are defaults for calls', async () => {
      const rt = await setup(ctx());
      const other = `${rt.queue}-b`;
      const t = rt.deferred.task('configured', () => undefined, {
        dispatchDeadline: '2m',
        headers: { 'X-Team': 'reports' },
        queue: other,
      });
      const deferral = await t.with({ headers: { 'X-Run': 'nightly' }, delay: '1h' }).defer();
      expect(deferral.queue).toBe(other);
      const [task] = await rt.client.getTask({ name: deferral.cloudTaskName!, responseView: 'FULL' });
      expect(task.name).toContain(`/queues/${other}/tasks/`);
      expect(Number(task.dispatchDeadline!.seconds)).toBe(120);
      expect(task.httpRequest!.headers).toMatchObject({ 'X-Team': 'reports', 'X-Run': 'nightly' });
      expect(task.httpRequest!.url).toBe(`${rt.origin}/_deferred/tasks/configured`);
    });
  });
});
