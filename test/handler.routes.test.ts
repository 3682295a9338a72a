// Handler routes beyond tasks: App Engine targets (queue header trusted on App Engine), the sweep route, Express-style next().
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { sign } from '../src/codec/index.js';
import { createDeferred } from '../src/runtime/deferred-runtime.js';
import { MemoryLogger } from '../src/core/logger.js';
import { ManualClock, startTasksEmulator } from '../src/tasks-emulator/index.js';
import type { SweepRequest } from '../src/types.js';
import { describeStorage } from './support/backends.js';
import { httpRequest, LOCATION, PROJECT, SECRET, useRuntime } from './support/runtime.js';

describe('handler routes', () => {
  const setup = useRuntime();

  describeStorage('sweep route and middleware', (ctx) => {
    it('routes <basePath>/sweep to onSweep(fn): signed requests only, unless a trusted scheduler sent it', async () => {
      const rt = await setup(ctx());
      const calls: SweepRequest[] = [];
      rt.deferred.onSweep(async (request) => {
        calls.push(request);
        return { shards: 16 };
      });
      const body = Buffer.from('{"dryRun":true}');
      expect((await rt.post('/_deferred/sweep', { body })).status).toBe(403);
      const signed = await rt.post('/_deferred/sweep?shards=4', {
        body,
        headers: { 'x-deferred-signature': sign(body, SECRET, 'sweep') },
      });
      expect(signed).toEqual({ status: 200, body: { outcome: 'swept', result: { shards: 16 } } });
      expect(calls).toHaveLength(1);
      expect(calls[0]!.query.get('shards')).toBe('4');
      expect(calls[0]!.body.toString()).toBe('{"dryRun":true}');

      const onAppEngine = await setup(ctx(), { trustAppEngineHeaders: true });
      onAppEngine.deferred.onSweep(async () => 'ok');
      const cron = await onAppEngine.post('/_deferred/sweep', { body: '', headers: { 'x-appengine-cron': 'true' } });
      expect(cron).toEqual({ status: 200, body: { outcome: 'swept', result: 'ok' } });
      expect((await onAppEngine.post('/_deferred/sweep', { body: '' })).status).toBe(403);
    });

    it('calls next() for paths outside its base path (Express/Connect middleware)', async () => {
      const rt = await setup(ctx());
      const server = http.createServer((req, res) =>
        rt.deferred.handler(req, res, () => res.writeHead(218, { 'content-type': 'text/plain' }).end('app route')),
      );
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      try {
        expect((await httpRequest(`${origin}/orders/1`, { method: 'GET' })).status).toBe(218);
        expect((await httpRequest(`${origin}/_deferred/tasks/x`, { body: '{}' })).status).toBe(403);
      } finally {
        server.closeAllConnections();
        await new Promise((resolve) => server.close(resolve));
      }
    });
  });
});

describe('App Engine targets', () => {
  describeStorage('through the emulator', (ctx) => {
    it('delivers to <basePath>/tasks/<name> by relativeUri; the queue header is required where it is trusted', async () => {
      let handle: http.RequestListener = (_req, res) => res.writeHead(503).end();
      const server = http.createServer((req, res) => handle(req, res));
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const clock = new ManualClock();
      const emulator = await startTasksEmulator({ clock, autoCreateQueues: true, appEngineBaseUrl: origin });
      const client = emulator.createClient();
      try {
        const logger = new MemoryLogger();
        const deferred = createDeferred({
          projectId: PROJECT,
          location: LOCATION,
          queue: 'appengine',
          secret: SECRET,
          datastore: ctx().datastore,
          tasks: client,
          clock,
          logger,
          trustAppEngineHeaders: true,
        });
        handle = deferred.handler;
        const seen: string[] = [];
        const hello = deferred.task('hello', (who: string) => {
          seen.push(who);
        });
        const deferral = await hello.defer('gae');
        const [task] = await client
          .getTask({ name: deferral.cloudTaskName!, responseView: 'FULL' })
          .catch(() => [null]);
        if (task) expect(task.appEngineHttpRequest!.relativeUri).toBe('/_deferred/tasks/hello');
        await clock.advance(0);
        expect(seen).toEqual(['gae']);
        const body = Buffer.from('{"v":1,"task":"hello","args":["x"]}');
        const direct = await httpRequest(`${origin}/_deferred/tasks/hello`, {
          body,
          headers: { 'x-deferred-signature': sign(body, SECRET, 'task') },
        });
        expect(direct.status).toBe(403); // signed, but not through App Engine's task queue
        expect(seen).toEqual(['gae']);
      } finally {
        await client.close();
        await emulator.stop();
        server.closeAllConnections();
        await new Promise((resolve) => server.close(resolve));
      }
    });
  });
});
