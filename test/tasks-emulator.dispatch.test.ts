// Dispatch by the Cloud Tasks emulator through the official client: headers per attempt (golden), retries, deadlines.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { CloudTasksClient } from '@google-cloud/tasks';
import { ManualClock, startTasksEmulator, type RunningTasksEmulator } from '../src/tasks-emulator/index.js';
import { rpcError, startReceiver, type Receiver } from './tasks-emulator.support.js';

const LOCATION = 'projects/test-project/locations/us-central1';
let queueSeq = 0;

describe('Cloud Tasks emulator dispatch', () => {
  let emulator: RunningTasksEmulator;
  let client: CloudTasksClient;
  let clock: ManualClock;
  let receiver: Receiver | undefined;

  beforeAll(async () => {
    clock = new ManualClock();
    emulator = await startTasksEmulator({ clock });
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

  async function newQueue(): Promise<string> {
    const [queue] = await client.createQueue({
      parent: LOCATION,
      queue: { name: `${LOCATION}/queues/dispatch-${++queueSeq}` },
    });
    return queue.name!;
  }

  it('delivers an HTTP task with its body and headers, then GetTask is NOT_FOUND', async () => {
    receiver = await startReceiver(() => 200);
    const queue = await newQueue();
    const [task] = await client.createTask({
      parent: queue,
      task: {
        name: `${queue}/tasks/hello`,
        httpRequest: { url: `${receiver.url}/work?x=1`, body: Buffer.from('{"a":1}'), headers: { 'X-Mine': 'yes' } },
      },
    });
    await clock.advance(0);
    expect(receiver.requests).toHaveLength(1);
    const [received] = receiver.requests;
    expect(received!.method).toBe('POST');
    expect(received!.path).toBe('/work?x=1');
    expect(received!.body.toString()).toBe('{"a":1}');
    expect(received!.headers['x-mine']).toBe('yes');
    expect(received!.headers['x-cloudtasks-queuename']).toBe(queue.split('/').pop());
    expect(received!.headers['x-cloudtasks-taskname']).toBe('hello');
    expect(received!.headers['user-agent']).toBe('Google-Cloud-Tasks');
    const error = await rpcError(client.getTask({ name: task.name! }));
    expect(error.code).toBe(5);
  });
});
