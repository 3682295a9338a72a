// startWorker: the local stack's worker serves the runtime's handler on loopback, with HTTP timeouts a slow client cannot outwait.
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWorker, WORKER_TIMEOUTS } from '../src/local-stack/worker.js';
import type { LocalStack } from '../src/local-stack/index.js';
import { ManualClock, startTasksEmulator, type RunningTasksEmulator } from '../src/tasks-emulator/index.js';
import { describeStorage } from './support/backends.js';

/** Sends the headers of a 100-byte body, then one byte a second; resolves with the status line and when it came. */
function trickle(port: number): Promise<{ status: string; afterMs: number }> {
  const started = Date.now();
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    let answer = '';
    const timer = setInterval(() => socket.write('a'), 1_000);
    socket.on('data', (d: Buffer) => (answer += d.toString('latin1')));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearInterval(timer);
      resolve({ status: answer.split('\r\n')[0] ?? '', afterMs: Date.now() - started });
    });
    socket.write('POST /_deferred/tasks/work HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n');
  });
}

describe('startWorker', () => {
  let emulator: RunningTasksEmulator;
  beforeAll(async () => {
    emulator = await startTasksEmulator({ clock: new ManualClock(), autoCreateQueues: true });
  });
  afterAll(async () => {
    await emulator?.stop();
  });

  describeStorage('HTTP timeouts', (ctx) => {
    const stack = () => ({ projectId: 'demo-deferred', location: 'us-central1' }) as LocalStack;

    it('serves with headers and request timeouts (10 s, 30 s by default), not Node’s 300 s', async () => {
      const tasks = emulator.createClient();
      const worker = await startWorker(stack(), { datastore: ctx().datastore, tasks });
      try {
        expect(WORKER_TIMEOUTS).toEqual({ headersMs: 10_000, requestMs: 30_000 });
        expect(worker.server.headersTimeout).toBe(10_000);
        expect(worker.server.requestTimeout).toBe(30_000);
      } finally {
        await worker.close(0);
        await tasks.close();
      }
    });

    it('drops a body sent one byte a second once the request timeout is over (408), whatever it would have held', async () => {
      const tasks = emulator.createClient();
      const worker = await startWorker(stack(), { datastore: ctx().datastore, tasks, timeouts: { requestMs: 1_500 } });
      worker.deferred.task('work', () => undefined);
      try {
        const { port } = worker.server.address() as net.AddressInfo;
        const result = await trickle(port);
        expect(result.status).toBe('HTTP/1.1 408 Request Timeout');
        expect(result.afterMs).toBeLessThan(5_000);
      } finally {
        await worker.close(0);
        await tasks.close();
      }
    });
  });
});
