// Dispatch by the Cloud Tasks emulator through the official client: headers per attempt (golden, for tasks created over
// gRPC and REST), retries and backoff, schedules, pause/resume, RunTask, deletion, rate limits, deadlines, and 1,000
// tasks delivered exactly once.
import net, { type AddressInfo } from 'node:net';
import type { CloudTasksClient, protos } from '@google-cloud/tasks';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  ManualClock,
  retryDelayMs,
  startTasksEmulator,
  type RunningTasksEmulator,
} from '../src/tasks-emulator/index.js';
import { HttpSender } from '../src/tasks-emulator/http-sender.js';
import {
  TRANSPORTS,
  loadGolden,
  rpcError,
  startReceiver,
  type GoldenDispatch,
  type Receiver,
  type ReceivedRequest,
} from './support/tasks-emulator.js';

type RetryConfig = protos.google.cloud.tasks.v2.IRetryConfig;
type RateLimits = protos.google.cloud.tasks.v2.IRateLimits;

const LOCATION = 'projects/dispatch-project/locations/us-central1';
const seconds = (ms: number) => ({ seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1e6 });
let queueSeq = 0;

describe('Cloud Tasks emulator dispatch (manual clock)', () => {
  let emulator: RunningTasksEmulator;
  let client: CloudTasksClient;
  let clock: ManualClock;
  let receiver: Receiver | undefined;
  /** Manual-clock time at which each request arrived, by index. */
  let arrivals: number[] = [];

  /** A receiver whose i-th request gets statuses[i] (the last one repeats). */
  async function receive(...statuses: number[]): Promise<Receiver> {
    arrivals = [];
    receiver = await startReceiver((_req, i) => {
      arrivals.push(clock.now());
      return statuses[Math.min(i, statuses.length - 1)] ?? 200;
    });
    return receiver;
  }

  async function newQueue(settings: { retryConfig?: RetryConfig; rateLimits?: RateLimits } = {}): Promise<string> {
    const name = `${LOCATION}/queues/d-${++queueSeq}`;
    await client.createQueue({ parent: LOCATION, queue: { name, ...settings } });
    return name;
  }

  beforeAll(async () => {
    clock = new ManualClock();
    emulator = await startTasksEmulator({ clock, minDispatchDeadlineMs: 100, appEngineBaseUrl: 'http://127.0.0.1:1' });
    client = emulator.createClient();
  });
  afterAll(async () => {
    await client.close();
    await emulator.stop();
  });
  afterEach(async () => {
    await receiver?.close();
    receiver = undefined;
  });

  it('delivers an HTTP task with its method, path, body and headers, then GetTask is NOT_FOUND', async () => {
    const r = await receive(200);
    const queue = await newQueue();
    const [task] = await client.createTask({
      parent: queue,
      task: {
        name: `${queue}/tasks/hello`,
        httpRequest: {
          url: `${r.url}/work?x=1`,
          httpMethod: 'PUT',
          body: Buffer.from('{"a":1}'),
          headers: { 'X-Mine': 'yes', 'Content-Type': 'application/json' },
        },
      },
    });
    await clock.advance(0);
    expect(r.requests).toHaveLength(1);
    const [received] = r.requests;
    expect(received).toMatchObject({ method: 'PUT', path: '/work?x=1' });
    expect(received!.body.toString()).toBe('{"a":1}');
    expect(received!.headers).toMatchObject({
      'x-mine': 'yes',
      'content-type': 'application/json',
      'x-cloudtasks-queuename': queue.split('/').pop(),
      'x-cloudtasks-taskname': 'hello',
      'user-agent': 'Google-Cloud-Tasks',
    });
    expect((await rpcError(client.getTask({ name: task.name! }))).code).toBe(5);
  });

  describe.each(TRANSPORTS)(
    'headers of each attempt match the real service (dispatch.json), task created over %s',
    (transport) => {
      for (const capture of loadGolden<GoldenDispatch[]>('dispatch.json')) {
        it(capture.name, async () => {
          const statuses = capture.attempts.map((a) => a.status);
          const r = await receive(...statuses);
          const isHttp = capture.requestType === 'http';
          const local = await startTasksEmulator({ clock, appEngineBaseUrl: r.url });
          const localClient = local.createClient({ transport });
          try {
            const queue = `${LOCATION}/queues/golden-${capture.requestType}`;
            await localClient.createQueue({ parent: LOCATION, queue: { name: queue } });
            const [task] = await localClient.createTask({
              parent: queue,
              task: isHttp
                ? { httpRequest: { url: `${r.url}/golden` } }
                : { appEngineHttpRequest: { relativeUri: '/golden' } },
            });
            const eta = `${task.scheduleTime!.seconds}.${String(Math.floor(task.scheduleTime!.nanos! / 1000)).padStart(6, '0')}`;
            const vars: Record<string, string> = {
              queue: queue.split('/').pop()!,
              task: task.name!.split('/').pop()!,
              eta,
            };
            await clock.advance(0);
            for (let i = 1; i < capture.attempts.length; i++) await clock.advance(retryDelayMs(defaultPolicy, i - 1));
            expect(r.requests).toHaveLength(capture.attempts.length);
            capture.attempts.forEach((attempt, i) => {
              const got = r.requests[i]!;
              const prefix = isHttp ? 'x-cloudtasks-' : 'x-appengine-';
              const expected = Object.fromEntries(
                Object.entries(attempt.headers).map(([k, v]) => [
                  k.toLowerCase(),
                  v.replace(/\{(\w+)\}/g, (_m, key: string) => vars[key]!),
                ]),
              );
              const serviceHeaders = (h: Record<string, string>) =>
                Object.fromEntries(Object.entries(h).filter(([k]) => k.startsWith(prefix) || k === 'user-agent'));
              expect(serviceHeaders(got.headers), `attempt ${attempt.attempt}`).toEqual(expected);
            });
            expect((await rpcError(localClient.getTask({ name: task.name! }))).code).toBe(5);
          } finally {
            await localClient.close();
            await local.stop();
          }
        });
      }
    },
  );

  it('a handler that fails twice sees RetryCount 0, 1, 2; the task records its attempts meanwhile', async () => {
    const r = await receive(500, 404, 200);
    const queue = await newQueue({ retryConfig: { minBackoff: { seconds: 1 }, maxBackoff: { seconds: 10 } } });
    const [task] = await client.createTask({ parent: queue, task: { httpRequest: { url: `${r.url}/t` } } });
    const start = clock.now();
    await clock.advance(0);
    const [afterOne] = await client.getTask({ name: task.name! });
    expect(afterOne).toMatchObject({
      dispatchCount: 1,
      responseCount: 1,
      firstAttempt: { dispatchTime: { seconds: String(Math.floor(start / 1000)) } },
      lastAttempt: { responseStatus: { code: 13 } },
      scheduleTime: { seconds: String(Math.floor((start + 1000) / 1000)) },
    });
    await clock.advance(1000);
    const [afterTwo] = await client.getTask({ name: task.name! });
    expect(afterTwo).toMatchObject({
      dispatchCount: 2,
      responseCount: 2,
      lastAttempt: { responseStatus: { code: 5 } },
    });
    await clock.advance(2000);
    expect(r.requests.map((q) => q.headers['x-cloudtasks-taskretrycount'])).toEqual(['0', '1', '2']);
    expect(r.requests.map((q) => q.headers['x-cloudtasks-taskexecutioncount'])).toEqual(['0', '0', '1']);
    expect(r.requests.map((q) => q.headers['x-cloudtasks-taskpreviousresponse'])).toEqual([undefined, '500', '404']);
    expect(arrivals).toEqual([start, start + 1000, start + 3000]);
    expect((await rpcError(client.getTask({ name: task.name! }))).code).toBe(5);
  });

  it('the backoff of 8 retries follows the formula: doubling, then linear, capped at maxBackoff', async () => {
    const r = await receive(503);
    const retryConfig = {
      maxAttempts: 9,
      minBackoff: { seconds: 10 },
      maxBackoff: { seconds: 300 },
      maxDoublings: 3,
    };
    const queue = await newQueue({ retryConfig });
    const [task] = await client.createTask({ parent: queue, task: { httpRequest: { url: `${r.url}/b` } } });
    await clock.advance(3_600_000);
    expect(r.requests).toHaveLength(9);
    const gaps = arrivals.slice(1).map((t, i) => (t - arrivals[i]!) / 1000);
    expect(gaps).toEqual([10, 20, 40, 80, 160, 240, 300, 300]); // the documented example
    const policy = {
      maxAttempts: 9,
      maxRetryDurationMs: 0,
      minBackoffMs: 10_000,
      maxBackoffMs: 300_000,
      maxDoublings: 3,
    };
    expect(gaps).toEqual(gaps.map((_g, k) => retryDelayMs(policy, k) / 1000));
    // maxAttempts spent (and no maxRetryDuration): the task is given up and gone
    expect((await rpcError(client.getTask({ name: task.name! }))).code).toBe(5);
    await clock.advance(3_600_000);
    expect(r.requests).toHaveLength(9);
  });

  it('gives up only when both maxAttempts and maxRetryDuration are spent', async () => {
    const r = await receive(500);
    const queue = await newQueue({
      retryConfig: {
        maxAttempts: 2,
        maxRetryDuration: { seconds: 10 },
        minBackoff: { seconds: 1 },
        maxBackoff: { seconds: 60 },
      },
    });
    await client.createTask({ parent: queue, task: { httpRequest: { url: `${r.url}/g` } } });
    await clock.advance(600_000);
    const start = arrivals[0]!;
    // attempts at 0, 1, 3, 7, 15 s: after the 2nd the attempts are spent, but the duration only after 15 s
    expect(arrivals.map((t) => (t - start) / 1000)).toEqual([0, 1, 3, 7, 15]);
  });

  it('retries forever with maxAttempts -1 and no maxRetryDuration', async () => {
    const r = await receive(500);
    const queue = await newQueue({
      retryConfig: { maxAttempts: -1, minBackoff: { seconds: 1 }, maxBackoff: { seconds: 1 } },
    });
    const [task] = await client.createTask({ parent: queue, task: { httpRequest: { url: `${r.url}/f` } } });
    await clock.advance(150_000);
    expect(r.requests.length).toBe(151);
    const [still] = await client.getTask({ name: task.name! });
    expect(still.dispatchCount).toBe(151);
    await client.deleteTask({ name: task.name! });
  });

  it('honours scheduleTime: nothing before it, delivery at it; a past scheduleTime runs at once', async () => {
    const r = await receive(200);
    const queue = await newQueue();
    const due = clock.now() + 30_000;
    await client.createTask({
      parent: queue,
      task: { httpRequest: { url: `${r.url}/later` }, scheduleTime: seconds(due) },
    });
    await client.createTask({
      parent: queue,
      task: { httpRequest: { url: `${r.url}/past` }, scheduleTime: seconds(clock.now() - 3_600_000) },
    });
    await clock.advance(0);
    expect(r.requests.map((q) => q.path)).toEqual(['/past']);
    await clock.advance(due - clock.now() - 1);
    expect(r.requests).toHaveLength(1);
    await clock.advance(1);
    expect(r.requests.map((q) => q.path)).toEqual(['/past', '/later']);
    expect(arrivals[1]).toBe(due);
  });

  it('a paused queue holds its tasks and delivers them when resumed', async () => {
    const r = await receive(200);
    const queue = await newQueue();
    await client.pauseQueue({ name: queue });
    for (let i = 0; i < 3; i++) {
      await client.createTask({ parent: queue, task: { httpRequest: { url: `${r.url}/p${i}` } } });
    }
    await clock.advance(600_000);
    expect(r.requests).toHaveLength(0);
    expect((await client.listTasks({ parent: queue }))[0]).toHaveLength(3);
    await client.resumeQueue({ name: queue });
    await clock.advance(0);
    expect(r.requests.map((q) => q.path).sort()).toEqual(['/p0', '/p1', '/p2']);
    expect((await client.listTasks({ parent: queue }))[0]).toHaveLength(0);
  });

  it('RunTask dispatches at once, even a future task on a paused queue, and returns the dispatched task', async () => {
    const r = await receive(200);
    const queue = await newQueue();
    await client.pauseQueue({ name: queue });
    const [task] = await client.createTask({
      parent: queue,
      task: { httpRequest: { url: `${r.url}/run` }, scheduleTime: seconds(clock.now() + 3_600_000) },
    });
    const [ran] = await client.runTask({ name: task.name! });
    expect(ran.dispatchCount).toBe(1);
    expect(Number(ran.lastAttempt?.dispatchTime?.seconds)).toBe(Math.floor(clock.now() / 1000));
    await clock.advance(0);
    expect(r.requests.map((q) => q.path)).toEqual(['/run']);
    expect((await rpcError(client.getTask({ name: task.name! }))).code).toBe(5);
    expect((await rpcError(client.runTask({ name: task.name! }))).code).toBe(5);
  });

  it('RunTask of a task that fails reschedules it at now plus the retry delay', async () => {
    const r = await receive(500, 200);
    const queue = await newQueue({ retryConfig: { minBackoff: { seconds: 5 } } });
    const [task] = await client.createTask({
      parent: queue,
      task: { httpRequest: { url: `${r.url}/rerun` }, scheduleTime: seconds(clock.now() + 3_600_000) },
    });
    const ranAt = clock.now();
    await client.runTask({ name: task.name! });
    await clock.advance(0);
    const [after] = await client.getTask({ name: task.name! });
    expect(Number(after.scheduleTime?.seconds)).toBe(Math.floor((ranAt + 5000) / 1000));
    await clock.advance(5000);
    expect(arrivals).toEqual([ranAt, ranAt + 5000]);
  });

  it('a deleted future task never dispatches', async () => {
    const r = await receive(200);
    const queue = await newQueue();
    const [task] = await client.createTask({
      parent: queue,
      task: { httpRequest: { url: `${r.url}/deleted` }, scheduleTime: seconds(clock.now() + 60_000) },
    });
    await client.deleteTask({ name: task.name! });
    await clock.advance(3_600_000);
    expect(r.requests).toHaveLength(0);
  });

  it('a task deleted between retries is not retried', async () => {
    const r = await receive(500);
    const queue = await newQueue({ retryConfig: { minBackoff: { seconds: 10 } } });
    const [task] = await client.createTask({ parent: queue, task: { httpRequest: { url: `${r.url}/x` } } });
    await clock.advance(0);
    await client.deleteTask({ name: task.name! });
    await clock.advance(600_000);
    expect(r.requests).toHaveLength(1);
  });

  it('limits the rate with a token bucket of maxDispatchesPerSecond', async () => {
    const r = await receive(200);
    const queue = await newQueue({ rateLimits: { maxDispatchesPerSecond: 2 } });
    await client.pauseQueue({ name: queue });
    for (let i = 0; i < 6; i++)
      await client.createTask({ parent: queue, task: { httpRequest: { url: `${r.url}/r` } } });
    await clock.advance(10_000); // the bucket is full (2 tokens) when the queue resumes
    const resumedAt = clock.now();
    await client.resumeQueue({ name: queue });
    await clock.advance(2000);
    expect(arrivals.map((t) => t - resumedAt)).toEqual([0, 0, 500, 1000, 1500, 2000]);
  });

  it('an attempt that exceeds dispatchDeadline fails and is retried; no previous response is reported', async () => {
    let hang = true;
    const gate: Array<() => void> = [];
    receiver = await startReceiver(() =>
      hang ? new Promise<number>((resolve) => gate.push(() => resolve(200))) : 200,
    );
    const r = receiver;
    const queue = await newQueue({ retryConfig: { minBackoff: { seconds: 1 } } });
    const [task] = await client.createTask({
      parent: queue,
      task: { httpRequest: { url: `${r.url}/slow` }, dispatchDeadline: { nanos: 200_000_000 } },
    });
    await clock.advance(0); // resolves once the 200 ms (wall clock) deadline has cut the attempt
    hang = false;
    const [after] = await client.getTask({ name: task.name! });
    expect(after).toMatchObject({ dispatchCount: 1, responseCount: 0, lastAttempt: { responseStatus: { code: 4 } } });
    await clock.advance(1000);
    expect(r.requests).toHaveLength(2);
    expect(r.requests[1]!.headers['x-cloudtasks-taskretrycount']).toBe('1');
    expect(r.requests[1]!.headers['x-cloudtasks-taskpreviousresponse']).toBeUndefined();
    for (const release of gate) release();
    expect((await rpcError(client.getTask({ name: task.name! }))).code).toBe(5);
  });

  it('sends again on a new connection when the handler closed the kept-alive one (not a failed attempt)', async () => {
    // A raw server that answers the first request of each connection and resets the connection on the second.
    const perSocket = new Map<net.Socket, number>();
    let answered = 0;
    const server = net.createServer((socket) => {
      socket.on('data', () => {
        const n = (perSocket.get(socket) ?? 0) + 1;
        perSocket.set(socket, n);
        if (n > 1) return void socket.resetAndDestroy();
        answered++;
        socket.write('HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: keep-alive\r\n\r\n');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/ka`;
      const queue = await newQueue();
      for (const id of ['first', 'second']) {
        await client.createTask({ parent: queue, task: { name: `${queue}/tasks/${id}`, httpRequest: { url } } });
        await clock.advance(0);
        expect((await rpcError(client.getTask({ name: `${queue}/tasks/${id}` }))).code).toBe(5);
      }
      expect(answered).toBe(2);
      expect(perSocket.size).toBe(2);
    } finally {
      server.close();
    }
  });

  it('an unreachable handler is a failed attempt, retried', async () => {
    const queue = await newQueue({ retryConfig: { maxAttempts: 2, minBackoff: { seconds: 1 } } });
    const closed = await startReceiver();
    await closed.close();
    const [task] = await client.createTask({ parent: queue, task: { httpRequest: { url: `${closed.url}/gone` } } });
    await clock.advance(0);
    const [after] = await client.getTask({ name: task.name! });
    expect(after).toMatchObject({ dispatchCount: 1, responseCount: 0, lastAttempt: { responseStatus: { code: 14 } } });
    await clock.advance(1000);
    expect((await rpcError(client.getTask({ name: task.name! }))).code).toBe(5);
  });
});

describe('Cloud Tasks emulator HTTP sender', () => {
  it('never throws, whatever a request holds: what Node refuses to send is an attempt that reached no handler', async () => {
    const receiver = await startReceiver(() => 200);
    const sender = new HttpSender();
    try {
      const send = (headers: [string, string][], method = 'POST') =>
        sender.send({ url: `${receiver.url}/x`, method, headers, body: Buffer.from('{}'), deadlineMs: 5_000 });
      for (const headers of [[['X-Note', 'a\r\nX-Injected: 1']], [['X-Note', 'lf\n']], [['Bad Name', 'x']]] as [
        string,
        string,
      ][][]) {
        const outcome = await send(headers);
        expect(outcome).toMatchObject({ kind: 'unreachable', message: expect.stringMatching(/cannot be sent/) });
      }
      expect(await send([['X-Note', 'fine']])).toEqual({ kind: 'response', status: 200 });
      expect(receiver.requests).toHaveLength(1); // nothing malformed went out
    } finally {
      sender.close();
      await receiver.close();
    }
  });
});

const defaultPolicy = {
  maxAttempts: 100,
  maxRetryDurationMs: 0,
  minBackoffMs: 100,
  maxBackoffMs: 3_600_000,
  maxDoublings: 16,
};

describe('Cloud Tasks emulator dispatch (system clock)', () => {
  it('delivers 1,000 tasks each exactly once to a handler that always succeeds', async () => {
    const emulator = await startTasksEmulator();
    const client = emulator.createClient();
    const seen = new Map<string, number>();
    const receiver = await startReceiver((req: ReceivedRequest) => {
      const name = req.headers['x-cloudtasks-taskname']!;
      seen.set(name, (seen.get(name) ?? 0) + 1);
      return 200;
    });
    try {
      const queue = `${LOCATION}/queues/thousand`;
      await client.createQueue({ parent: LOCATION, queue: { name: queue } });
      for (let batch = 0; batch < 10; batch++) {
        await Promise.all(
          Array.from({ length: 100 }, (_, i) =>
            client.createTask({
              parent: queue,
              task: { name: `${queue}/tasks/t${batch * 100 + i}`, httpRequest: { url: `${receiver.url}/k` } },
            }),
          ),
        );
      }
      await receiver.waitFor(1000);
      // Every task has completed (none left to dispatch), so no late duplicate can come.
      for (;;) {
        const [left] = await client.listTasks({ parent: queue });
        if (left.length === 0) break;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      expect(receiver.requests).toHaveLength(1000);
      expect(seen.size).toBe(1000);
      expect([...seen.values()].every((n) => n === 1)).toBe(true);
    } finally {
      await client.close();
      await emulator.stop();
      await receiver.close();
    }
  });

  it('never runs more than maxConcurrentDispatches attempts at once', async () => {
    const emulator = await startTasksEmulator();
    const client = emulator.createClient();
    let running = 0;
    let peak = 0;
    const receiver = await startReceiver(async () => {
      running++;
      peak = Math.max(peak, running);
      await new Promise((resolve) => setTimeout(resolve, 15));
      running--;
      return 200;
    });
    try {
      const queue = `${LOCATION}/queues/concurrency`;
      await client.createQueue({
        parent: LOCATION,
        queue: { name: queue, rateLimits: { maxConcurrentDispatches: 2 } },
      });
      await client.pauseQueue({ name: queue });
      for (let i = 0; i < 12; i++)
        await client.createTask({ parent: queue, task: { httpRequest: { url: receiver.url } } });
      await client.resumeQueue({ name: queue });
      await receiver.waitFor(12);
      expect(peak).toBe(2);
    } finally {
      await client.close();
      await emulator.stop();
      await receiver.close();
    }
  });

  it('stop() aborts dispatches in flight and returns', async () => {
    const emulator = await startTasksEmulator();
    const client = emulator.createClient();
    const receiver = await startReceiver(() => new Promise<number>(() => undefined));
    try {
      const queue = `${LOCATION}/queues/stop`;
      await client.createQueue({ parent: LOCATION, queue: { name: queue } });
      await client.createTask({ parent: queue, task: { httpRequest: { url: receiver.url } } });
      await receiver.waitFor(1);
    } finally {
      await client.close();
      await emulator.stop();
      await receiver.close();
    }
  });
});
