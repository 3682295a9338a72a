// The Cloud Tasks emulator's one port: gRPC (HTTP/2 prior knowledge) and REST (HTTP/1.1) side by side, whatever the
// TCP segmentation, keep-alive, garbage, prompt answers to calls the REST client would retry, and stop() closing all.
import { once } from 'node:events';
import net, { type AddressInfo } from 'node:net';
import { CloudTasksClient } from '@google-cloud/tasks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTasksEmulator, type RunningTasksEmulator } from '../src/tasks-emulator/index.js';
import { rpcError } from './support/tasks-emulator.js';

const LOCATION = 'projects/port-project/locations/us-central1';

/** A TCP relay to `port` that forwards the client's bytes one at a time, each in its own write: the worst segmentation. */
async function startDripRelay(port: number): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect({ port, host: '127.0.0.1', noDelay: true });
    sockets.add(client).add(upstream);
    client.setNoDelay(true);
    let chain = Promise.resolve();
    client.on('data', (chunk: Buffer) => {
      client.pause();
      chain = chain.then(async () => {
        for (const byte of chunk) {
          upstream.write(Buffer.from([byte]));
          await new Promise((resolve) => setImmediate(resolve));
        }
        client.resume();
      });
    });
    upstream.pipe(client);
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Sends raw bytes on a new connection and collects what comes back until the server closes or `until` matches. */
async function exchange(port: number, parts: Array<string | Buffer>, until?: RegExp): Promise<string> {
  const socket = net.connect({ port, host: '127.0.0.1' });
  await once(socket, 'connect');
  let received = '';
  const done = new Promise<string>((resolve) => {
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString('latin1');
      if (until?.test(received)) {
        socket.destroy();
        resolve(received);
      }
    });
    socket.on('close', () => resolve(received));
    socket.on('error', () => resolve(received));
  });
  for (const part of parts) {
    socket.write(part);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return done;
}

describe('Cloud Tasks emulator port (gRPC and REST on one port)', () => {
  let emulator: RunningTasksEmulator;

  beforeAll(async () => {
    emulator = await startTasksEmulator();
  });
  afterAll(async () => {
    await emulator.stop();
  });

  it('serves the gRPC client, the REST client and plain HTTP at the same time on one port', async () => {
    const grpcClient = emulator.createClient();
    const restClient = emulator.createClient({ transport: 'rest' });
    try {
      const names = Array.from({ length: 10 }, (_, i) => `${LOCATION}/queues/both-${i}`);
      await Promise.all(
        names.map((name, i) => (i % 2 ? grpcClient : restClient).createQueue({ parent: LOCATION, queue: { name } })),
      );
      const reads = await Promise.all(
        names.flatMap((name) => [
          grpcClient.getQueue({ name }).then(([q]) => q.name),
          restClient.getQueue({ name }).then(([q]) => q.name),
          fetch(`http://${emulator.endpoint}/v2/${name}`)
            .then((r) => r.json())
            .then((q) => (q as { name: string }).name),
        ]),
      );
      expect(reads).toEqual(names.flatMap((name) => [name, name, name]));
    } finally {
      await grpcClient.close();
      await restClient.close();
    }
  });

  it('tells the protocols apart when every byte arrives in a TCP segment of its own', async () => {
    const relay = await startDripRelay(emulator.port);
    const settings = { apiEndpoint: '127.0.0.1', port: relay.port };
    const grpcClient = new CloudTasksClient({ ...emulator.clientOptions, ...settings });
    const restClient = new CloudTasksClient({ ...emulator.restClientOptions, ...settings });
    try {
      const name = `${LOCATION}/queues/dripped`;
      const [created] = await grpcClient.createQueue({ parent: LOCATION, queue: { name } });
      const [viaRest] = await restClient.getQueue({ name });
      expect(viaRest).toEqual(created);
      expect((await rpcError(grpcClient.getQueue({ name: `${name}-missing` }))).code).toBe(5);
      expect((await rpcError(restClient.getQueue({ name: `${name}-missing` }))).code).toBe(5);
    } finally {
      await grpcClient.close();
      await restClient.close();
      await relay.close();
    }
  });

  it('answers HTTP/1.1 requests that start like the HTTP/2 preface, and several on one kept-alive connection', async () => {
    const name = `${LOCATION}/queues/kept-alive`;
    await fetch(`http://${emulator.endpoint}/v2/${LOCATION}/queues`, {
      method: 'POST',
      body: JSON.stringify({ name }),
    });
    const body = '{"retryConfig":{"maxAttempts":3}}';
    const patch = `PATCH /v2/${name}?updateMask=retryConfig.maxAttempts HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
    const get = `GET /v2/${name} HTTP/1.1\r\nHost: x\r\n\r\n`;
    // 'P' alone could begin 'PRI * HTTP/2.0'; the body arrives apart from its headers; the second request follows.
    const parts = ['P', patch.slice(1, -1), patch.slice(-1), get];
    const answer = await exchange(emulator.port, parts, /"maxAttempts": 3[\s\S]*"maxAttempts": 3/);
    const statuses = answer.match(/^HTTP\/1\.1 \d+/gm);
    expect(statuses).toEqual(['HTTP/1.1 200', 'HTTP/1.1 200']);
  });

  it('closes connections that speak neither protocol, without hanging', async () => {
    const answer = await exchange(emulator.port, ['hello there\r\n\r\n']);
    expect(answer).toMatch(/^HTTP\/1\.1 400 /);
    const tls = await exchange(emulator.port, [
      Buffer.from([0x16, 0x03, 0x01, 0x00, 0x05, 0x01, 0x00, 0x00, 0x01, 0x00]),
    ]);
    expect(tls).toMatch(/^HTTP\/1\.1 400 /);
  });

  it('answers at once the calls the REST client would retry for 20 s if the port did not speak HTTP/1.1', async () => {
    const restClient = emulator.createClient({ transport: 'rest' });
    try {
      // ListQueues and GetQueue are retried on UNAVAILABLE/DEADLINE_EXCEEDED: with a 3 s budget, a port that
      // answered HTTP/1.1 with garbage would end in DEADLINE_EXCEEDED (4) instead of these answers.
      const [queues] = await restClient.listQueues({ parent: LOCATION }, { timeout: 3000 });
      expect(Array.isArray(queues)).toBe(true);
      const missing = await rpcError(restClient.getQueue({ name: `${LOCATION}/queues/nope` }, { timeout: 3000 }));
      expect(missing.code).toBe(5);
    } finally {
      await restClient.close();
    }
  });

  it('stop() closes kept-alive HTTP/1.1 connections and gRPC sessions', async () => {
    const own = await startTasksEmulator();
    const grpcClient = own.createClient();
    await grpcClient.listQueues({ parent: LOCATION });
    const socket = net.connect({ port: own.port, host: '127.0.0.1' });
    await once(socket, 'connect');
    socket.write(`GET /v2/${LOCATION}/queues HTTP/1.1\r\nHost: x\r\n\r\n`);
    await once(socket, 'data');
    const closed = once(socket, 'close');
    await own.stop();
    await closed;
    expect(socket.destroyed).toBe(true);
    expect((await rpcError(grpcClient.listQueues({ parent: LOCATION }, { timeout: 2000, retry: null }))).code).toBe(14);
    await grpcClient.close();
  });
});
