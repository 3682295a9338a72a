// Faults: hostile requests to the handler, each with its documented status and one log line; nothing runs, nothing is lost.
import http from 'node:http';
import net from 'node:net';
import { SignJWT, generateKeyPair } from 'jose';
import { describe, expect, it } from 'vitest';
import { encodeEnvelope, sign } from '../src/codec/index.js';
import { sweep } from '../src/sweeper/index.js';
import { describeStorage } from './support/backends.js';
import { Ledger, leftovers, report, tally, total, type Expected } from './support/faults.js';
import { SECRET, httpRequest, useRuntime, type RuntimeFixture } from './support/runtime.js';
import { HOUR, DAY } from './support/time.js';
import { silentLogger } from '../src/core/logger.js';

const SERVICE_ACCOUNT = 'tasks@test-project.iam.gserviceaccount.com';
const OTHER_SECRET = 'not-the-secret-0123456789abcdef';

type Sent = { status: number; body: Record<string, unknown> };

/** Sends a request and returns its answer with the log entries it produced. */
async function probe(rt: RuntimeFixture, send: () => Promise<Sent>) {
  const before = rt.logger.entries.length;
  const response = await send();
  return { ...response, logs: rt.logger.entries.slice(before) };
}

/** A token with the emulator's issuer, audience and key id, signed with another RSA key. */
async function forgedToken(rt: RuntimeFixture, audience: string): Promise<string> {
  const { privateKey } = await generateKeyPair('RS256');
  const jwks = (await (await fetch(rt.emulator.oidc.jwksUri)).json()) as { keys: { kid: string }[] };
  const nowS = Math.floor(rt.clock.now() / 1000);
  return new SignJWT({ email: SERVICE_ACCOUNT, email_verified: true })
    .setProtectedHeader({ alg: 'RS256', kid: jwks.keys[0]!.kid, typ: 'JWT' })
    .setIssuer(rt.emulator.oidc.issuer)
    .setAudience(audience)
    .setIssuedAt(nowS)
    .setExpirationTime(nowS + 3600)
    .sign(privateKey);
}

/**
 * Streams a chunked body of up to `offerBytes` until the server answers or hangs up; what got through, what came back.
 * The client starts reading only after `readAfterMs` (a busy client): an answer the server sends and then resets the
 * connection over is lost in the client's kernel.
 */
