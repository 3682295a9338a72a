// The zero-config default instance: tasks registered with task(), deferred with defer(fn, ...args), configured from env.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigurationError } from '../src/errors/index.js';
import { configFromEnvironment, defaultDeferred, defer, task } from '../src/runtime/default-instance.js';
import { startTasksEmulator, type RunningTasksEmulator } from '../src/tasks-emulator/index.js';
import { emulators } from './support/backends.js';
import { SECRET } from './support/runtime.js';

describe('default instance', () => {
  let emulator: RunningTasksEmulator;
  let server: http.Server;
  let origin: string;

  beforeAll(async () => {
    emulator = await startTasksEmulator({ autoCreateQueues: true });
    server = http.createServer((req, res) => defaultDeferred().handler(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await emulator.stop();
  });

  it('says which environment variables are missing', () => {
    expect(() => configFromEnvironment({})).toThrow(ConfigurationError);
    expect(() => configFromEnvironment({})).toThrow(/set GOOGLE_CLOUD_PROJECT, DEFERRED_LOCATION, DEFERRED_SECRET/);
  });

  it('registers at import time without configuration, and runs defer(fn, ...args) from the environment', async () => {
    const seen: string[] = [];
    function remember(what: string) {
      seen.push(what);
    }
    task('remember', remember); // no environment needed yet
    const [backend] = emulators();
    Object.assign(process.env, {
      GOOGLE_CLOUD_PROJECT: backend!.projectId,
      DEFERRED_LOCATION: 'us-central1',
      DEFERRED_SECRETS: `${SECRET},retired-secret-0123456789`,
      DEFERRED_QUEUE: 'env-queue',
      DEFERRED_HANDLER_URL: `${origin}/_deferred`,
      DEFERRED_NAMESPACE: `default-${process.pid}`,
      CLOUD_TASKS_EMULATOR_HOST: `${emulator.host}:${emulator.port}`,
      DATASTORE_EMULATOR_HOST: backend!.apiEndpoint.replace(/^https?:\/\//, ''),
    });
    const ran = new Promise<void>((resolve) => {
      const check = setInterval(() => {
        if (seen.length > 0) {
          clearInterval(check);
          resolve();
        }
      }, 10);
    });
    const deferral = await defer(remember, 'from env');
    expect(deferral.queue).toBe('env-queue');
    expect(deferral.cloudTaskName).toMatch(/^projects\/.*\/locations\/us-central1\/queues\/env-queue\/tasks\//);
    await ran;
    expect(seen).toEqual(['from env']);
  });
});
