// One trace from the request that defers to the task that runs: traceparent on the Cloud Task (as the emulator
// delivers it), OpenTelemetry PRODUCER and CONSUMER spans (links, attributes, status), and Cloud Logging's trace
// fields on every log line of every run.
import type http from 'node:http';
import { context, trace, SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider, type ReadableSpan } from '@opentelemetry/sdk-trace';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { currentTask } from '../src/core/run-context.js';
import { parseTraceparent } from '../src/core/trace-context.js';
import { TASK_KIND } from '../src/store/schema.js';
import type { LogEntry, TaskDeferredEvent, TaskEndedEvent, TaskEvent, TaskHandle } from '../src/types.js';
import { describeStorage } from './support/backends.js';
import { PROJECT, useRuntime, type RecordedRequest, type RuntimeFixture } from './support/runtime.js';
import { DAY, HOUR } from './support/time.js';
import { PermanentTaskFailure } from '../src/errors/index.js';
import { silentLogger } from '../src/core/logger.js';
import { sweep } from '../src/sweeper/index.js';

/** What Cloud Run's front end would send with a request: its trace, and a span of its own as the parent. */
const REQUEST_TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const REQUEST_SPAN = '00f067aa0ba902b7';
const REQUEST_TRACEPARENT = `00-${REQUEST_TRACE}-${REQUEST_SPAN}-01`;

const exporter = new InMemorySpanExporter();
const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });

beforeAll(() => {
  trace.setGlobalTracerProvider(provider);
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
});
afterAll(async () => {
  await provider.shutdown();
  trace.disable();
  context.disable();
});
beforeEach(() => exporter.reset());

/** The app behind the handler: `POST /orders/<id>` defers `parent` and answers 202. */
function ordersApp(defer: (id: string) => Promise<unknown>): http.RequestListener {
  return (req, res) => {
    const id = /^\/orders\/([\w-]+)$/.exec(req.url ?? '')?.[1];
    if (!id) return void res.writeHead(404).end();
    defer(id).then(
      () => res.writeHead(202).end(),
      (error: unknown) => res.writeHead(500).end(String(error)),
    );
  };
}

/** The tasks the parent, and the child it defers, saw as `currentTask()`; and the log lines they wrote themselves. */
function orderTasks(rt: RuntimeFixture) {
  const seen: { task: string; logFields: Readonly<Record<string, unknown>>; traceparent: string | null }[] = [];
  const own: LogEntry[] = [];
  const note = (task: string) => {
    const info = currentTask()!;
    seen.push({ task, logFields: info.logFields, traceparent: info.trace?.traceparent ?? null });
    own.push({ severity: 'INFO', message: `${task} ran`, ...info.logFields });
  };
  const ship = rt.deferred.task(
    'ship',
    () => {
      note('ship');
    },
    { entityBacked: true },
  );
  const order = rt.deferred.task('order', async (id: string) => {
    note('order');
    await ship.with({ name: `ship-${id}` }).defer();
  });
  return { order, ship, seen, own };
}

const deliveriesOf = (rt: RuntimeFixture, task: string): RecordedRequest[] =>
  rt.recorded.filter((r) => r.url.endsWith(`/tasks/${task}`));

const spanNamed = (name: string): ReadableSpan => {
  const found = exporter.getFinishedSpans().filter((span) => span.name === name);
  expect(found, name).toHaveLength(1);
  return found[0]!;
};

/** The trace fields every line of a run carries, with its task, queue and attempt as labels. */
function expectTraceFields(entry: Record<string, unknown>, spanId: string) {
  expect(entry['logging.googleapis.com/trace']).toBe(`projects/${PROJECT}/traces/${REQUEST_TRACE}`);
  expect(entry['logging.googleapis.com/spanId']).toBe(spanId);
  expect(entry['logging.googleapis.com/trace_sampled']).toBe(true);
}

