// The handler's front door: signatures (and rotation), OIDC tokens, body limits, routes, malformed bodies, unknown tasks.
import { createHmac } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import { Datastore } from '@google-cloud/datastore';
import { describe, expect, it } from 'vitest';
import { CodecRegistry, encodeEnvelope, sign } from '../src/codec/index.js';
import { TASK_KIND } from '../src/store/schema.js';
import { describeStorage } from './support/backends.js';
import { SECRET, useRuntime, type RuntimeFixture } from './support/runtime.js';

/** A signature as cloud-deferred 0.1 wrote it: HMAC-SHA256 over the body alone, bound to no route. */
const v1 = (body: Buffer) => `v1=${createHmac('sha256', SECRET).update(body).digest('base64url')}`;

const OTHER_SECRET = 'another-secret-abcdef0123456789';

describe('handler', () => {
  const setup = useRuntime();

  describeStorage('authentication and bad requests', (ctx) => {
    it('answers 403 and runs nothing for unsigned, badly signed and tampered requests', async () => {
      const rt = await setup(ctx());
      let runs = 0;
      rt.deferred.task('pay', () => {
        runs++;
      });
      const body = encodeEnvelope({ task: 'pay', args: [100] });
      const path = '/_deferred/tasks/pay';
      const unsigned = await rt.post(path, { body, headers: { 'content-type': 'application/json' } });
      const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
      const wrongKey = await rt.post(path, {
        body,
        headers: {
          'x-deferred-signature': sign(body, OTHER_SECRET, 'task'),
          traceparent,
          'x-cloudtasks-queuename': 'default',
          'x-cloudtasks-taskname': '1234567890123456789',
        },
      });
      const garbage = await rt.post(path, { body, headers: { 'x-deferred-signature': 'v1=nope' } });
      const tampered = await rt.post(path, {
        body: encodeEnvelope({ task: 'pay', args: [1_000_000] }),
        headers: { 'x-deferred-signature': sign(body, SECRET, 'task') },
      });
      for (const response of [unsigned, wrongKey, garbage, tampered]) expect(response.status).toBe(403);
      const good = await rt.post(path, { body, headers: { 'x-deferred-signature': sign(body, SECRET, 'task') } });
      expect(good.status).toBe(200);
      expect(runs).toBe(1);
      const refusals = rt.logger.entries.filter((e) => /rejected unauthenticated/.test(e.message));
      expect(refusals).toHaveLength(4);
      // A refusal's line is found by the task's trace and name, as its runs' lines are ("why did my task not run?").
      expect(refusals[1]).toMatchObject({
        severity: 'WARNING',
        'logging.googleapis.com/trace': expect.stringMatching(/\/traces\/4bf92f3577b34da6a3ce929d0e0e4736$/),
        'logging.googleapis.com/spanId': '00f067aa0ba902b7',
        'logging.googleapis.com/labels': { task: 'pay', queue: 'default' },
        task: 'pay',
        taskName: '1234567890123456789',
        queue: 'default',
      });
      expect(refusals[0]).toMatchObject({ 'logging.googleapis.com/labels': { task: 'pay' }, task: 'pay' });
      expect(refusals[0]).not.toHaveProperty(['logging.googleapis.com/trace']);
    });

    it('verifies payloads signed with a retired secret (rotation) and signs with the current one', async () => {
      const rt = await setup(ctx(), { secrets: [SECRET, OTHER_SECRET] });
      const seen: number[] = [];
      rt.deferred.task('count', (n: number) => {
        seen.push(n);
      });
      const body = encodeEnvelope({ task: 'count', args: [1] });
      const response = await rt.post('/_deferred/tasks/count', {
        body,
        headers: { 'x-deferred-signature': sign(body, OTHER_SECRET, 'task') },
      });
      expect(response.status).toBe(200);
      expect(seen).toEqual([1]);
      const count = rt.deferred.task('count2', (n: number) => seen.push(n));
      await count.with({ delay: '1h' }).defer(2);
      const [task] = await rt.client.getTask({ name: (await rt.listTasks())[0]!, responseView: 'FULL' });
      const signature = task.httpRequest!.headers!['x-deferred-signature']!;
      expect(signature).toBe(sign(Buffer.from(task.httpRequest!.body as Uint8Array), SECRET, 'task'));
    });

    it('rejects a body over maxBodyBytes with 413 before reading it, declared or streamed', async () => {
      const rt = await setup(ctx(), { maxBodyBytes: 1000 });
      rt.deferred.task('big', () => undefined);
      const declared = await rt.post('/_deferred/tasks/big', { body: Buffer.alloc(5000, 'a') });
      expect(declared.status).toBe(413);
      const fetchRt = await setup(ctx(), { maxBodyBytes: 1000, serve: 'fetch' });
      fetchRt.deferred.task('big', () => undefined);
      const viaFetch = await fetchRt.post('/_deferred/tasks/big', { body: Buffer.alloc(5000, 'a') });
      expect(viaFetch.status).toBe(413);
      const chunked = await new Promise<number>((resolve, reject) => {
        void import('node:http').then(({ request }) => {
          const req = request(`${rt.origin}/_deferred/tasks/big`, { method: 'POST' }, (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          });
          req.on('error', reject);
          req.write(Buffer.alloc(800, 'a'));
          req.write(Buffer.alloc(800, 'a'));
          req.end();
        });
      });
      expect(chunked).toBe(413);
    });

    it('signatures bind their purpose: a task body starts no sweep, a sweep signature runs no task', async () => {
      const rt = await setup(ctx(), { record: true });
      let sweeps = 0;
      let runs = 0;
      rt.deferred.onSweep(async () => ++sweeps);
      const work = rt.deferred.task('work', () => void runs++);
      await work.defer();
      await rt.advance();
      expect(runs).toBe(1);
      const captured = rt.recorded.find((r) => r.url === '/_deferred/tasks/work')!;
      const replayHeaders = Object.fromEntries(
        Object.entries(captured.headers).filter(([name]) => name !== 'content-length'),
      );
      const before = rt.logger.entries.length;
      const toSweep = await rt.post('/_deferred/sweep', { body: captured.body, headers: replayHeaders });
      expect(toSweep.status).toBe(403);
      const legacyToSweep = await rt.post('/_deferred/sweep', {
        body: captured.body,
        headers: { 'x-deferred-signature': v1(captured.body) },
      });
      expect(legacyToSweep.status).toBe(403);
      expect(sweeps).toBe(0);
      const refusals = rt.logger.entries.slice(before).map((e) => e.message);
      expect(refusals).toEqual([
        expect.stringMatching(/sweep: the body is a task's: a task's body cannot start a sweep/),
        expect.stringMatching(/sweep: the body is a task's: a task's body cannot start a sweep/),
      ]);

      const envelope = encodeEnvelope({ task: 'work', args: [] });
      const sweepSigned = await rt.post('/_deferred/tasks/work', {
        body: envelope,
        headers: { 'x-deferred-signature': sign(envelope, SECRET, 'sweep') },
      });
      expect(sweepSigned.status).toBe(403);
      expect(rt.logger.entries.at(-1)!.message).toMatch(/the body is signed for the sweep route, not for a task route/);
      const empty = Buffer.from('{}');
      const taskSignedSweep = await rt.post('/_deferred/sweep', {
        body: empty,
        headers: { 'x-deferred-signature': sign(empty, SECRET, 'task') },
      });
      expect(taskSignedSweep.status).toBe(403);
      expect(rt.logger.entries.at(-1)!.message).toMatch(/sign sweep requests with sign\(body, secret, 'sweep'\)/);
      const sweep = await rt.post('/_deferred/sweep', {
        body: empty,
        headers: { 'x-deferred-signature': sign(empty, SECRET, 'sweep') },
      });
      expect(sweep).toMatchObject({ status: 200, body: { outcome: 'swept', result: 1 } });
      expect(runs).toBe(1);
    });

    it("0.1's v1 signatures verify during the upgrade window (legacySignatures: 'accept', the default), and not after", async () => {
      const during = await setup(ctx());
      const after = await setup(ctx(), { legacySignatures: 'refuse' });
      const ran: string[] = [];
      for (const rt of [during, after]) {
        rt.deferred.task('work', (who: string) => void ran.push(who));
        rt.deferred.onSweep(async () => 'swept');
      }
      const body = (who: string) => encodeEnvelope({ task: 'work', args: [who] });
      const legacy = (rt: RuntimeFixture, who: string) =>
        rt.post('/_deferred/tasks/work', { body: body(who), headers: { 'x-deferred-signature': v1(body(who)) } });
      expect((await legacy(during, 'during')).status).toBe(200);
      expect((await legacy(after, 'after')).status).toBe(403);
      expect(after.logger.entries.at(-1)!.message).toMatch(
        /a v1 signature, refused since legacySignatures is 'refuse'/,
      );
      expect(ran).toEqual(['during']);
      // A 0.1 sweep request (v1 over a body that is no task's) too.
      const empty = Buffer.from('{}');
      const legacySweep = (rt: RuntimeFixture) =>
        rt.post('/_deferred/sweep', { body: empty, headers: { 'x-deferred-signature': v1(empty) } });
      expect((await legacySweep(during)).status).toBe(200);
      expect((await legacySweep(after)).status).toBe(403);
      await expect(setup(ctx(), { legacySignatures: 'maybe' as never })).rejects.toThrow(
        /legacySignatures must be 'accept' or 'refuse', got "maybe"/,
      );
    });

    it('bounds the bytes of bodies held before their signature check across requests: one more gets 503, unread', async () => {
      const rt = await setup(ctx(), { maxBodyBytes: 100_000, maxUnverifiedBodyBytes: 150_000 });
      rt.deferred.task('work', () => undefined);
      const server = http.createServer(rt.deferred.handler);
      const readBySocket = new Map<number, net.Socket>();
      server.on('connection', (socket) => readBySocket.set(socket.remotePort!, socket));
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const { port } = server.address() as net.AddressInfo;
      /** Sends the headers of a 100,000-byte body and `bytes` of it; resolves with the status line, or '' if none came. */
      const partial = (bytes: number) => {
        const socket = net.connect(port, '127.0.0.1');
        let answer = '';
        socket.on('data', (d: Buffer) => (answer += d.toString('latin1')));
        socket.on('error', () => undefined);
        socket.write('POST /_deferred/tasks/work HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n');
        socket.write(Buffer.alloc(bytes, 'a'));
        const status = async (waitMs: number) => {
          for (const deadline = Date.now() + waitMs; answer === '' && Date.now() < deadline;) {
            await new Promise((resolve) => setTimeout(resolve, 20));
          }
          return answer.split('\r\n')[0]!;
        };
        return { socket, status, finish: () => socket.write(Buffer.alloc(100_000 - bytes, 'a')) };
      };
      try {
        const first = partial(90_000);
        await expect
          .poll(() => readBySocket.get(first.socket.localPort!)?.bytesRead ?? 0)
          .toBeGreaterThanOrEqual(90_000);
        const before = rt.logger.entries.length;
        const second = partial(90_000); // 180,000 bytes would be held: refused at once, without waiting for the rest
        expect(await second.status(5_000)).toBe('HTTP/1.1 503 Service Unavailable');
        expect(rt.logger.entries.slice(before).map((e) => e.message)).toEqual([
          expect.stringMatching(
            /bodies waiting for their signature check already hold maxUnverifiedBodyBytes \(150000 bytes\)/,
          ),
        ]);
        expect(await first.status(100)).toBe(''); // still being read
        first.finish();
        expect(await first.status(5_000)).toBe('HTTP/1.1 403 Forbidden'); // read in full, then refused: unsigned
        // Its share is given back: another full body is read and answered.
        const third = partial(100_000);
        expect(await third.status(5_000)).toBe('HTTP/1.1 403 Forbidden');
        for (const p of [first, second, third]) p.socket.destroy();
      } finally {
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      }
      await expect(setup(ctx(), { maxBodyBytes: 100_000, maxUnverifiedBodyBytes: 50_000 })).rejects.toThrow(
        /maxUnverifiedBodyBytes \(50000\) must be at least maxBodyBytes \(100000\)/,
      );
    });

    it('answers 404 outside its routes and 405 for GET', async () => {
      const rt = await setup(ctx());
      expect((await rt.post('/elsewhere', { body: '{}' })).status).toBe(404);
      expect((await rt.post('/_deferred/tasks/a/b', { body: '{}' })).status).toBe(404);
      expect((await rt.post('/_deferred/tasks/x', { method: 'GET' })).status).toBe(405);
      expect((await rt.post('/_deferred/sweep', { body: '{}' })).status).toBe(404);
    });

    it('answers 2xx to a signed but malformed body (no retry storm) and runs nothing', async () => {
      const rt = await setup(ctx());
      let runs = 0;
      rt.deferred.task('t', () => runs++);
      for (const raw of ['not json', '{"v":2,"task":"t","args":[]}', '{"v":1,"task":"other","args":[]}']) {
        const body = Buffer.from(raw);
        const response = await rt.post('/_deferred/tasks/t', {
          body,
          headers: { 'x-deferred-signature': sign(body, SECRET, 'task') },
        });
        expect(response).toMatchObject({ status: 200, body: { outcome: 'rejected' } });
      }
      expect(runs).toBe(0);
      expect(rt.logger.entries.filter((e) => e.severity === 'ERROR' && /malformed/.test(e.message))).toHaveLength(3);
    });

    it('records an unknown task as failed with a clear message and answers 2xx', async () => {
      const rt = await setup(ctx());
      const sender = await setup(ctx(), { queue: rt.queue, handlerUrl: `${rt.origin}/_deferred` });
      const gone = sender.deferred.task('retiredTask', () => undefined);
      await gone.defer();
      await gone.with({ entityBacked: true }).defer();
      await rt.advance();
      expect(await rt.listTasks()).toEqual([]);
      const [entities] = await ctx().datastore.runQuery(ctx().datastore.createQuery(TASK_KIND));
      expect(entities).toHaveLength(2);
      for (const entity of entities) {
        expect(entity.state).toBe('failed');
        expect(entity.lastError).toMatch(/no task is registered as "retiredTask".*deferred\.task\("retiredTask", fn\)/);
      }
      const inlineRecord = entities.find((e) => (e[Datastore.KEY].name as string).startsWith('failed.'));
      expect(inlineRecord).toBeDefined();
      expect(inlineRecord!.cloudTaskRequest).toBe('');
      expect(rt.logger.entries.filter((e) => e.outcome === 'failed')).toHaveLength(2);
    });

    it('records a signed payload whose arguments this deployment cannot decode as failed, answers 2xx, logs one ERROR line', async () => {
      class Money {
        constructor(readonly cents: number) {}
      }
      const codecs = new CodecRegistry().register({
        name: 'Money',
        type: Money,
        encode: (m: Money) => ({ cents: m.cents }),
        decode: (data) => new Money((data as { cents: number }).cents),
      });
      const rt = await setup(ctx()); // a deployment that no longer registers the Money codec
      const sender = await setup(ctx(), { queue: rt.queue, handlerUrl: `${rt.origin}/_deferred`, codecs });
      let runs = 0;
      rt.deferred.task('charge', (_money: unknown) => void runs++);
      const charge = sender.deferred.task('charge', (_money: Money) => undefined);
      await charge.defer(new Money(5));
      await charge.with({ entityBacked: true }).defer(new Money(6));
      const future = Buffer.from('{"v":1,"task":"charge","args":[{"$fromTheFuture":1}]}'); // a tag it does not know
      const direct = await rt.post('/_deferred/tasks/charge', {
        body: future,
        headers: { 'x-deferred-signature': sign(future, SECRET, 'task') },
      });
      expect(direct).toMatchObject({ status: 200, body: { outcome: 'failed' } });
      await rt.advance();
      expect(await rt.listTasks()).toEqual([]); // answered 2xx: Cloud Tasks does not retry them
      expect(runs).toBe(0);
      const errors = rt.logger.entries.filter((e) => e.severity === 'ERROR');
      expect(errors).toHaveLength(3);
      for (const e of errors)
        expect(e.message).toMatch(/task charge failed permanently: its arguments cannot be decoded here/);
      const [entities] = await ctx().datastore.runQuery(ctx().datastore.createQuery(TASK_KIND));
      expect(entities.map((e) => e.state)).toEqual(['failed', 'failed', 'failed']);
      const errorsRecorded = entities.map((e) => String(e.lastError)).sort();
      expect(errorsRecorded.filter((m) => /class "Money", which has no class codec registered/.test(m))).toHaveLength(
        2,
      );
      expect(errorsRecorded.filter((m) => /unknown tag "\$fromTheFuture"/.test(m))).toHaveLength(1);
      // The entity-backed one keeps its payload for inspection; the inline ones are recorded with theirs.
      for (const e of entities) expect((e.payload as Buffer).length).toBeGreaterThan(0);
    });

    it("with unknownTasks: 'retry', an unknown task is retried (nothing recorded) and runs once its code is deployed", async () => {
      const rt = await setup(ctx(), { unknownTasks: 'retry' });
      const sender = await setup(ctx(), { queue: rt.queue, handlerUrl: `${rt.origin}/_deferred` });
      const newer = sender.deferred.task('newerTask', (_n: number) => undefined);
      await newer.defer(1);
      await newer.with({ entityBacked: true }).defer(2);
      await newer.with({ maxAttempts: 1 }).defer(3); // retried within maxAttempts only
      await rt.advance();
      expect(await rt.listTasks()).toHaveLength(2); // answered 500: Cloud Tasks keeps them for another attempt
      const retried = rt.logger.entries.filter((e) => e.outcome === 'retry');
      expect(retried).toHaveLength(2);
      expect(retried[0]!.message).toMatch(/will retry: no task is registered as "newerTask"/);
      const [before] = await ctx().datastore.runQuery(ctx().datastore.createQuery(TASK_KIND));
      // The entity-backed one waits; the one out of attempts is recorded failed, saying why.
      expect(before.map((e) => e.state).sort()).toEqual(['failed', 'pending']);
      expect(before.find((e) => e.state === 'failed')!.lastError).toMatch(/gave up after 1 of 1 attempts/);

      const ran: number[] = [];
      rt.deferred.task('newerTask', (n: number) => void ran.push(n)); // the new version reaches this instance
      await rt.advance(60_000);
      expect(ran.sort()).toEqual([1, 2]);
      expect(await rt.listTasks()).toEqual([]);
      const [after] = await ctx().datastore.runQuery(ctx().datastore.createQuery(TASK_KIND));
      expect(after.map((e) => e.state).sort()).toEqual(['done', 'failed']);
    });

    it('refuses an unknownTasks setting it does not know', async () => {
      await expect(setup(ctx(), { unknownTasks: 'skip' as never })).rejects.toThrow(
        /unknownTasks must be 'fail' or 'retry', got "skip"/,
      );
    });
  });
});

