// Task RPCs of the Cloud Tasks emulator through the official client over gRPC and REST: names, views, paging, validation, tombstones (golden).
import type { CloudTasksClient } from '@google-cloud/tasks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock, startTasksEmulator, type RunningTasksEmulator } from '../src/tasks-emulator/index.js';
import {
  TRANSPORTS,
  expectGolden,
  loadGolden,
  rpcError,
  startReceiver,
  type GoldenHeaders,
  type Receiver,
} from './support/tasks-emulator.js';
import { DAY } from './support/time.js';

const LOCATION = 'projects/tasks-project/locations/us-east1';
const BODY = Buffer.from('{"hello":"world"}'); // 17 bytes, as in the golden capture
const seconds = (ms: number) => ({ seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1e6 });

describe.each(TRANSPORTS)('Cloud Tasks emulator tasks (%s)', (transport) => {
  let emulator: RunningTasksEmulator;
  let client: CloudTasksClient;
  let clock: ManualClock;
  let receiver: Receiver;
  let seq = 0;

  /** A new queue; paused unless `running`, so its tasks stay put while the test looks at them. */
  async function newQueue(running = false): Promise<string> {
    const [queue] = await client.createQueue({ parent: LOCATION, queue: { name: `${LOCATION}/queues/t-${++seq}` } });
    if (!running) await client.pauseQueue({ name: queue.name! });
    return queue.name!;
  }

  beforeAll(async () => {
    clock = new ManualClock();
    receiver = await startReceiver(() => 200);
    emulator = await startTasksEmulator({ clock, tombstoneMs: 3_600_000, appEngineBaseUrl: receiver.url });
    client = emulator.createClient({ transport });
  });
  afterAll(async () => {
    await client.close();
    await emulator.stop();
    await receiver.close();
  });

  it('CreateTask without a name gets a unique server-generated one, and the real defaults', async () => {
    const queue = await newQueue();
    const names = new Set<string>();
    for (let i = 0; i < 20; i++) {
      const [task] = await client.createTask({ parent: queue, task: { httpRequest: { url: `${receiver.url}/x` } } });
      expect(task.name).toMatch(new RegExp(`^${queue}/tasks/[1-9]\\d{18}$`));
      names.add(task.name!);
      if (i === 0) {
        expect(task).toMatchObject({
          httpRequest: { url: `${receiver.url}/x`, httpMethod: 'POST' },
          dispatchDeadline: { seconds: '600', nanos: 0 },
          dispatchCount: 0,
          responseCount: 0,
          view: 'BASIC',
          scheduleTime: { seconds: String(Math.floor(clock.now() / 1000)) },
          createTime: { seconds: String(Math.floor(clock.now() / 1000)) },
        });
      }
    }
    expect(names.size).toBe(20);
  });

  it('BASIC view (the default) leaves out the body, FULL includes it, for CreateTask, GetTask and ListTasks', async () => {
    const queue = await newQueue();
    const [basic] = await client.createTask({
      parent: queue,
      task: { name: `${queue}/tasks/viewed`, httpRequest: { url: `${receiver.url}/v`, body: BODY } },
    });
    expect(basic.view).toBe('BASIC');
    expect(basic.httpRequest?.body?.length ?? 0).toBe(0);
    const [full] = await client.getTask({ name: basic.name!, responseView: 'FULL' });
    expect(full.view).toBe('FULL');
    expect(Buffer.from(full.httpRequest!.body as Uint8Array).equals(BODY)).toBe(true);
    const [got] = await client.getTask({ name: basic.name! });
    expect(got.httpRequest?.body?.length ?? 0).toBe(0);
    const [listedBasic] = await client.listTasks({ parent: queue });
    expect(listedBasic[0]!.httpRequest?.body?.length ?? 0).toBe(0);
    const [listedFull] = await client.listTasks({ parent: queue, responseView: 'FULL' });
    expect(Buffer.from(listedFull[0]!.httpRequest!.body as Uint8Array).equals(BODY)).toBe(true);
  });

  describe('stored headers match the real service (headers.json)', () => {
    for (const capture of loadGolden<GoldenHeaders[]>('headers.json')) {
      it(capture.name, async () => {
        const queue = await newQueue();
        const task =
          capture.requestType === 'http'
            ? { httpRequest: { url: `${receiver.url}/h`, headers: capture.sent, body: BODY } }
            : { appEngineHttpRequest: { relativeUri: '/h', headers: capture.sent, body: BODY } };
        const [created] = await client.createTask({ parent: queue, task, responseView: 'FULL' });
        const headersOf = (t: typeof created) => (t.httpRequest ?? t.appEngineHttpRequest)!.headers;
        expect(headersOf(created)).toEqual(capture.createFull.headers);
        const [basic] = await client.getTask({ name: created.name!, responseView: 'BASIC' });
        expect(headersOf(basic)).toEqual(capture.getBasic.headers);
        const [full] = await client.getTask({ name: created.name!, responseView: 'FULL' });
        expect(headersOf(full)).toEqual(capture.getFull.headers);
      });
    }
  });

  it('answers the golden errors of CreateTask: invalid id, queue mismatch, missing or deleted queue', async () => {
    const queue = await newQueue();
    await expectGolden(
      client.createTask({
        parent: queue,
        task: { name: `${queue}/tasks/not a valid id`, httpRequest: { url: receiver.url } },
      }),
      'task/create/invalid-name',
    );
    const other = `${queue}-other`;
    await expectGolden(
      client.createTask({ parent: queue, task: { name: `${other}/tasks/t1`, httpRequest: { url: receiver.url } } }),
      'task/create/queue-mismatch',
      { queue_path: queue },
    );
    await expectGolden(
      client.createTask({ parent: `${LOCATION}/queues/no-such-queue`, task: { httpRequest: { url: receiver.url } } }),
      'task/create/queue-not-found',
    );
    await client.deleteQueue({ name: queue });
    await expectGolden(
      client.createTask({ parent: queue, task: { httpRequest: { url: receiver.url } } }),
      'task/create/queue-recently-deleted',
    );
  });

  it('validates task ids: letters, digits, hyphens, underscores, 1 to 500 characters', async () => {
    const queue = await newQueue();
    const ok = `A-z_0-9${'x'.repeat(493)}`;
    expect(ok).toHaveLength(500);
    await client.createTask({
      parent: queue,
      task: { name: `${queue}/tasks/${ok}`, httpRequest: { url: receiver.url } },
    });
    for (const bad of [`${'x'.repeat(501)}`, 'has.dot', 'slash/inside', 'ünïcode']) {
      const error = await rpcError(
        client.createTask({
          parent: queue,
          task: { name: `${queue}/tasks/${bad}`, httpRequest: { url: receiver.url } },
        }),
      );
      expect(error.code).toBe(3);
    }
  });

  it('answers the golden NOT_FOUND of GetTask, DeleteTask and RunTask for a task that never existed', async () => {
    const queue = await newQueue();
    const name = `${queue}/tasks/never`;
    await expectGolden(client.getTask({ name }), 'task/get/not-found');
    await expectGolden(client.deleteTask({ name }), 'task/delete/not-found');
    await expectGolden(client.runTask({ name }), 'task/run/not-found');
  });

  it('a duplicate name is ALREADY_EXISTS while pending, after deletion and after success, until the tombstone expires', async () => {
    const queue = await newQueue(true);
    const name = `${queue}/tasks/dedup`;
    const future = { httpRequest: { url: `${receiver.url}/dedup` }, scheduleTime: seconds(clock.now() + 60_000) };
    await client.createTask({ parent: queue, task: { name, ...future } });
    await expectGolden(client.createTask({ parent: queue, task: { name, ...future } }), 'task/create/already-exists');

    // deleted: GetTask says it existed recently, the name stays reserved
    await client.deleteTask({ name });
    await expectGolden(client.getTask({ name }), 'task/get/recently-deleted');
    await expectGolden(client.createTask({ parent: queue, task: { name, ...future } }), 'task/create/already-exists');

    // succeeded: the same, once the tombstone of the deletion has expired and the name is used again
    await clock.advance(3_600_000);
    const before = receiver.requests.length;
    await client.createTask({ parent: queue, task: { name, httpRequest: { url: `${receiver.url}/dedup` } } });
    await clock.advance(0);
    expect(receiver.requests.length).toBe(before + 1);
    await expectGolden(client.getTask({ name }), 'task/get/recently-deleted');
    await expectGolden(
      client.createTask({ parent: queue, task: { name, httpRequest: { url: receiver.url } } }),
      'task/create/already-exists',
    );
    await clock.advance(3_599_000);
    await expectGolden(
      client.createTask({ parent: queue, task: { name, httpRequest: { url: receiver.url } } }),
      'task/create/already-exists',
    );
    await clock.advance(1_000);
    await expectGolden(client.getTask({ name }), 'task/get/not-found');
    await client.createTask({ parent: queue, task: { name, ...future, scheduleTime: seconds(clock.now() + 60_000) } });
  });

  it('ListTasks pages through the tasks with page tokens', async () => {
    const queue = await newQueue();
    for (let i = 0; i < 25; i++) {
      await client.createTask({
        parent: queue,
        task: { name: `${queue}/tasks/p${String(i).padStart(2, '0')}`, httpRequest: { url: receiver.url } },
      });
    }
    const seen: string[] = [];
    let pageToken: string | undefined;
    let pages = 0;
    do {
      const [tasks, next] = await client.listTasks({ parent: queue, pageSize: 10, pageToken }, { autoPaginate: false });
      seen.push(...tasks.map((t) => t.name!.split('/').pop()!));
      pageToken = next?.pageToken ?? undefined;
      pages++;
    } while (pageToken);
    expect(pages).toBe(3);
    expect(seen).toEqual(Array.from({ length: 25 }, (_, i) => `p${String(i).padStart(2, '0')}`));
    const [all] = await client.listTasks({ parent: queue });
    expect(all).toHaveLength(25);
    expect((await rpcError(client.listTasks({ parent: `${LOCATION}/queues/none` }))).code).toBe(5);
  });

  it('scheduleTime may be at most 30 days ahead', async () => {
    const queue = await newQueue();
    const [ok] = await client.createTask({
      parent: queue,
      task: { httpRequest: { url: receiver.url }, scheduleTime: seconds(clock.now() + 30 * DAY - 1000) },
    });
    expect(Number(ok.scheduleTime?.seconds)).toBe(Math.floor((clock.now() + 30 * DAY - 1000) / 1000));
    const error = await rpcError(
      client.createTask({
        parent: queue,
        task: { httpRequest: { url: receiver.url }, scheduleTime: seconds(clock.now() + 30 * DAY + 60_000) },
      }),
    );
    expect(error.code).toBe(3);
  });

  it('dispatchDeadline must be between 15 s and 30 min for HTTP tasks', async () => {
    const queue = await newQueue();
    const create = (secs: number) =>
      client.createTask({
        parent: queue,
        task: { httpRequest: { url: receiver.url }, dispatchDeadline: { seconds: secs } },
      });
    expect((await create(15))[0].dispatchDeadline).toEqual({ seconds: '15', nanos: 0 });
    expect((await create(1800))[0].dispatchDeadline).toEqual({ seconds: '1800', nanos: 0 });
    expect((await rpcError(create(14))).code).toBe(3);
    expect((await rpcError(create(1801))).code).toBe(3);
  });

  it('refuses bad targets: no target, bad URL, a body on GET, a task over 1 MB', async () => {
    const queue = await newQueue();
    const bad = [
      {},
      { httpRequest: { url: 'ftp://example.com/x' } },
      { httpRequest: { url: '' } },
      { httpRequest: { url: receiver.url, httpMethod: 'GET' as const, body: BODY } },
      { httpRequest: { url: receiver.url, body: Buffer.alloc(1024 * 1024 + 1) } },
      { httpRequest: { url: receiver.url, oidcToken: { audience: 'x' } } },
      { appEngineHttpRequest: { relativeUri: 'no-slash' } },
    ];
    for (const task of bad) expect((await rpcError(client.createTask({ parent: queue, task }))).code).toBe(3);
  });

  it('refuses a header a request cannot carry (CR or LF in a value, a bad name) with INVALID_ARGUMENT; nothing is queued', async () => {
    const queue = await newQueue();
    const cases: [Record<string, string>, RegExp][] = [
      [{ 'X-Note': 'a\r\nX-Injected: 1' }, /invalid value for header "X-Note": header values must not contain CR, LF/],
      [{ 'X-Note': 'trailing\n' }, /invalid value for header "X-Note"/],
      [{ 'X-Note': 'nul\u0000' }, /invalid value for header "X-Note"/],
      [{ 'Bad Name': 'x' }, /invalid header name "Bad Name"/],
    ];
    for (const [headers, message] of cases) {
      for (const task of [
        { httpRequest: { url: receiver.url, headers } },
        { appEngineHttpRequest: { relativeUri: '/x', headers } },
      ]) {
        const error = await rpcError(client.createTask({ parent: queue, task }));
        expect(error.code).toBe(3);
        expect(error.details).toMatch(message);
      }
    }
    const [tasks] = await client.listTasks({ parent: queue });
    expect(tasks).toEqual([]);
  });

  it('keeps method, OIDC settings and App Engine routing as given', async () => {
    const queue = await newQueue();
    const [http] = await client.createTask({
      parent: queue,
      task: {
        httpRequest: {
          url: `${receiver.url}/put`,
          httpMethod: 'PUT',
          oidcToken: { serviceAccountEmail: 'worker@p.iam.gserviceaccount.com', audience: 'https://aud' },
        },
      },
    });
    expect(http.httpRequest).toMatchObject({
      httpMethod: 'PUT',
      oidcToken: { serviceAccountEmail: 'worker@p.iam.gserviceaccount.com', audience: 'https://aud' },
    });
    const [ae] = await client.createTask({
      parent: queue,
      task: {
        appEngineHttpRequest: { relativeUri: '/ae?x=1', appEngineRouting: { service: 'worker', version: 'v2' } },
      },
    });
    expect(ae.appEngineHttpRequest).toMatchObject({
      httpMethod: 'POST',
      relativeUri: '/ae?x=1',
      appEngineRouting: { service: 'worker', version: 'v2', host: new URL(receiver.url).host },
    });
  });
});