describe('observability: one trace from a request to the tasks it leads to', () => {
  const setup = useRuntime();

  describeStorage('with OpenTelemetry', (ctx) => {
    it('one request through the handler defers a task that defers a child: producer and consumer spans, links, attributes, the delivered traceparent, trace fields on every log line', async () => {
      const later: { order?: TaskHandle<[string]> } = {};
      const rt = await setup(ctx(), { record: true, app: ordersApp((id) => later.order!.defer(id)) });
      const tasks = orderTasks(rt);
      later.order = tasks.order;

      const answer = await rt.post('/orders/o1', { headers: { traceparent: REQUEST_TRACEPARENT } });
      expect(answer.status).toBe(202);
      await rt.advance();

      // The request's defer: a PRODUCER span in the request's trace, under its span; its context is what travelled.
      const deferOrder = spanNamed('defer order');
      expect(deferOrder.kind).toBe(SpanKind.PRODUCER);
      expect(deferOrder.spanContext().traceId).toBe(REQUEST_TRACE);
      expect(deferOrder.parentSpanContext?.spanId).toBe(REQUEST_SPAN);
      const [orderDelivery] = deliveriesOf(rt, 'order');
      const orderTraceparent = orderDelivery!.headers['traceparent'];
      expect(orderTraceparent).toBe(`00-${REQUEST_TRACE}-${deferOrder.spanContext().spanId}-01`);
      const orderTask = orderDelivery!.headers['x-cloudtasks-taskname']!;
      expect(deferOrder.attributes).toMatchObject({
        'messaging.system': 'gcp_cloud_tasks',
        'messaging.destination.name': rt.queue,
        'messaging.operation.type': 'send',
        'messaging.message.id': orderTask,
        'deferred.task': 'order',
        'deferred.status': 'enqueued',
        'deferred.entity_backed': false,
      });
      expect(deferOrder.status.code).toBe(SpanStatusCode.OK);

      // Its run: a CONSUMER span linked to the producer, not parented by it.
      const runOrder = spanNamed('run order');
      expect(runOrder.kind).toBe(SpanKind.CONSUMER);
      expect(runOrder.parentSpanContext).toBeUndefined();
      expect(runOrder.spanContext().traceId).not.toBe(REQUEST_TRACE);
      expect(runOrder.links.map((link) => link.context.spanId)).toEqual([deferOrder.spanContext().spanId]);
      expect(runOrder.links[0]!.context.traceId).toBe(REQUEST_TRACE);
      expect(runOrder.attributes).toMatchObject({
        'messaging.system': 'gcp_cloud_tasks',
        'messaging.destination.name': rt.queue,
        'messaging.operation.type': 'process',
        'messaging.message.id': orderTask,
        'deferred.task': 'order',
        'deferred.attempt': 1,
        'deferred.outcome': 'done',
      });
      expect(runOrder.status.code).toBe(SpanStatusCode.OK);

      // The child, deferred inside the run: still in the request's trace (under the first defer), linked to the run.
      const deferShip = spanNamed('defer ship');
      expect(deferShip.kind).toBe(SpanKind.PRODUCER);
      expect(deferShip.spanContext().traceId).toBe(REQUEST_TRACE);
      expect(deferShip.parentSpanContext?.spanId).toBe(deferOrder.spanContext().spanId);
      expect(deferShip.links.map((link) => link.context.spanId)).toEqual([runOrder.spanContext().spanId]);
      expect(deferShip.attributes).toMatchObject({ 'deferred.status': 'held', 'messaging.message.id': 'ship-o1' });
      const [shipDelivery] = deliveriesOf(rt, 'ship');
      expect(shipDelivery!.headers['traceparent']).toBe(`00-${REQUEST_TRACE}-${deferShip.spanContext().spanId}-01`);
      const runShip = spanNamed('run ship');
      expect(runShip.links.map((link) => link.context.spanId)).toEqual([deferShip.spanContext().spanId]);
      expect(runShip.attributes).toMatchObject({ 'deferred.entity_backed': true, 'deferred.outcome': 'done' });

      // The entity-backed child stores its traceparent with its request (re-drives and hops re-create it from there).
      const [entities] = await ctx().datastore.runQuery(ctx().datastore.createQuery(TASK_KIND));
      expect(entities).toHaveLength(1);
      const stored = JSON.parse(String(entities[0]!.cloudTaskRequest)) as {
        task: { httpRequest: { headers: Record<string, string> } };
      };
      expect(stored.task.httpRequest.headers['traceparent']).toBe(shipDelivery!.headers['traceparent']);

      // Every line the runtime logged, and the tasks' own lines from currentTask().logFields: the request's trace.
      expect(rt.logger.entries.length).toBeGreaterThanOrEqual(2);
      for (const entry of rt.logger.entries) {
        const span = entry.task === 'order' ? deferOrder : deferShip;
        expectTraceFields(entry, span.spanContext().spanId);
        expect(entry['logging.googleapis.com/labels']).toEqual({ task: entry.task, queue: rt.queue, attempt: '1' });
      }
      expect(tasks.own.map((e) => e.message)).toEqual(['order ran', 'ship ran']);
      expectTraceFields(tasks.own[0]!, deferOrder.spanContext().spanId);
      expectTraceFields(tasks.own[1]!, deferShip.spanContext().spanId);
      expect(tasks.seen.map((s) => s.traceparent)).toEqual([orderTraceparent, shipDelivery!.headers['traceparent']]);
    });

    it('a failing run ends its span in ERROR, each retry a span of its own linked to the same producer', async () => {
      const rt = await setup(ctx());
      let calls = 0;
      const flaky = rt.deferred.task('flaky', () => {
        calls += 1;
        if (calls === 1) throw new Error('first attempt fails');
      });
      await flaky.with({ traceparent: REQUEST_TRACEPARENT }).defer();
      await rt.advance();
      await rt.advance(60_000);
      expect(calls).toBe(2);
      const producer = spanNamed('defer flaky');
      expect(producer.parentSpanContext?.spanId).toBe(REQUEST_SPAN);
      const runs = exporter.getFinishedSpans().filter((span) => span.name === 'run flaky');
      expect(runs.map((span) => [span.status.code, span.attributes['deferred.outcome']])).toEqual([
        [SpanStatusCode.ERROR, 'retry'],
        [SpanStatusCode.OK, 'done'],
      ]);
      expect(runs[0]!.status.message).toBe('Error: first attempt fails');
      expect(runs[0]!.events.map((event) => event.name)).toEqual(['exception']);
      for (const run of runs) expect(run.links[0]!.context.spanId).toBe(producer.spanContext().spanId);
      expect(runs.map((span) => span.attributes['deferred.retry_count'])).toEqual([0, 1]);
    });
  });

  describeStorage('sweeps with OpenTelemetry', (ctx) => {
    it('a sweep is a span, each shard a span under it, with their counts as attributes', async () => {
      const rt = await setup(ctx());
      const noted = rt.deferred.task('noted', () => undefined, { entityBacked: true });
      for (let i = 0; i < 3; i++) await noted.defer();
      await rt.advance();
      exporter.reset();
      const result = await sweep({
        datastore: ctx().datastore,
        tasks: rt.client,
        now: new Date(rt.clock.now() + HOUR),
        olderThanMs: 0,
        retention: { doneMs: 0, failedMs: 0 },
        log: silentLogger,
      });
      expect(result.stats.deleted.done).toBe(3);
      const whole = spanNamed('sweep');
      expect(whole.attributes).toMatchObject({
        'deferred.sweep.shards': 16,
        'deferred.sweep.deleted.done': 3,
        'deferred.sweep.scanned': result.stats.scanned,
        'deferred.sweep.errors': 0,
        'deferred.sweep.dry_run': false,
      });
      expect(whole.status.code).toBe(SpanStatusCode.OK);
      const shards = exporter.getFinishedSpans().filter((span) => span.name === 'sweep shard');
      expect(
        shards.map((span) => span.attributes['deferred.sweep.shard']).sort((a, b) => Number(a) - Number(b)),
      ).toEqual(Array.from({ length: 16 }, (_, i) => i));
      for (const span of shards) expect(span.parentSpanContext?.spanId).toBe(whole.spanContext().spanId);
      const deleted = shards.reduce((sum, span) => sum + Number(span.attributes['deferred.sweep.deleted.done']), 0);
      expect(deleted).toBe(3);
    });
  });

  describeStorage('events for metrics (deferred.on)', (ctx) => {
    it('taskStarted, then taskSucceeded, taskRetried or taskFailed, with the run, its duration and its error', async () => {
      const rt = await setup(ctx(), { openTelemetry: false });
      const seen: [string, TaskEvent | TaskEndedEvent][] = [];
      for (const name of ['taskStarted', 'taskSucceeded', 'taskRetried', 'taskFailed'] as const) {
        rt.deferred.on(name, (event) => seen.push([name, event]));
      }
      const stop = rt.deferred.on('taskStarted', () => {
        throw new Error('a broken listener');
      });
      let flakyCalls = 0;
      const metered = rt.deferred.task('metered', (mode: 'flaky' | 'fail') => {
        if (mode === 'fail') throw new PermanentTaskFailure('no such account');
        flakyCalls += 1;
        if (flakyCalls === 1) throw new Error('flaky');
      });
      await metered.with({ traceparent: REQUEST_TRACEPARENT }).defer('flaky');
      await rt.advance();
      await rt.advance(60_000);
      stop();
      await metered.defer('fail');
      await rt.advance();
      expect(seen.map(([name, event]) => [name, event.attempt, (event as TaskEndedEvent).error])).toEqual([
        ['taskStarted', 1, undefined],
        ['taskRetried', 1, 'Error: flaky'],
        ['taskStarted', 2, undefined],
        ['taskSucceeded', 2, undefined],
        ['taskStarted', 1, undefined],
        ['taskFailed', 1, 'PermanentTaskFailure: no such account'],
      ]);
      for (const [, event] of seen) {
        expect(event).toMatchObject({ task: 'metered', queue: rt.queue, entityBacked: false });
        expect(event.cloudTaskName.startsWith(`${rt.queuePath}/tasks/`)).toBe(true);
      }
      expect(seen[0]![1].info.trace?.traceId).toBe(REQUEST_TRACE);
      expect((seen[1]![1] as TaskEndedEvent).durationMs).toBeGreaterThanOrEqual(0);
      // The throwing listener was logged twice (the two starts before it stopped listening) and changed nothing.
      expect(rt.logger.entries.filter((e) => /a taskStarted listener threw/.test(e.message))).toHaveLength(2);
    });

    it('taskDeferred reports every defer once it resolves (enqueued, held, existing; deferMany too) with the trace it carries as log fields', async () => {
      const rt = await setup(ctx(), { openTelemetry: false });
      const seen: TaskDeferredEvent[] = [];
      rt.deferred.on('taskDeferred', (event) => seen.push(event));
      const child = rt.deferred.task('child', () => undefined);
      const parent = rt.deferred.task('parent', async () => {
        await child.defer(); // held until the parent succeeds
      });
      const spilled = rt.deferred.task('spilled', (_n: number) => undefined, { entityBacked: true });

      const traced = await parent.with({ traceparent: REQUEST_TRACEPARENT, name: 'parent-1' }).defer();
      const again = await parent.with({ name: 'parent-1', ifExists: 'ignore' }).defer();
      const [one, two] = await rt.deferred.deferMany([
        { task: spilled, args: [1] },
        { task: spilled, args: [2] },
      ]);
      const untraced = await spilled.with({ traceparent: false }).defer(3);
      const top = seen.filter((e) => e.task !== 'child'); // the parent may already have run meanwhile
      expect(top.map((e) => [e.task, e.status])).toEqual([
        ['parent', 'enqueued'],
        ['parent', 'existing'],
        ['spilled', 'enqueued'],
        ['spilled', 'enqueued'],
        ['spilled', 'enqueued'],
      ]);
      // Each event is its deferral, with the trace its Cloud Task carries.
      expect(top.map(({ traceparent: _t, logFields: _l, ...deferral }) => deferral)).toEqual([
        traced,
        again,
        one,
        two,
        untraced,
      ]);
      expect(top[0]).toMatchObject({
        traceparent: REQUEST_TRACEPARENT,
        logFields: {
          'logging.googleapis.com/trace': `projects/${PROJECT}/traces/${REQUEST_TRACE}`,
          'logging.googleapis.com/spanId': REQUEST_SPAN,
          'logging.googleapis.com/trace_sampled': true,
          'logging.googleapis.com/labels': { task: 'parent', queue: rt.queue },
        },
      });
      expect(top[4]).toMatchObject({
        traceparent: null,
        logFields: { 'logging.googleapis.com/labels': { task: 'spilled', queue: rt.queue } },
      });
      expect(top[4]!.logFields).not.toHaveProperty(['logging.googleapis.com/trace']);

      // A child deferred while its parent runs: reported held, in the parent's trace; not again when it is created.
      await rt.advance();
      const held = seen.filter((e) => e.task === 'child');
      expect(held).toMatchObject([{ status: 'held', traceparent: expect.stringContaining(REQUEST_TRACE) }]);
      expect(rt.logger.entries.some((e) => e.task === 'child' && e.outcome === 'done')).toBe(true);
      expect(seen.filter((e) => e.task === 'child')).toHaveLength(1);
    });

    it('on() refuses an unknown event, naming the events', async () => {
      const rt = await setup(ctx());
      expect(() => rt.deferred.on('taskExploded' as 'taskStarted', () => undefined)).toThrow(
        /unknown event; the events are taskDeferred, taskStarted, taskSucceeded, taskFailed, taskRetried, sweepFinished/,
      );
    });
  });

  describeStorage('without OpenTelemetry (openTelemetry: false)', (ctx) => {
    it("the request's traceparent travels as it came, to the task and its child; every log line carries it", async () => {
      const later: { order?: TaskHandle<[string]> } = {};
      const rt = await setup(ctx(), {
        record: true,
        openTelemetry: false,
        app: ordersApp((id) => later.order!.defer(id)),
      });
      const tasks = orderTasks(rt);
      later.order = tasks.order;
      expect((await rt.post('/orders/o2', { headers: { traceparent: REQUEST_TRACEPARENT } })).status).toBe(202);
      await rt.advance();
      expect(deliveriesOf(rt, 'order')[0]!.headers['traceparent']).toBe(REQUEST_TRACEPARENT);
      expect(deliveriesOf(rt, 'ship')[0]!.headers['traceparent']).toBe(REQUEST_TRACEPARENT);
      expect(exporter.getFinishedSpans()).toEqual([]);
      expect(rt.logger.entries.length).toBeGreaterThanOrEqual(2);
      for (const entry of [...rt.logger.entries, ...tasks.own]) expectTraceFields(entry, REQUEST_SPAN);
    });

    it("App Engine's and Cloud Run's X-Cloud-Trace-Context is read when there is no traceparent", async () => {
      const later: { order?: TaskHandle<[string]> } = {};
      const rt = await setup(ctx(), {
        record: true,
        openTelemetry: false,
        app: ordersApp((id) => later.order!.defer(id)),
      });
      const tasks = orderTasks(rt);
      later.order = tasks.order;
      const span = BigInt(`0x${REQUEST_SPAN}`).toString(10);
      const headers = { 'X-Cloud-Trace-Context': `${REQUEST_TRACE}/${span};o=1` };
      expect((await rt.post('/orders/o3', { headers })).status).toBe(202);
      await rt.advance();
      expect(deliveriesOf(rt, 'order')[0]!.headers['traceparent']).toBe(REQUEST_TRACEPARENT);
      for (const entry of rt.logger.entries) expectTraceFields(entry, REQUEST_SPAN);
    });

    it('the traceparent option sets the trace; false carries none (the run then logs labels only)', async () => {
      const rt = await setup(ctx(), { record: true, openTelemetry: false });
      const traces: (string | null)[] = [];
      const probe = rt.deferred.task('probe', () => {
        traces.push(currentTask()!.trace?.traceparent ?? null);
      });
      const other = `00-${'a'.repeat(32)}-${'b'.repeat(16)}-00`;
      await probe.with({ traceparent: other }).defer();
      await probe.with({ traceparent: false }).defer();
      await rt.advance();
      expect(
        deliveriesOf(rt, 'probe')
          .map((r) => r.headers['traceparent'] ?? null)
          .sort(),
      ).toEqual([other, null].sort());
      expect(traces.sort()).toEqual([other, null].sort());
      const untraced = rt.logger.entries.find((e) => e['logging.googleapis.com/trace'] === undefined)!;
      expect(untraced['logging.googleapis.com/labels']).toEqual({ task: 'probe', queue: rt.queue, attempt: '1' });
      const traced = rt.logger.entries.find((e) => e['logging.googleapis.com/trace'] !== undefined)!;
      expect(traced['logging.googleapis.com/trace_sampled']).toBe(false);
    });

    it('a hop keeps the trace: the task due in 45 days is delivered at its ETA with the traceparent it was deferred with', async () => {
      const rt = await setup(ctx(), { record: true, openTelemetry: false });
      const later = rt.deferred.task('later', () => undefined);
      await later.with({ delay: '45d', traceparent: REQUEST_TRACEPARENT }).defer();
      await rt.advance(30 * DAY);
      await rt.advance(15 * DAY);
      const deliveries = deliveriesOf(rt, 'later');
      expect(deliveries).toHaveLength(2); // the horizon (a hop), then the run
      expect(deliveries.map((d) => d.headers['traceparent'])).toEqual([REQUEST_TRACEPARENT, REQUEST_TRACEPARENT]);
      expect(rt.logger.entries.map((e) => e.outcome)).toEqual(['hopped', 'done']);
      for (const entry of rt.logger.entries) expectTraceFields(entry, REQUEST_SPAN);
      expect(parseTraceparent(deliveries[1]!.headers['traceparent'])?.traceId).toBe(REQUEST_TRACE);
    });
  });
});
