// firebase-admin's task queues (getFunctions().taskQueue().enqueue() and .delete()), unmodified, against the Cloud Tasks
// emulator named by CLOUD_TASKS_EMULATOR_HOST: its REST calls, its tasks dispatched to the URL they carry with their
// OIDC token, and to the queue's HTTP target when they carry none.
import type { CloudTasksClient, v2beta3 } from '@google-cloud/tasks';
import { deleteApp, initializeApp, type App } from 'firebase-admin/app';
import { getFunctions } from 'firebase-admin/functions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock, startTasksEmulator, type RunningTasksEmulator } from '../src/tasks-emulator/index.js';
import { expectGolden, rpcError, startReceiver, verifyTaskToken, type Receiver } from './support/tasks-emulator.js';

const PROJECT = 'firebase-project';
const LOCATION = `projects/${PROJECT}/locations/us-central1`;
const INVOKER = 'tasks-invoker@firebase-project.iam.gserviceaccount.com';

describe('Cloud Tasks emulator with firebase-admin task queues', () => {
  let emulator: RunningTasksEmulator;
  let clock: ManualClock;
  let receiver: Receiver;
  let grpcClient: CloudTasksClient;
  let betaClient: v2beta3.CloudTasksClient;
  let app: App;
  let previousHost: string | undefined;

  beforeAll(async () => {
    clock = new ManualClock();
    emulator = await startTasksEmulator({ clock });
    receiver = await startReceiver(() => 200);
    grpcClient = emulator.createClient();
    betaClient = emulator.createClient({ version: 'v2beta3' });
    previousHost = process.env.CLOUD_TASKS_EMULATOR_HOST;
    process.env.CLOUD_TASKS_EMULATOR_HOST = emulator.endpoint; // what firebase-admin reads, as its docs say
    app = initializeApp({ projectId: PROJECT, serviceAccountId: INVOKER }, `tasks-emulator-${Date.now()}`);
    for (const queue of ['sendEmail', 'resize', 'routed']) {
      await grpcClient.createQueue({ parent: LOCATION, queue: { name: `${LOCATION}/queues/${queue}` } });
    }
  });
  afterAll(async () => {
    await deleteApp(app);
    if (previousHost === undefined) delete process.env.CLOUD_TASKS_EMULATOR_HOST;
    else process.env.CLOUD_TASKS_EMULATOR_HOST = previousHost;
    await grpcClient.close();
    await betaClient.close();
    await emulator.stop();
    await receiver.close();
  });

  it('enqueue() creates a task that is dispatched to its URL with its headers, body and OIDC token', async () => {
    const uri = `${receiver.url}/sendEmail`;
    const queue = getFunctions(app).taskQueue('sendEmail');
    await queue.enqueue({ to: 'ada@example.com' }, { uri, id: 'mail-1', headers: { 'X-Tenant': 't1' } });
    await clock.advance(0);
    const request = receiver.requests.find((r) => r.path === '/sendEmail');
    expect(request).toMatchObject({
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-tenant': 't1',
        'x-cloudtasks-queuename': 'sendEmail',
        'x-cloudtasks-taskname': 'mail-1',
      },
    });
    expect(JSON.parse(request!.body.toString())).toEqual({ data: { to: 'ada@example.com' } });
    const claims = await verifyTaskToken(emulator.oidc, request!.headers.authorization, uri, clock.now());
    expect(claims).toMatchObject({ email: INVOKER, aud: uri });
  });

  it('a scheduled task is there for the gRPC client too; delete() removes it; a duplicate id is task-already-exists', async () => {
    const uri = `${receiver.url}/resize`;
    const queue = getFunctions(app).taskQueue('resize');
    await queue.enqueue(
      { image: 'a.png' },
      { uri, id: 'resize-1', scheduleDelaySeconds: 3600, dispatchDeadlineSeconds: 60 },
    );
    const name = `${LOCATION}/queues/resize/tasks/resize-1`;
    const [task] = await grpcClient.getTask({ name, responseView: 'FULL' });
    expect(task).toMatchObject({
      httpRequest: { url: uri, httpMethod: 'POST', oidcToken: { serviceAccountEmail: INVOKER } },
      dispatchDeadline: { seconds: '60' },
    });
    expect(Number(task.scheduleTime!.seconds)).toBeGreaterThan(clock.now() / 1000 + 3500);
    await expect(queue.enqueue({}, { uri, id: 'resize-1' })).rejects.toMatchObject({
      code: 'functions/task-already-exists',
    });
    await queue.delete('resize-1');
    await expectGolden(grpcClient.getTask({ name }), 'task/get/recently-deleted');
    await queue.delete('resize-1'); // firebase-admin takes the emulator's NOT_FOUND as "already gone"
  });

  it("a task enqueued without a URL goes to its queue's HTTP target; without one the enqueue is refused", async () => {
    const target = new URL(receiver.url);
    await betaClient.updateQueue({
      queue: {
        name: `${LOCATION}/queues/routed`,
        httpTarget: {
          uriOverride: {
            scheme: 'HTTP',
            host: target.hostname,
            port: Number(target.port),
            pathOverride: { path: '/fn' },
          },
        },
      },
      updateMask: { paths: ['http_target'] },
    });
    await getFunctions(app).taskQueue('routed').enqueue({ n: 1 }, { id: 'routed-1' });
    await clock.advance(0);
    const request = receiver.requests.find((r) => r.headers['x-cloudtasks-taskname'] === 'routed-1');
    expect(request).toMatchObject({ path: '/fn', method: 'POST' });
    await expect(getFunctions(app).taskQueue('sendEmail').enqueue({ n: 2 })).rejects.toMatchObject({
      code: 'functions/invalid-argument',
      message: expect.stringContaining('HttpRequest.url is empty'),
    });
  });

  it('a function in another location enqueues into the queue of that location; a missing queue is NOT_FOUND', async () => {
    const location = `projects/${PROJECT}/locations/europe-west1`;
    await grpcClient.createQueue({ parent: location, queue: { name: `${location}/queues/report` } });
    await grpcClient.pauseQueue({ name: `${location}/queues/report` });
    await getFunctions(app)
      .taskQueue('locations/europe-west1/functions/report')
      .enqueue({}, { uri: `${receiver.url}/report`, id: 'r-1' });
    const [task] = await grpcClient.getTask({ name: `${location}/queues/report/tasks/r-1` });
    expect(task.httpRequest?.url).toBe(`${receiver.url}/report`);
    await expect(
      getFunctions(app)
        .taskQueue('neverDeployed')
        .enqueue({}, { uri: `${receiver.url}/x` }),
    ).rejects.toMatchObject({ code: 'functions/not-found' });
    expect((await rpcError(grpcClient.getQueue({ name: `${LOCATION}/queues/neverDeployed` }))).code).toBe(5);
  });
});
