// What only v2beta3 has, through the official v2beta3 client over gRPC and REST: the queue's HTTP target (queue-level
// routing), task and tombstone TTLs, queue types, read masks and stats, task-level retry, BatchCreateTasks and
// BatchDeleteTasks as long-running operations, CMEK configs; and that v2 sees the same queues in its own shape.
import { protos, v2beta3, type CloudTasksClient } from '@google-cloud/tasks';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock, startTasksEmulator, type RunningTasksEmulator } from '../src/tasks-emulator/index.js';
import {
  TRANSPORTS,
  expectGolden,
  rpcError,
  startReceiver,
  verifyTaskToken,
  type Receiver,
} from './support/tasks-emulator.js';

const LOCATION = 'projects/beta-project/locations/europe-west4';
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
// Operation results are decoded protobuf messages: enums are numbers.
const beta = protos.google.cloud.tasks.v2beta3;
const seconds = (ms: number) => ({ seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1e6 });

describe.each(TRANSPORTS)('Cloud Tasks emulator v2beta3 (%s)', (transport) => {
  let emulator: RunningTasksEmulator;
  let client: v2beta3.CloudTasksClient;
  let v2: CloudTasksClient;
  let clock: ManualClock;
  let receiver: Receiver;
  let seq = 0;
  const fresh = () => `${LOCATION}/queues/b-${++seq}`;
  /** The receiver as a queue's URI override: plain HTTP to its host and port. */
  const toReceiver = (extra: Record<string, unknown> = {}) => {
    const url = new URL(receiver.url);
    return { scheme: 'HTTP' as const, host: url.hostname, port: Number(url.port), ...extra };
  };

  beforeAll(async () => {
    clock = new ManualClock();
    emulator = await startTasksEmulator({ clock });
    client = emulator.createClient({ transport, version: 'v2beta3' });
    v2 = emulator.createClient({ transport });
    receiver = await startReceiver(() => 200);
  });
  afterEach(() => {
    receiver.requests.length = 0;
  });
  afterAll(async () => {
    await client.close();
    await v2.close();
    await emulator.stop();
    await receiver.close();
  });

  it('CreateQueue shows the v2beta3 fields with the real defaults; v2 sees the same queue in its shape', async () => {
    const name = fresh();
    const [queue] = await client.createQueue({
      parent: LOCATION,
      queue: { name, appEngineHttpQueue: { appEngineRoutingOverride: { service: 'worker' } } },
    });
    expect(queue).toMatchObject({
      name,
      type: 'PUSH',
      taskTtl: { seconds: String(31 * 24 * 3600) },
      tombstoneTtl: { seconds: '3600' },
      appEngineHttpQueue: { appEngineRoutingOverride: { service: 'worker' } },
      stats: null,
    });
    const [viaV2] = await v2.getQueue({ name });
    expect(viaV2).toMatchObject({ name, appEngineRoutingOverride: { service: 'worker' } });
    expect(viaV2).not.toHaveProperty('taskTtl');
    const [updated] = await client.updateQueue({
      queue: { name, taskTtl: { seconds: 20 * 24 * 3600 }, tombstoneTtl: { seconds: 2 * 3600 } },
      updateMask: { paths: ['task_ttl', 'tombstone_ttl'] },
    });
    expect(updated).toMatchObject({ taskTtl: { seconds: String(20 * 24 * 3600) }, tombstoneTtl: { seconds: '7200' } });
    for (const queueIn of [{ taskTtl: { seconds: 9 * 24 * 3600 } }, { tombstoneTtl: { seconds: 10 * 24 * 3600 } }]) {
      expect(
        (await rpcError(client.createQueue({ parent: LOCATION, queue: { name: fresh(), ...queueIn } }))).code,
      ).toBe(3);
    }
  });

  it('a queue type is set at creation and cannot change; a PULL queue takes no tasks through the API', async () => {
    const name = fresh();
    const [pull] = await client.createQueue({ parent: LOCATION, queue: { name, type: 'PULL' } });
    expect(pull.type).toBe('PULL');
    const change = await rpcError(
      client.updateQueue({ queue: { name, type: 'PUSH' }, updateMask: { paths: ['type'] } }),
    );
    expect(change).toMatchObject({ code: 3, details: expect.stringContaining('immutable') });
    const task = await rpcError(client.createTask({ parent: name, task: { httpRequest: { url: receiver.url } } }));
    expect(task.code).toBe(9);
    const push = fresh();
    await client.createQueue({ parent: LOCATION, queue: { name: push } });
    const pullMessage = await rpcError(
      client.createTask({ parent: push, task: { pullMessage: { payload: Buffer.from('x'), tag: 't' } } }),
    );
    expect(pullMessage).toMatchObject({ code: 3, details: expect.stringContaining('pull_message') });
  });

  it('GetQueue and ListQueues answer the fields of the read mask, and stats only when asked', async () => {
    const name = fresh();
    await client.createQueue({ parent: LOCATION, queue: { name } });
    await client.pauseQueue({ name });
    const at = clock.now() + 60_000;
    for (const delay of [60_000, 120_000]) {
      await client.createTask({
        parent: name,
        task: { httpRequest: { url: receiver.url }, scheduleTime: seconds(clock.now() + delay) },
      });
    }
    const [plain] = await client.getQueue({ name });
    expect(plain.stats).toBeNull();
    const [masked] = await client.getQueue({
      name,
      readMask: { paths: ['name', 'stats', 'rate_limits.max_burst_size'] },
    });
    expect(masked).toMatchObject({
      name,
      state: 'STATE_UNSPECIFIED', // not in the mask
      rateLimits: { maxBurstSize: 100, maxDispatchesPerSecond: 0 },
      stats: {
        tasksCount: '2',
        oldestEstimatedArrivalTime: { seconds: String(Math.floor(at / 1000)) },
        concurrentDispatchesCount: '0',
        effectiveExecutionRate: 0, // paused
      },
    });
    const [listed] = await client.listQueues({ parent: LOCATION, readMask: { paths: ['stats'] } });
    expect(listed.find((q) => q.stats?.tasksCount === '2')).toBeDefined();
    expect((await rpcError(client.getQueue({ name, readMask: { paths: ['colour'] } }))).code).toBe(3);
  });

  it("tasks without a target go to the queue's URI override, with its headers and its OIDC token", async () => {
    const name = fresh();
    const [queue] = await client.createQueue({
      parent: LOCATION,
      queue: {
        name,
        httpTarget: {
          uriOverride: toReceiver({ pathOverride: { path: '/routed' }, queryOverride: { queryParams: 'a=1' } }),
          headerOverrides: [{ header: { key: 'X-Queue', value: 'q' } }],
          oidcToken: { serviceAccountEmail: 'router@beta-project.iam.gserviceaccount.com', audience: 'https://routed' },
        },
      },
    });
    expect(queue.httpTarget).toMatchObject({
      uriOverride: { host: '127.0.0.1', pathOverride: { path: '/routed' }, uriOverrideEnforceMode: 'ALWAYS' },
      headerOverrides: [{ header: { key: 'X-Queue', value: 'q' } }],
    });
    const [task] = await client.createTask({ parent: name, task: {}, responseView: 'FULL' });
    expect(task.httpRequest).toMatchObject({ url: `${receiver.url}/routed?a=1`, httpMethod: 'POST' });
    await clock.advance(0);
    expect(receiver.requests).toHaveLength(1);
    const [request] = receiver.requests;
    expect(request).toMatchObject({ method: 'POST', path: '/routed?a=1', headers: { 'x-queue': 'q' } });
    const claims = await verifyTaskToken(emulator.oidc, request!.headers.authorization, 'https://routed', clock.now());
    expect(claims.email).toBe('router@beta-project.iam.gserviceaccount.com');
  });

  it('the URI override replaces the parts of every task URL in ALWAYS mode, and only missing parts in IF_NOT_EXISTS', async () => {
    const always = fresh();
    await client.createQueue({
      parent: LOCATION,
      queue: { name: always, httpTarget: { uriOverride: toReceiver({ pathOverride: { path: '/forced' } }) } },
    });
    await client.createTask({ parent: always, task: { httpRequest: { url: 'https://elsewhere.example/own?x=2' } } });
    await clock.advance(0);
    expect(receiver.requests.map((r) => r.path)).toEqual(['/forced?x=2']);

    const ifMissing = fresh();
    await client.createQueue({
      parent: LOCATION,
      queue: {
        name: ifMissing,
        httpTarget: {
          uriOverride: toReceiver({ pathOverride: { path: '/default' }, uriOverrideEnforceMode: 'IF_NOT_EXISTS' }),
        },
      },
    });
    await client.createTask({ parent: ifMissing, task: { httpRequest: { url: `${receiver.url}/own` } } });
    await client.createTask({ parent: ifMissing, task: {} });
    await clock.advance(0);
    expect(receiver.requests.map((r) => r.path).sort()).toEqual(['/default', '/forced?x=2', '/own']);
  });

  it('UpdateQueue changes the routing of the tasks already waiting in the queue', async () => {
    const name = fresh();
    await client.createQueue({
      parent: LOCATION,
      queue: { name, httpTarget: { uriOverride: toReceiver({ pathOverride: { path: '/before' } }) } },
    });
    await client.createTask({ parent: name, task: { scheduleTime: seconds(clock.now() + 60_000) } });
    const [updated] = await client.updateQueue({
      queue: { name, httpTarget: { uriOverride: toReceiver({ pathOverride: { path: '/after' } }) } },
      updateMask: { paths: ['http_target.uri_override'] },
    });
    expect(updated.httpTarget?.uriOverride?.pathOverride?.path).toBe('/after');
    await clock.advance(60_000);
    expect(receiver.requests.map((r) => r.path)).toEqual(['/after']);
  });

  it("the queue's HTTP method overrides the task's, and a GET goes without the body", async () => {
    const name = fresh();
    await client.createQueue({
      parent: LOCATION,
      queue: { name, httpTarget: { uriOverride: toReceiver(), httpMethod: 'GET' } },
    });
    await client.createTask({
      parent: name,
      task: { httpRequest: { url: `${receiver.url}/m`, body: Buffer.from('b') } },
    });
    await clock.advance(0);
    expect(receiver.requests[0]).toMatchObject({ method: 'GET', path: '/m' });
    expect(receiver.requests[0]!.body).toHaveLength(0);
  });

  it('refuses an HTTP target whose queue-level token lacks its audience or scope, or that sets service headers', async () => {
    const bad = [
      { oidcToken: { serviceAccountEmail: 'a@b.iam.gserviceaccount.com' } },
      { oauthToken: { serviceAccountEmail: 'a@b.iam.gserviceaccount.com' } },
      { headerOverrides: [{ header: { key: 'X-CloudTasks-TaskName', value: 'x' } }] },
      { headerOverrides: [{ header: { key: 'X-Ok', value: 'line\r\nbreak' } }] },
      { uriOverride: { host: 'http://with-scheme' } },
    ];
    for (const httpTarget of bad) {
      expect(
        (await rpcError(client.createQueue({ parent: LOCATION, queue: { name: fresh(), httpTarget } }))).code,
      ).toBe(3);
    }
  });

  it("a task's own retry config overrides its queue's", async () => {
    const failing = await startReceiver(() => 503);
    try {
      const name = fresh();
      await client.createQueue({ parent: LOCATION, queue: { name, retryConfig: { maxAttempts: 10 } } });
      const [task] = await client.createTask({
        parent: name,
        task: { httpRequest: { url: failing.url }, retryConfig: { maxAttempts: 2, minBackoff: { seconds: 1 } } },
      });
      expect(task.retryConfig).toMatchObject({ maxAttempts: 2, minBackoff: { seconds: '1' } });
      await clock.advance(0);
      await clock.advance(1000);
      await clock.advance(60_000);
      expect(failing.requests).toHaveLength(2);
      await expectGolden(client.getTask({ name: task.name! }), 'task/get/recently-deleted');
    } finally {
      await failing.close();
    }
  });

  it("a queue's tombstone_ttl reserves finished names that long, and its task_ttl deletes old tasks", async () => {
    const name = fresh();
    await client.createQueue({ parent: LOCATION, queue: { name, tombstoneTtl: { seconds: 2 * 3600 } } });
    const task = `${name}/tasks/kept-name`;
    await client.createTask({ parent: name, task: { name: task, httpRequest: { url: receiver.url } } });
    await clock.advance(0);
    await clock.advance(HOUR + 60_000);
    await expectGolden(
      client.createTask({ parent: name, task: { name: task, httpRequest: { url: receiver.url } } }),
      'task/create/already-exists',
    );
    await clock.advance(HOUR);
    await client.createTask({
      parent: name,
      task: { name: task, httpRequest: { url: receiver.url }, scheduleTime: seconds(clock.now() + HOUR) },
    });

    const ttl = fresh();
    await client.createQueue({ parent: LOCATION, queue: { name: ttl, taskTtl: { seconds: 10 * 24 * 3600 } } });
    await client.pauseQueue({ name: ttl });
    const [old] = await client.createTask({ parent: ttl, task: { httpRequest: { url: receiver.url } } });
    await clock.advance(10 * DAY - 1000);
    expect((await client.listTasks({ parent: ttl }))[0]).toHaveLength(1);
    await clock.advance(1000);
    expect((await client.listTasks({ parent: ttl }))[0]).toHaveLength(0);
    await expectGolden(client.getTask({ name: old.name! }), 'task/get/recently-deleted');
  });

  it('BatchCreateTasks creates each task on its own and reports the failures by index, as a done operation', async () => {
    const name = fresh();
    await client.createQueue({ parent: LOCATION, queue: { name } });
    await client.pauseQueue({ name });
    const [operation] = await client.batchCreateTasks({
      parent: name,
      requests: [
        { task: { name: `${name}/tasks/one`, httpRequest: { url: receiver.url } } },
        { task: { name: `${name}/tasks/not valid`, httpRequest: { url: receiver.url } } },
        {
          task: { name: `${name}/tasks/two`, httpRequest: { url: receiver.url, body: Buffer.from('2') } },
          responseView: 'FULL',
        },
      ],
    });
    expect(operation.done).toBe(true);
    expect(operation.name).toMatch(new RegExp(`^${LOCATION}/operations/[\\w-]+$`));
    const [response, metadata] = await operation.promise();
    expect(response.tasks!.map((t) => [t.name, t.view])).toEqual([
      [`${name}/tasks/one`, beta.Task.View.BASIC],
      [`${name}/tasks/two`, beta.Task.View.FULL],
    ]);
    expect(metadata).toMatchObject({
      state: beta.BatchCreateTasksMetadata.State.PARTIALLY_SUCCEEDED,
      failedRequests: { '1': { code: 3, message: expect.stringContaining('Task ID "not valid"') } },
    });
    expect((await client.listTasks({ parent: name }))[0]).toHaveLength(2);
    const checked = await client.checkBatchCreateTasksProgress(operation.name!);
    expect(checked.done).toBe(true);
    expect((await checked.promise())[0].tasks).toHaveLength(2);
  });

  it('BatchCreateTasks: 100 tasks at most, one queue, ABORTED when every request fails, one operation per request id', async () => {
    const name = fresh();
    await client.createQueue({ parent: LOCATION, queue: { name } });
    await client.pauseQueue({ name });
    const task = (i: number) => ({ task: { name: `${name}/tasks/t${i}`, httpRequest: { url: receiver.url } } });
    const [hundred] = await client.batchCreateTasks({
      parent: name,
      requests: Array.from({ length: 100 }, (_, i) => task(i)),
    });
    expect((await hundred.promise())[0].tasks).toHaveLength(100);
    const tooMany = await rpcError(
      client.batchCreateTasks({ parent: name, requests: Array.from({ length: 101 }, (_, i) => task(i + 100)) }),
    );
    expect(tooMany).toMatchObject({ code: 3, details: expect.stringContaining('100') });
    const otherQueue = await rpcError(
      client.batchCreateTasks({ parent: name, requests: [{ parent: `${name}-x`, ...task(500) }] }),
    );
    expect(otherQueue.code).toBe(3);
    const [allFailed] = await client.batchCreateTasks({ parent: name, requests: [task(0), task(1)] });
    const failure = await rpcError(allFailed.promise());
    expect(failure).toMatchObject({ code: 10, details: expect.stringContaining('None of the requests succeeded') });
    const requestId = 'b3f6e8a4-8f5e-4c1e-9d2a-6c7b8e9f0a1b';
    const [first] = await client.batchCreateTasks({ parent: name, requests: [task(900)], requestId });
    const [again] = await client.batchCreateTasks({ parent: name, requests: [task(900)], requestId });
    expect(again.name).toBe(first.name);
    expect((await again.promise())[1].state).toBe(beta.BatchCreateTasksMetadata.State.SUCCEEDED);
    await expectGolden(
      client.batchCreateTasks({ parent: `${LOCATION}/queues/never`, requests: [task(1)] }),
      'task/create/queue-not-found',
    );
  });

  it('BatchDeleteTasks deletes up to 1,000 tasks, each on its own, and reports the failures by index', async () => {
    const name = fresh();
    await client.createQueue({ parent: LOCATION, queue: { name } });
    await client.pauseQueue({ name });
    for (const id of ['a', 'b']) {
      await client.createTask({
        parent: name,
        task: { name: `${name}/tasks/${id}`, httpRequest: { url: receiver.url } },
      });
    }
    const [operation] = await client.batchDeleteTasks({
      parent: name,
      names: [`${name}/tasks/a`, `${name}/tasks/missing`, `${LOCATION}/queues/other/tasks/a`, `${name}/tasks/b`],
    });
    const [, metadata] = await operation.promise();
    expect(metadata).toMatchObject({
      state: beta.BatchDeleteTasksMetadata.State.PARTIALLY_SUCCEEDED,
      failedRequests: { '1': { code: 5, message: 'Requested entity was not found.' }, '2': { code: 3 } },
    });
    expect(Object.keys(metadata.failedRequests ?? {})).toEqual(['1', '2']);
    expect((await client.listTasks({ parent: name }))[0]).toHaveLength(0);
    const tooMany = await rpcError(
      client.batchDeleteTasks({ parent: name, names: Array.from({ length: 1001 }, (_, i) => `${name}/tasks/x${i}`) }),
    );
    expect(tooMany).toMatchObject({ code: 3, details: expect.stringContaining('1000') });
  });

  it('GetCmekConfig and UpdateCmekConfig keep a location key and validate it', async () => {
    const name = `${LOCATION}/cmekConfig`;
    const [empty] = await client.getCmekConfig({ name });
    expect(empty).toMatchObject({ name, kmsKey: '' });
    const kmsKey = 'projects/kms-project/locations/europe-west4/keyRings/ring/cryptoKeys/key';
    const [set] = await client.updateCmekConfig({ cmekConfig: { name, kmsKey }, updateMask: { paths: ['kms_key'] } });
    expect(set).toMatchObject({ name, kmsKey });
    expect((await client.getCmekConfig({ name }))[0].kmsKey).toBe(kmsKey);
    const elsewhere = 'projects/kms-project/locations/us-east1/keyRings/ring/cryptoKeys/key';
    expect((await rpcError(client.updateCmekConfig({ cmekConfig: { name, kmsKey: elsewhere } }))).code).toBe(3);
    expect((await rpcError(client.updateCmekConfig({ cmekConfig: { name, kmsKey: 'key' } }))).code).toBe(3);
    await client.updateCmekConfig({ cmekConfig: { name, kmsKey: '' } });
    expect((await client.getCmekConfig({ name }))[0].kmsKey).toBe('');
  });
});