describe('handler with OIDC', () => {
  const setup = useRuntime({ oidc: true });

  describeStorage('tokens', (ctx) => {
    it('runs tasks that carry a valid Cloud Tasks token and refuses requests without one', async () => {
      const rt = await setup(ctx());
      let runs = 0;
      const t = rt.deferred.task('guarded', () => {
        runs++;
      });
      await t.defer();
      await rt.advance();
      expect(runs).toBe(1);
      const body = encodeEnvelope({ task: 'guarded', args: [] });
      const headers = { 'x-deferred-signature': sign(body, SECRET, 'task') };
      expect((await rt.post('/_deferred/tasks/guarded', { body, headers })).status).toBe(403);
      const bogus = { ...headers, authorization: 'Bearer eyJhbGciOiJIUzI1NiJ9.e30.x' };
      expect((await rt.post('/_deferred/tasks/guarded', { body, headers: bogus })).status).toBe(403);
      expect(runs).toBe(1);
    });

    it('a captured delivery, token and all, posted to the sweep route starts no sweep', async () => {
      const rt = await setup(ctx(), { record: true });
      let sweeps = 0;
      rt.deferred.onSweep(async () => ++sweeps);
      const t = rt.deferred.task('guarded', () => undefined);
      await t.defer();
      await rt.advance();
      const captured = rt.recorded.find((r) => r.url === '/_deferred/tasks/guarded')!;
      expect(captured.headers['authorization']).toMatch(/^Bearer /);
      const headers = Object.fromEntries(Object.entries(captured.headers).filter(([n]) => n !== 'content-length'));
      const withSignature = await rt.post('/_deferred/sweep', { body: captured.body, headers });
      const { 'x-deferred-signature': _dropped, ...unsigned } = headers;
      const withoutSignature = await rt.post('/_deferred/sweep', { body: captured.body, headers: unsigned });
      expect([withSignature.status, withoutSignature.status]).toEqual([403, 403]);
      expect(sweeps).toBe(0);
      // The scheduler's own request (a token, a body that is no task's) still sweeps.
      const scheduled = await rt.post('/_deferred/sweep', {
        body: '{}',
        headers: { authorization: headers['authorization']! },
      });
      expect(scheduled.status).toBe(200);
      expect(sweeps).toBe(1);
    });

    it('refuses a token minted for another audience', async () => {
      const rt = await setup(ctx());
      const other = await setup(ctx(), {
        queue: rt.queue,
        oidc: {
          serviceAccountEmail: 'tasks@test-project.iam.gserviceaccount.com',
          audience: 'https://somewhere-else.example.com',
          issuer: rt.emulator.oidc.issuer,
          jwksUri: rt.emulator.oidc.jwksUri,
          verify: false,
        },
        handlerUrl: `${rt.origin}/_deferred`,
      });
      let runs = 0;
      rt.deferred.task('guarded', () => runs++);
      const sender = other.deferred.task('guarded', () => undefined);
      await sender.defer();
      await rt.advance();
      expect(runs).toBe(0);
      expect(rt.logger.entries.some((e) => /OIDC token rejected/.test(e.message))).toBe(true);
    });

    it('accepts the tokens of oidc.sweepServiceAccounts (a Cloud Scheduler job) on the sweep route only', async () => {
      const probe = await setup(ctx());
      const scheduler = 'scheduler@test-project.iam.gserviceaccount.com';
      const audience = 'https://worker.example.com';
      const rt = await setup(ctx(), {
        oidc: {
          serviceAccountEmail: 'tasks@test-project.iam.gserviceaccount.com',
          audience,
          issuer: probe.emulator.oidc.issuer,
          jwksUri: probe.emulator.oidc.jwksUri,
          sweepServiceAccounts: [scheduler],
        },
      });
      let sweeps = 0;
      let runs = 0;
      rt.deferred.onSweep(async () => ++sweeps);
      const guarded = rt.deferred.task('guarded', () => runs++);
      // What a Cloud Scheduler job does: an HTTP request with an OIDC token signed as its own service account.
      const asScheduler = (path: string, oidcAudience = audience) =>
        rt.client.createTask({
          parent: rt.queuePath,
          task: {
            httpRequest: {
              url: `${rt.origin}/_deferred/${path}`,
              httpMethod: 'POST',
              body: Buffer.from('{}'),
              oidcToken: { serviceAccountEmail: scheduler, audience: oidcAudience },
            },
          },
        });
      await asScheduler('sweep');
      await asScheduler('tasks/guarded');
      await asScheduler('sweep', 'https://somewhere-else.example.com');
      await rt.advance();
      expect(sweeps).toBe(1);
      expect(runs).toBe(0);
      const refusals = rt.logger.entries.filter((e) => /rejected unauthenticated request/.test(e.message));
      expect(refusals.map((e) => e.message)).toEqual(
        expect.arrayContaining([
          expect.stringMatching(/tasks\/guarded: OIDC token is for scheduler@.*not a configured service account/),
          expect.stringMatching(/sweep: OIDC token rejected/),
        ]),
      );
      // The runtime's own tasks still run.
      await guarded.defer();
      await rt.advance();
      expect(runs).toBe(1);
    });

    it('refuses an oidc.sweepServiceAccounts that is not a list of e-mails', async () => {
      await expect(
        setup(ctx(), {
          oidc: {
            serviceAccountEmail: 'tasks@test-project.iam.gserviceaccount.com',
            sweepServiceAccounts: 'x' as never,
          },
        }),
      ).rejects.toThrow(/oidc.sweepServiceAccounts must be a list of service account e-mails, got "x"/);
    });
  });
});
