// Queue RPCs of the Cloud Tasks emulator through the official client over gRPC and REST, with the real service's errors (golden).
import type { CloudTasksClient } from '@google-cloud/tasks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock, startTasksEmulator, type RunningTasksEmulator } from '../src/tasks-emulator/index.js';
import { TRANSPORTS, expectGolden, goldenErrors, rpcError } from './support/tasks-emulator.js';

const LOCATION = 'projects/queues-project/locations/europe-west1';

describe.each(TRANSPORTS)('Cloud Tasks emulator queues (%s)', (transport) => {
  let emulator: RunningTasksEmulator;
  let client: CloudTasksClient;
  let clock: ManualClock;
  let seq = 0;
  const fresh = () => `${LOCATION}/queues/q-${++seq}`;

  beforeAll(async () => {
    clock = new ManualClock();
    emulator = await startTasksEmulator({ clock, tombstoneMs: 60_000 });
    client = emulator.createClient({ transport });
  });
  afterAll(async () => {
    await client.close();
    await emulator.stop();
  });

  it('CreateQueue fills in the real defaults and GetQueue returns the same queue', async () => {
    const name = fresh();
    const [created] = await client.createQueue({ parent: LOCATION, queue: { name } });
    expect(created).toMatchObject({
      name,
      state: 'RUNNING',
      rateLimits: { maxDispatchesPerSecond: 500, maxBurstSize: 100, maxConcurrentDispatches: 1000 },
      retryConfig: {
        maxAttempts: 100,
        minBackoff: { seconds: '0', nanos: 100_000_000 },
        maxBackoff: { seconds: '3600', nanos: 0 },
        maxDoublings: 16,
      },
    });
    const [got] = await client.getQueue({ name });
    expect(got).toEqual(created);
  });

  it('CreateQueue keeps the given rate limits and retry config, and refuses values out of range', async () => {
    const name = fresh();
    const [queue] = await client.createQueue({
      parent: LOCATION,
      queue: {
        name,
        rateLimits: { maxDispatchesPerSecond: 5, maxConcurrentDispatches: 7 },
        retryConfig: { maxAttempts: -1, minBackoff: { seconds: 2 }, maxBackoff: { seconds: 60 }, maxDoublings: 3 },
      },
    });
    expect(queue.rateLimits).toEqual({ maxDispatchesPerSecond: 5, maxBurstSize: 5, maxConcurrentDispatches: 7 });
    expect(queue.retryConfig).toMatchObject({ maxAttempts: -1, maxDoublings: 3, minBackoff: { seconds: '2' } });
    for (const queueIn of [
      { rateLimits: { maxDispatchesPerSecond: 501 } },
      { rateLimits: { maxConcurrentDispatches: 5001 } },
      { retryConfig: { maxAttempts: -2 } },
      { retryConfig: { minBackoff: { seconds: 10 }, maxBackoff: { seconds: 5 } } },
    ]) {
      const error = await rpcError(client.createQueue({ parent: LOCATION, queue: { name: fresh(), ...queueIn } }));
      expect(error.code).toBe(3);
    }
  });

  it('answers the golden errors of CreateQueue: already exists, invalid name, recently deleted', async () => {
    const name = fresh();
    await client.createQueue({ parent: LOCATION, queue: { name } });
    await expectGolden(client.createQueue({ parent: LOCATION, queue: { name } }), 'queue/create/already-exists');
    for (const bad of [
      `${LOCATION}/queues/not_valid`,
      `${LOCATION}/queues/`,
      'not-a-queue',
      `${LOCATION}/queues/${'a'.repeat(101)}`,
    ]) {
      await expectGolden(client.createQueue({ parent: LOCATION, queue: { name: bad } }), 'queue/create/invalid-name');
    }
    await client.deleteQueue({ name });
    await expectGolden(client.createQueue({ parent: LOCATION, queue: { name } }), 'queue/create/recently-deleted');
    await expectGolden(client.getQueue({ name }), 'queue/get/recently-deleted');
    await clock.advance(60_000);
    const [again] = await client.createQueue({ parent: LOCATION, queue: { name } });
    expect(again.name).toBe(name);
  });

  it('answers INVALID_ARGUMENT for an invalid parent (the real service, behind IAM, says PERMISSION_DENIED)', async () => {
    const call = client.createQueue({ parent: 'not-a-valid-parent', queue: { name: 'not-a-valid-parent/queues/q' } });
    if (transport === 'rest') {
      // The REST client cannot put such a parent in the path of the HTTP rule, and says so before sending anything.
      await expect(call).rejects.toThrow(/Cannot build HTTP request/);
    } else {
      expect((await rpcError(call)).code).toBe(3);
    }
    expect(goldenErrors.get('queue/create/invalid-parent')!.code).toBe('PermissionDenied');
  });

  it('answers the golden NOT_FOUND of every queue RPC on a missing queue', async () => {
    const name = `${LOCATION}/queues/never-created`;
    await expectGolden(client.getQueue({ name }), 'queue/get/not-found');
    await expectGolden(client.deleteQueue({ name }), 'queue/delete/not-found');
    await expectGolden(client.pauseQueue({ name }), 'queue/pause/not-found');
    await expectGolden(client.resumeQueue({ name }), 'queue/resume/not-found');
    await expectGolden(client.purgeQueue({ name }), 'queue/purge/not-found');
  });

  it('ListQueues pages through the queues of a location with page tokens, and filters by state', async () => {
    const location = 'projects/queues-project/locations/asia-east1';
    const names = Array.from({ length: 7 }, (_, i) => `${location}/queues/list-${i}`);
    for (const name of names) await client.createQueue({ parent: location, queue: { name } });
    await client.pauseQueue({ name: names[3]! });
    const seen: string[] = [];
    let pageToken: string | undefined;
    let pages = 0;
    do {
      const [queues, next] = await client.listQueues(
        { parent: location, pageSize: 3, pageToken },
        { autoPaginate: false },
      );
      expect(queues.length).toBeLessThanOrEqual(3);
      seen.push(...queues.map((q) => q.name!));
      pageToken = next?.pageToken ?? undefined;
      pages++;
    } while (pageToken);
    expect(pages).toBe(3);
    expect(seen).toEqual([...names].sort());
    const [all] = await client.listQueues({ parent: location });
    expect(all).toHaveLength(7);
    const [paused] = await client.listQueues({ parent: location, filter: 'state: PAUSED' });
    expect(paused.map((q) => q.name)).toEqual([names[3]]);
    const bad = await rpcError(client.listQueues({ parent: location, pageToken: 'garbage' }, { autoPaginate: false }));
    expect(bad.code).toBe(3);
  });

  it('UpdateQueue changes only the fields in the mask, and creates a missing queue', async () => {
    const name = fresh();
    await client.createQueue({
      parent: LOCATION,
      queue: { name, rateLimits: { maxDispatchesPerSecond: 10 }, retryConfig: { maxAttempts: 5 } },
    });
    const [updated] = await client.updateQueue({
      queue: { name, retryConfig: { maxAttempts: 9, maxDoublings: 2 }, rateLimits: { maxDispatchesPerSecond: 1 } },
      updateMask: { paths: ['retry_config.max_attempts'] },
    });
    expect(updated.retryConfig).toMatchObject({ maxAttempts: 9, maxDoublings: 16 });
    expect(updated.rateLimits?.maxDispatchesPerSecond).toBe(10);
    const [whole] = await client.updateQueue({
      queue: { name, rateLimits: { maxDispatchesPerSecond: 2, maxConcurrentDispatches: 3 } },
      updateMask: { paths: ['rate_limits'] },
    });
    expect(whole.rateLimits).toEqual({ maxDispatchesPerSecond: 2, maxBurstSize: 2, maxConcurrentDispatches: 3 });
    expect(whole.retryConfig?.maxAttempts).toBe(9);
    const bad = await rpcError(client.updateQueue({ queue: { name }, updateMask: { paths: ['state'] } }));
    expect(bad.code).toBe(3);

    const missing = fresh();
    const [created] = await client.updateQueue({ queue: { name: missing, retryConfig: { maxAttempts: 4 } } });
    expect(created).toMatchObject({ name: missing, state: 'RUNNING', retryConfig: { maxAttempts: 4 } });
    await client.getQueue({ name: missing });
  });

  it('PauseQueue and ResumeQueue change the state; PurgeQueue sets purgeTime and empties the queue', async () => {
    const name = fresh();
    await client.createQueue({ parent: LOCATION, queue: { name } });
    const [paused] = await client.pauseQueue({ name });
    expect(paused.state).toBe('PAUSED');
    expect((await client.getQueue({ name }))[0].state).toBe('PAUSED');
    const [resumed] = await client.resumeQueue({ name });
    expect(resumed.state).toBe('RUNNING');
    await client.pauseQueue({ name });
    for (let i = 0; i < 3; i++) {
      await client.createTask({ parent: name, task: { httpRequest: { url: 'http://127.0.0.1:9/never' } } });
    }
    expect((await client.listTasks({ parent: name }))[0]).toHaveLength(3);
    const [purged] = await client.purgeQueue({ name });
    expect(Number(purged.purgeTime?.seconds)).toBe(Math.floor(clock.now() / 1000));
    expect((await client.listTasks({ parent: name }))[0]).toHaveLength(0);
  });

  it('DeleteQueue removes the queue and its tasks', async () => {
    const name = fresh();
    await client.createQueue({ parent: LOCATION, queue: { name } });
    await client.pauseQueue({ name });
    const [task] = await client.createTask({ parent: name, task: { httpRequest: { url: 'http://127.0.0.1:9/' } } });
    await client.deleteQueue({ name });
    expect((await rpcError(client.getTask({ name: task.name! }))).code).toBe(5);
    expect((await rpcError(client.listTasks({ parent: name }))).code).toBe(5);
  });

  it('answers UNIMPLEMENTED to the IAM RPCs', async () => {
    const name = fresh();
    await client.createQueue({ parent: LOCATION, queue: { name } });
    expect((await rpcError(client.getIamPolicy({ resource: name }))).code).toBe(12);
    expect((await rpcError(client.setIamPolicy({ resource: name, policy: {} }))).code).toBe(12);
    expect((await rpcError(client.testIamPermissions({ resource: name, permissions: ['x'] }))).code).toBe(12);
  });
});