describe('Cloud Tasks emulator options', () => {
  it('autoCreateQueues creates a missing queue, with default settings, on the first CreateTask', async () => {
    const emulator = await startTasksEmulator({ autoCreateQueues: true, clock: new ManualClock() });
    const client = emulator.createClient();
    try {
      const queue = `${LOCATION}/queues/auto`;
      const [task] = await client.createTask({
        parent: queue,
        task: {
          httpRequest: { url: 'http://127.0.0.1:9/' },
          scheduleTime: { seconds: Math.floor(Date.now() / 1000) + 600 },
        },
      });
      expect(task.name).toMatch(`${queue}/tasks/`);
      const [got] = await client.getQueue({ name: queue });
      expect(got.state).toBe('RUNNING');
    } finally {
      await client.close();
      await emulator.stop();
    }
  });

  it('App Engine tasks need appEngineBaseUrl', async () => {
    const emulator = await startTasksEmulator({ clock: new ManualClock() });
    const client = emulator.createClient();
    try {
      const queue = `${LOCATION}/queues/no-app`;
      await client.createQueue({ parent: LOCATION, queue: { name: queue } });
      const error = await rpcError(client.createTask({ parent: queue, task: { appEngineHttpRequest: {} } }));
      expect(error.code).toBe(9);
      expect(error.details).toMatch(/appEngineBaseUrl/);
    } finally {
      await client.close();
      await emulator.stop();
    }
  });
});