function streamHugeBody(
  port: number,
  path: string,
  offerBytes: number,
  readAfterMs = 0,
  headers: Record<string, string> = {},
): Promise<{ sent: number; status: string; port: number }> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    let localPort = 0;
    socket.once('connect', () => (localPort = socket.localPort!));
    if (readAfterMs > 0) {
      socket.pause();
      setTimeout(() => socket.resume(), readAfterMs);
    }
    const chunk = Buffer.alloc(64 * 1024, 'a');
    const frame = Buffer.concat([Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from('\r\n')]);
    let sent = 0;
    let answer = '';
    let closed = false;
    socket.on('data', (data: Buffer) => (answer += data.toString('latin1')));
    socket.on('error', () => undefined); // EPIPE / ECONNRESET once the server hangs up: expected
    socket.on('close', () => {
      closed = true;
      resolve({ sent, status: answer.split('\r\n')[0] ?? '', port: localPort });
    });
    const extra = Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`);
    socket.write(`POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n${extra.join('')}\r\n`);
    const pump = () => {
      while (!closed && sent < offerBytes) {
        sent += chunk.length;
        if (!socket.write(frame)) return void socket.once('drain', pump);
      }
      if (!closed) socket.end('0\r\n\r\n');
    };
    pump();
  });
}

describe('faults: hostile requests', { timeout: 60_000 }, () => {
  const setup = useRuntime({ oidc: true });

  describeStorage('with OIDC and signatures', (ctx) => {
    it('every hostile request gets its documented status and one log line; nothing runs, nothing is lost', async () => {
      const rt = await setup(ctx(), { record: true });
      const ledger = new Ledger();
      const work = rt.deferred.task('work', (id: string) => {
        ledger.record('start', id);
        ledger.record('end', id);
      });
      const expected: Expected[] = [];
      const legit = async (label: string) => {
        for (let i = 0; i < 3; i++) {
          const inline = await work.defer(`${label}-inline-${i}`);
          const entity = await work.with({ entityBacked: true }).defer(`${label}-entity-${i}`);
          expected.push(
            { id: `${label}-inline-${i}`, kind: 'inline', promised: true, cloudTaskName: inline.cloudTaskName! },
            { id: `${label}-entity-${i}`, kind: 'entity', promised: true, cloudTaskName: entity.cloudTaskName! },
          );
        }
        await rt.advance();
      };
      await legit('before');
      const delivered = rt.recorded.filter((r) => r.url === '/_deferred/tasks/work');
      const inlineDelivery = delivered.find((r) => !r.body.includes('"ref"'))!;
      const entityDelivery = delivered.find((r) => r.body.includes('"ref"'))!;
      const token = inlineDelivery.headers['authorization']!;
      expect(token).toMatch(/^Bearer /);
      const audience = `${rt.origin}/_deferred`;
      const path = '/_deferred/tasks/work';
      const envelope = encodeEnvelope({ task: 'work', args: ['hostile'] });
      const signed = (body: Buffer | string, secret = SECRET) => sign(Buffer.from(body), secret, 'task');
      const post = (headers: Record<string, string>, body: Buffer | string = envelope, to = path) =>
        probe(rt, () => rt.post(to, { headers, body }));
      const runsBefore = ledger.events.length;

      const cases: [string, Awaited<ReturnType<typeof post>>, number, RegExp][] = [
        ['no OIDC token', await post({ 'x-deferred-signature': signed(envelope) }), 403, /missing OIDC bearer token/],
        [
          'forged OIDC token (right kid, other key)',
          await post({
            authorization: `Bearer ${await forgedToken(rt, audience)}`,
            'x-deferred-signature': signed(envelope),
          }),
          403,
          /OIDC token rejected: signature verification failed/,
        ],
        [
          'garbage OIDC token',
          await post({ authorization: 'Bearer not.a.jwt', 'x-deferred-signature': signed(envelope) }),
          403,
          /OIDC token rejected/,
        ],
        ['no signature', await post({ authorization: token }), 403, /missing, bad or stale signature/],
        [
          'signature with another secret',
          await post({ authorization: token, 'x-deferred-signature': signed(envelope, OTHER_SECRET) }),
          403,
          /missing, bad or stale signature/,
        ],
        [
          'tampered body (a delivered signature, other arguments)',
          await post(
            { authorization: token, 'x-deferred-signature': inlineDelivery.headers['x-deferred-signature']! },
            inlineDelivery.body.toString().replace('before-inline', 'tampered-inline'),
          ),
          403,
          /missing, bad or stale signature/,
        ],
        [
          'wrong content type, unsigned (a form post)',
          await post(
            { authorization: token, 'content-type': 'application/x-www-form-urlencoded' },
            'task=work&args=%5B%22x%22%5D',
          ),
          403,
          /missing, bad or stale signature/,
        ],
        [
          'unknown task name, unsigned',
          await post({ authorization: token }, encodeEnvelope({ task: 'nope', args: [] }), '/_deferred/tasks/nope'),
          403,
          /missing, bad or stale signature/,
        ],
        [
          'replay of a finished entity-backed task',
          await post(
            Object.fromEntries(Object.entries(entityDelivery.headers).filter(([n]) => n !== 'content-length')),
            entityDelivery.body,
          ),
          200,
          /already done: duplicate delivery ignored/,
        ],
        [
          'malformed JSON, signed',
          await post(
            { authorization: token, 'x-deferred-signature': signed('{"v":1,"task":"work",') },
            '{"v":1,"task":"work",',
          ),
          200,
          /dropped a signed but malformed task body/,
        ],
        [
          'deeply nested payload (100,000 levels), signed',
          await (async () => {
            const deep = `{"v":1,"task":"work","args":[${'['.repeat(100_000)}${']'.repeat(100_000)}]}`;
            return post({ authorization: token, 'x-deferred-signature': signed(deep) }, deep);
          })(),
          200,
          /dropped a signed but malformed task body: .*deeper than 64/,
        ],
        [
          'deeply nested payload, unsigned',
          await post({ authorization: token }, `[${'['.repeat(100_000)}`),
          403,
          /missing, bad or stale signature/,
        ],
        [
          'unknown task name, signed',
          await (async () => {
            const body = encodeEnvelope({ task: 'nope', args: [] });
            return post({ authorization: token, 'x-deferred-signature': signed(body) }, body, '/_deferred/tasks/nope');
          })(),
          200,
          /no task is registered as "nope"/,
        ],
        [
          'body over maxBodyBytes (declared)',
          await post({ authorization: token }, Buffer.alloc(1_200_000, 'a')),
          413,
          /larger than maxBodyBytes \(1100000 bytes\)/,
        ],
      ];
      for (const [label, result, status, message] of cases) {
        expect({ label, status: result.status }).toEqual({ label, status });
        expect({ label, lines: result.logs.length }).toEqual({ label, lines: 1 });
        expect(result.logs[0]!.message, label).toMatch(message);
      }

      // A token for another audience, from the emulator itself (another service's task sent here).
      const other = await setup(ctx(), {
        queue: rt.queue,
        handlerUrl: audience,
        oidc: { serviceAccountEmail: SERVICE_ACCOUNT, audience: 'https://elsewhere.example.com', verify: false },
      });
      const misdirected = await probe(rt, async () => {
        const deferral = await other.deferred.task('work', (_id: string) => undefined).defer('misdirected');
        await rt.advance();
        await rt.client.deleteTask({ name: deferral.cloudTaskName! }); // else Cloud Tasks retries the 403 for good
        return { status: 0, body: {} };
      });
      expect(misdirected.logs).toHaveLength(1);
      expect(misdirected.logs[0]!.message).toMatch(/OIDC token rejected: unexpected "aud" claim value/);

      // Two hours later the captured token has expired: a replay of the inline delivery is refused too.
      await rt.advance(2 * HOUR);
      const expired = await post(
        Object.fromEntries(Object.entries(inlineDelivery.headers).filter(([n]) => n !== 'content-length')),
        inlineDelivery.body,
      );
      expect(expired.status).toBe(403);
      expect(expired.logs).toHaveLength(1);
      expect(expired.logs[0]!.message).toMatch(/OIDC token rejected: "exp" claim timestamp check failed/);

      expect(ledger.events.length).toBe(runsBefore); // nothing hostile ran
      await legit('after');
      expect(await rt.listTasks()).toEqual([]);
      await sweep({
        datastore: ctx().datastore,
        tasks: rt.client,
        now: new Date(rt.clock.now() + 8 * DAY),
        log: silentLogger,
      });
      const counts = tally('16 hostile requests among 12 tasks', ctx().backend, expected, ledger, {
        leaks: total(await leftovers(ctx())),
      });
      report(counts);
      expect(counts).toMatchObject({ lost: 0, doubleRuns: 0, livePayloadsDeleted: 0, leaks: 0 });
      for (const e of expected) expect(ledger.ends(e.id)).toBe(1);
    });

    it('a streamed body over the limit gets 413 after at most the limit was read, delivered before the connection is closed', async () => {
      const rt = await setup(ctx(), { record: true });
      let runs = 0;
      const work = rt.deferred.task('work', () => runs++);
      await work.defer();
      await rt.advance();
      const token = rt.recorded[0]!.headers['authorization']!; // a valid token: the body is read, up to the limit
      runs = 0;
      const server = http.createServer(rt.deferred.handler);
      const readBySocket = new Map<number, number>(); // client port -> bytes the server read from it
      server.on('connection', (socket) => {
        const client = socket.remotePort!;
        socket.on('close', () => readBySocket.set(client, socket.bytesRead));
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      try {
        const { port } = server.address() as net.AddressInfo;
        const before = rt.logger.entries.length;
        const offered = 1024 * 1024 * 1024; // 1 GiB on offer; the server must hang up long before
        // A client that reads at once, and one that looks at the answer only a little later: both get the 413.
        for (const readAfterMs of [0, 300]) {
          const result = await streamHugeBody(port, '/_deferred/tasks/work', offered, readAfterMs, {
            authorization: token,
          });
          expect({ readAfterMs, status: result.status }).toEqual({
            readAfterMs,
            status: 'HTTP/1.1 413 Payload Too Large',
          });
          await expect.poll(() => readBySocket.has(result.port)).toBe(true);
          expect(readBySocket.get(result.port)!).toBeLessThan(1_100_000 + 256 * 1024); // the limit, one chunk, the headers
          expect(result.sent).toBeLessThan(64 * 1024 * 1024); // what the kernel buffers took, not the gigabyte
        }
        const logs = rt.logger.entries.slice(before);
        expect(logs).toHaveLength(2);
        for (const line of logs) {
          expect(line.message).toMatch(/larger than maxBodyBytes \(1100000 bytes\); stopped reading it/);
        }
        expect(runs).toBe(0);
        // The server is fine afterwards.
        const body = encodeEnvelope({ task: 'work', args: [] });
        const after = await httpRequest(`http://127.0.0.1:${port}/_deferred/tasks/work`, {
          headers: { 'x-deferred-signature': sign(body, SECRET, 'task') },
          body,
        });
        expect(after.status).toBe(403); // OIDC is on: no token
        // Without a token the body is not read at all: 403 from the headers, the connection closed after it.
        const unauthenticated = await streamHugeBody(port, '/_deferred/tasks/work', offered, 300);
        expect(unauthenticated.status).toBe('HTTP/1.1 403 Forbidden');
        await expect.poll(() => readBySocket.has(unauthenticated.port)).toBe(true);
        expect(readBySocket.get(unauthenticated.port)!).toBeLessThan(256 * 1024); // the headers, one read of the socket
      } finally {
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      }
    });
  });
});
