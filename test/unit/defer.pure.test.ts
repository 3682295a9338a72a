// Unit tests of the runtime's pure logic: names, option resolution, the state machine, payload packing, requests, headers.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { buildCreateTaskRequest, retargetRequest, storedRequest } from '../../src/core/cloud-task-request.js';
import { checkCloudTaskId, childTaskId, hopTaskId, taskIdOf } from '../../src/core/task-names.js';
import { resolveDeferOptions } from '../../src/defer/options.js';
import { Datastore } from '@google-cloud/datastore';
import { CHUNK_KIND, DEFAULT_RETENTION_MS, ageKey, shardOf } from '../../src/store/schema.js';
import { failedTaskMutations, fromEntity, pendingTaskMutations } from '../../src/store/task-entity.js';
import { snapshotOf } from '../../src/sweeper/decide.js';
import { readDeliveryHeaders } from '../../src/handler/task-headers.js';
import {
  GZIP_MIN_BYTES,
  hasZstd,
  packPayload,
  packPayloadAsync,
  unpackPayload,
} from '../../src/store/packed-payload.js';
import { BadStoredPayloadError } from '../../src/store/errors.js';
import type { DeferredTaskEntity } from '../../src/store/schema.js';
import { decideClaim, decideCompletion } from '../../src/store/state-machine.js';

const NOW = 1_800_000_000_000;

describe('names', () => {
  it('derives child and hop ids deterministically, bounded in length', () => {
    expect(childTaskId('parent', 1)).toBe('parent-1');
    expect(childTaskId('parent-1', 2)).toBe('parent-1-2');
    expect(hopTaskId('t')).toBe('t-h1');
    expect(hopTaskId('t-h1')).toBe('t-h2');
    const long = 'x'.repeat(200);
    expect(childTaskId(long, 3)).toMatch(/^[0-9a-f]{40}-3$/);
    expect(childTaskId(long, 3)).toBe(childTaskId(long, 3));
    expect(() => checkCloudTaskId(childTaskId(long, 3))).not.toThrow();
    expect(taskIdOf('projects/p/locations/l/queues/q/tasks/abc')).toBe('abc');
  });
});

describe('resolveDeferOptions', () => {
  const ctx = { nowMs: NOW, defaultQueue: 'default' };
  it('applies defaults', () => {
    expect(resolveDeferOptions([], ctx)).toEqual({
      queue: 'default',
      etaMs: NOW,
      name: null,
      ifExists: 'throw',
      dispatchDeadlineMs: null,
      headers: {},
      maxAttempts: null,
      retentionMs: DEFAULT_RETENTION_MS,
      entityBacked: false,
      transaction: null,
      parent: null,
      compression: 3,
    });
  });
  it('takes compression as a gzip level 1-9 or none (0), later layers winning, and names a bad one', () => {
    expect(resolveDeferOptions([{ compression: 1 }], ctx).compression).toBe(1);
    expect(resolveDeferOptions([{ compression: 9 }, { compression: 'none' }], ctx).compression).toBe(0);
    for (const bad of [0, 10, 2.5, 'fast', null, 'br', []]) {
      expect(() => resolveDeferOptions([{ compression: bad as never }], ctx)).toThrow(
        /compression must be a gzip level from 1 \(fastest\) to 9 \(smallest\), 'none', 'gzip', 'brotli', 'zstd', or \{ codec, level \}, got/,
      );
    }
  });
  it("takes a codec by name at its default level ('gzip' 3, 'brotli' 1, 'zstd' 1) or as { codec, level }", () => {
    const of = (compression: unknown) => resolveDeferOptions([{ compression: compression as never }], ctx).compression;
    expect(of('gzip')).toBe(3);
    expect(of({ codec: 'gzip', level: 6 })).toBe(6);
    expect(of('brotli')).toEqual({ codec: 'br', level: 1 });
    expect(of({ codec: 'brotli', level: 0 })).toEqual({ codec: 'br', level: 0 });
    expect(of({ codec: 'brotli' })).toEqual({ codec: 'br', level: 1 });
    expect(() => of({ codec: 'brotli', level: 12 })).toThrow(
      /a brotli level must be a whole number from 0 to 11, got 12/,
    );
    expect(() => of({ codec: 'gzip', level: 0 })).toThrow(/a gzip level must be a whole number from 1 to 9, got 0/);
    expect(() => of({ codec: 'lz4', level: 1 })).toThrow(
      /compression.codec must be 'gzip', 'brotli' or 'zstd', got "lz4"/,
    );
    if (hasZstd()) {
      expect(of('zstd')).toEqual({ codec: 'zstd', level: 1 });
      expect(of({ codec: 'zstd', level: 19 })).toEqual({ codec: 'zstd', level: 19 });
      expect(() => of({ codec: 'zstd', level: 20 })).toThrow(/a zstd level must be a whole number from 1 to 19/);
    } else {
      expect(() => of('zstd')).toThrow(/compression 'zstd' needs Node.js 22.15 or later \(this is v/);
    }
  });
  it('lets later layers win, and a later eta replaces an earlier delay', () => {
    const r = resolveDeferOptions(
      [{ queue: 'a', delay: '1m', headers: { 'X-A': '1' } }, { queue: 'b', headers: { 'X-B': '2' } }, { eta: NOW + 5 }],
      ctx,
    );
    expect(r).toMatchObject({ queue: 'b', etaMs: NOW + 5, headers: { 'X-A': '1', 'X-B': '2' } });
    expect(resolveDeferOptions([{ delay: '1h30m' }], ctx).etaMs).toBe(NOW + 5_400_000);
    expect(resolveDeferOptions([{ retention: 0, dispatchDeadline: '15s' }], ctx)).toMatchObject({
      retentionMs: 0,
      dispatchDeadlineMs: 15_000,
    });
  });
});

function entity(overrides: Partial<DeferredTaskEntity> = {}): DeferredTaskEntity {
  return {
    state: 'pending',
    task: 't',
    queue: 'q',
    cloudTaskName: 'projects/p/locations/l/queues/q/tasks/x',
    cloudTaskRequest: '{}',
    transactional: false,
    created: new Date(NOW),
    eta: new Date(NOW),
    attempts: 0,
    leaseUntil: null,
    lastError: null,
    finishedAt: null,
    retentionMs: 1000,
    shard: 0,
    ageKey: '',
    expireAt: new Date(NOW + 1e9),
    payload: Buffer.from('p'),
    chunks: 0,
    encoding: 'identity',
    payloadBytes: 1,
    ...overrides,
  };
}

describe('state machine', () => {
  it('claims pending tasks with a lease, refuses live leases, takes over expired ones', () => {
    const claim = decideClaim(entity(), NOW, 60_000);
    expect(claim).toMatchObject({ kind: 'run', next: { state: 'running', attempts: 1 } });
    expect(claim.kind === 'run' && claim.next.leaseUntil!.getTime()).toBe(NOW + 60_000);
    const running = entity({ state: 'running', attempts: 1, leaseUntil: new Date(NOW + 1) });
    expect(decideClaim(running, NOW, 60_000)).toEqual({ kind: 'busy', leaseUntil: new Date(NOW + 1) });
    expect(decideClaim(running, NOW + 2, 60_000)).toMatchObject({ kind: 'run', next: { attempts: 2 } });
    expect(decideClaim(entity({ state: 'done' }), NOW, 1)).toEqual({ kind: 'finished', state: 'done' });
    expect(decideClaim(entity({ state: 'failed' }), NOW, 1)).toEqual({ kind: 'finished', state: 'failed' });
  });
  it('treats a delivery scheduled well before the ETA as a hop, but not a vouched-for forced run of the due task', () => {
    const future = entity({ eta: new Date(NOW + 10 * 86_400_000) });
    expect(decideClaim(future, NOW, 1, { scheduledMs: NOW, notBeforeMs: null }).kind).toBe('early');
    expect(decideClaim(future, NOW, 1, { scheduledMs: future.eta.getTime(), notBeforeMs: null }).kind).toBe('run');
  });
  it('runs nothing of a pending task delivered before its Cloud Task was due (a replay); later deliveries run', () => {
    const later = entity({ eta: new Date(NOW + 3_600_000) });
    const schedule = { scheduledMs: NOW + 3_600_000, notBeforeMs: NOW + 3_600_000 };
    expect(decideClaim(later, NOW, 1, schedule)).toEqual({ kind: 'notDue', dueMs: NOW + 3_600_000 });
    expect(decideClaim(later, NOW + 3_600_000 - 30_000, 1, schedule).kind).toBe('run'); // within the clock tolerance
    // A task past its first schedule (a retry after a failed run) is due whenever it is delivered.
    expect(decideClaim(entity(), NOW, 1, { scheduledMs: NOW - 1, notBeforeMs: NOW - 1 }).kind).toBe('run');
  });
  it('completes only the run that owns the entity', () => {
    const running = entity({ state: 'running', attempts: 2, leaseUntil: new Date(NOW + 1) });
    expect(decideCompletion(running, 1, { kind: 'done' }, NOW)).toBeNull();
    expect(decideCompletion(entity({ state: 'done', attempts: 2 }), 2, { kind: 'done' }, NOW)).toBeNull();
    expect(decideCompletion(running, 2, { kind: 'done' }, NOW)).toMatchObject({
      state: 'done',
      leaseUntil: null,
      finishedAt: new Date(NOW),
      payload: Buffer.alloc(0),
      chunks: 0,
    });
    expect(decideCompletion(running, 2, { kind: 'failed', error: 'e' }, NOW)).toMatchObject({
      state: 'failed',
      lastError: 'e',
      payload: Buffer.from('p'),
    });
    expect(decideCompletion(running, 2, { kind: 'retry', error: 'e' }, NOW)).toMatchObject({
      state: 'pending',
      lastError: 'e',
      leaseUntil: null,
      finishedAt: null,
    });
  });
});

describe('payload packing', () => {
  it('gzips compressible payloads, keeps incompressible ones as they are, and chunks large ones', () => {
    const text = Buffer.from('a'.repeat(10_000));
    const packed = packPayload(text);
    expect(packed).toMatchObject({ encoding: 'gzip', chunks: [], payloadBytes: 10_000 });
    expect(unpackPayload(packed, [])).toEqual(text);
    const random = randomBytes(5000);
    const chunked = packPayload(random, undefined, 1000);
    expect(chunked.encoding).toBe('identity');
    expect(chunked.chunks.length).toBe(5);
    expect(chunked.payload.length).toBe(0);
    expect(unpackPayload(chunked, chunked.chunks)).toEqual(random);
    expect(() => unpackPayload(chunked, chunked.chunks.slice(1))).toThrow(/bytes, expected|decompress/);
  });

  it('compresses at the level given: 1 is larger than 9, none (0) stores the bytes as they are', () => {
    const text = Buffer.from(
      JSON.stringify(Array.from({ length: 5000 }, (_, i) => ({ id: i, name: `user-${i * 7919}` }))),
    );
    const fast = packPayload(text, 1);
    const small = packPayload(text, 9);
    expect(fast.encoding).toBe('gzip');
    expect(fast.payload.length).toBeGreaterThan(small.payload.length);
    expect(unpackPayload(fast, [])).toEqual(text);
    expect(unpackPayload(small, [])).toEqual(text);
    const none = packPayload(text, 0);
    expect(none).toMatchObject({ encoding: 'identity', payloadBytes: text.length });
    expect(none.payload).toEqual(text);
  });

  it(`stores payloads under GZIP_MIN_BYTES (${GZIP_MIN_BYTES}) as they are at every level, and gzips from there`, async () => {
    const record = (n: number) => JSON.stringify({ id: n, name: `user-${n}`, email: `user-${n}@example.com` });
    let text = '';
    for (let i = 0; text.length < GZIP_MIN_BYTES; i++) text += record(i);
    const at = Buffer.from(text.slice(0, GZIP_MIN_BYTES));
    const below = at.subarray(0, GZIP_MIN_BYTES - 1);
    for (const level of [1, 3, 9] as const) {
      expect(packPayload(below, level)).toEqual({
        payload: below,
        chunks: [],
        encoding: 'identity',
        payloadBytes: below.length,
      });
      expect(await packPayloadAsync(below, level)).toEqual(packPayload(below, level));
      const packed = packPayload(at, level);
      expect(packed.encoding).toBe('gzip');
      expect(packed.payload.length).toBeLessThan(at.length);
      expect(unpackPayload(packed, [])).toEqual(at);
    }
    // Small but chunked (a test-sized chunk limit): still stored as it is.
    const chunked = packPayload(below, 3, 1000);
    expect(chunked).toMatchObject({ encoding: 'identity', payloadBytes: below.length });
    expect(unpackPayload(chunked, chunked.chunks)).toEqual(below);
  });

  it('compresses with Brotli or zstd when asked, stores their encoding, and reads each back', async () => {
    const text = Buffer.from(
      JSON.stringify(Array.from({ length: 1000 }, (_, i) => ({ id: i, name: `user-${i * 7919}` }))),
    );
    const codecs = [{ codec: 'br', level: 1 } as const, ...(hasZstd() ? [{ codec: 'zstd', level: 1 } as const] : [])];
    for (const compression of codecs) {
      const packed = packPayload(text, compression);
      expect(packed).toMatchObject({ encoding: compression.codec, chunks: [], payloadBytes: text.length });
      expect(packed.payload.length).toBeLessThan(text.length / 4);
      expect(unpackPayload(packed, []).equals(text)).toBe(true); // Buffer.equals: toEqual walks bytes one by one
      expect(await packPayloadAsync(text, compression)).toEqual(packed);
      // chunked the same way as gzip
      const chunked = packPayload(text, compression, 500);
      expect(chunked.chunks.length).toBe(Math.ceil(packed.payload.length / 500));
      expect(chunked.chunks.length).toBeGreaterThan(1);
      expect(unpackPayload(chunked, chunked.chunks).equals(text)).toBe(true);
      // under GZIP_MIN_BYTES: stored as it is, whatever the codec
      expect(packPayload(text.subarray(0, GZIP_MIN_BYTES - 1), compression).encoding).toBe('identity');
      const corrupt = { ...packed, payload: Buffer.from(packed.payload).fill(7, 10, 40) };
      expect(() => unpackPayload(corrupt, [])).toThrow(BadStoredPayloadError);
    }
    // Stored with a coding this release does not know: a clear error.
    expect(() => unpackPayload({ payload: text, encoding: 'lz4', payloadBytes: text.length }, [])).toThrow(
      /stored payload has unknown encoding "lz4"/,
    );
  });

  it.runIf(!hasZstd())('says what to do with a zstd payload on a Node.js without zstd', () => {
    expect(() => unpackPayload({ payload: Buffer.from('x'), encoding: 'zstd', payloadBytes: 1 }, [])).toThrow(
      /stored payload is zstd-compressed, which this Node.js \(v[\d.]+\) cannot decompress: run the workers on Node.js 22.15 or later/,
    );
  });

  it('packs the same off the event loop (packPayloadAsync): gzip, identity, chunks', async () => {
    const text = Buffer.from(JSON.stringify(Array.from({ length: 2000 }, (_, i) => ({ id: i, name: `n${i}` }))));
    expect(await packPayloadAsync(text)).toEqual(packPayload(text));
    const random = randomBytes(5000);
    const chunked = await packPayloadAsync(random, undefined, 1000);
    expect(chunked).toEqual(packPayload(random, undefined, 1000));
    expect(unpackPayload(chunked, chunked.chunks)).toEqual(random);
  });
});

describe('CreateTask requests', () => {
  it('build an HTTP target request whose stored JSON form keeps the body as base64', () => {
    const request = buildCreateTaskRequest(
      {
        kind: 'http',
        handlerUrl: 'https://w.example.com/_deferred',
        oidc: { serviceAccountEmail: 'sa@x', audience: 'aud' },
      },
      {
        parent: 'projects/p/locations/l/queues/q',
        taskId: 'id1',
        task: 'send',
        body: Buffer.from('{"v":1}'),
        signature: 'v1=abc',
        headers: { 'X-A': '1' },
        scheduleMs: NOW + 1500,
        dispatchDeadlineMs: 60_000,
      },
    );
    const stored = JSON.parse(storedRequest(request));
    expect(stored).toEqual({
      parent: 'projects/p/locations/l/queues/q',
      task: {
        name: 'projects/p/locations/l/queues/q/tasks/id1',
        scheduleTime: { seconds: (NOW + 1500 - 500) / 1000, nanos: 500_000_000 },
        dispatchDeadline: { seconds: 60, nanos: 0 },
        httpRequest: {
          url: 'https://w.example.com/_deferred/tasks/send',
          httpMethod: 'POST',
          headers: { 'X-A': '1', 'Content-Type': 'application/json', 'x-deferred-signature': 'v1=abc' },
          body: Buffer.from('{"v":1}').toString('base64'),
          oidcToken: { serviceAccountEmail: 'sa@x', audience: 'aud' },
        },
      },
    });
    const hop = retargetRequest(stored, 'id1-h1', NOW + 5000);
    expect(hop.task!.name).toBe('projects/p/locations/l/queues/q/tasks/id1-h1');
    expect(hop.task!.scheduleTime).toEqual({ seconds: (NOW + 5000) / 1000, nanos: 0 });
  });
  it('builds App Engine target requests', () => {
    const request = buildCreateTaskRequest(
      { kind: 'appengine', basePath: '/_deferred', routing: { service: 'worker' } },
      {
        parent: 'q',
        taskId: null,
        task: 'send',
        body: Buffer.from('{}'),
        signature: 's',
        headers: {},
        scheduleMs: NOW,
        dispatchDeadlineMs: null,
      },
    );
    expect(request.task!.name).toBeUndefined();
    expect(request.task!.appEngineHttpRequest).toMatchObject({
      relativeUri: '/_deferred/tasks/send',
      appEngineRouting: { service: 'worker' },
    });
  });

  it('store the same JSON as a replacer over the whole request would, for both targets and for a stored one', () => {
    // The JSON earlier versions wrote: every Buffer `body` (in its toJSON form) replaced by its base64.
    const reference = (request: unknown) =>
      JSON.stringify(request, (key, value: unknown) =>
        key === 'body' && (value as { type?: string } | null)?.type === 'Buffer'
          ? Buffer.from((value as { data: number[] }).data).toString('base64')
          : value,
      );
    const spec = {
      parent: 'projects/p/locations/l/queues/q',
      taskId: 'id1',
      task: 'send',
      body: Buffer.from('{"v":1,"task":"send","args":["\u00e9"]}'),
      signature: 'v2=abc',
      headers: { 'X-A': '1' },
      traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
      scheduleMs: NOW + 1500,
      dispatchDeadlineMs: 60_000,
    };
    const http = buildCreateTaskRequest(
      { kind: 'http', handlerUrl: 'https://w.example.com/_deferred', oidc: null },
      spec,
    );
    const appEngine = buildCreateTaskRequest({ kind: 'appengine', basePath: '/_deferred', routing: null }, spec);
    for (const request of [http, appEngine]) {
      const stored = storedRequest(request);
      expect(stored).toBe(reference(request));
      expect(storedRequest(JSON.parse(stored))).toBe(stored); // a stored request (body already base64) as it is
      const body = request.task?.httpRequest?.body ?? request.task?.appEngineHttpRequest?.body;
      expect(Buffer.isBuffer(body) && body.equals(spec.body)).toBe(true); // the request itself is left as it was
    }
    expect(JSON.parse(storedRequest(http)).task.httpRequest.body).toBe(spec.body.toString('base64'));
    expect(JSON.parse(storedRequest(appEngine)).task.appEngineHttpRequest.body).toBe(spec.body.toString('base64'));
  });
});

describe('delivery headers', () => {
  it('reads HTTP target and App Engine headers', () => {
    expect(
      readDeliveryHeaders({
        'x-cloudtasks-queuename': 'q',
        'x-cloudtasks-taskname': 't',
        'x-cloudtasks-taskretrycount': '2',
        'x-cloudtasks-taskexecutioncount': '1',
        'x-cloudtasks-tasketa': '1800000000.123456',
        'x-cloudtasks-taskpreviousresponse': '500',
        'x-cloudtasks-taskretryreason': '',
      }),
    ).toEqual({
      queue: 'q',
      taskId: 't',
      retryCount: 2,
      executionCount: 1,
      etaMs: 1_800_000_000_123,
      previousResponse: 500,
      retryReason: null,
      source: 'cloudtasks',
    });
    expect(
      readDeliveryHeaders({ 'x-appengine-queuename': 'q', 'x-appengine-taskretryreason': 'App Error' }),
    ).toMatchObject({ queue: 'q', retryCount: 0, retryReason: 'App Error', source: 'appengine' });
    expect(readDeliveryHeaders({}).source).toBe('none');
  });
});

describe('task entity properties', () => {
  const datastore = new Datastore({ projectId: 'p', apiEndpoint: '127.0.0.1:9' });
  const key = datastore.key(['_DeferredTask', 'e1']);
  const task = {
    key,
    task: 'send',
    queue: 'q',
    cloudTaskName: 'projects/p/locations/l/queues/q/tasks/t1',
    cloudTaskRequest: '{}',
    transactional: false,
    etaMs: NOW + 1000,
    retentionMs: DEFAULT_RETENTION_MS,
  };
  const settings = { nowMs: NOW, shards: 16, expireAfterMs: 86_400_000 };
  const plain = (data: unknown) =>
    (data as { name: string; value: unknown; excludeFromIndexes: boolean }[]).map((p) => ({ ...p }));

  it('writes a pending entity with its fields but the null lease, error and end, only the sweeper index indexed', () => {
    const packed = packPayload(Buffer.from('{"v":1}'));
    const [entity, ...chunks] = pendingTaskMutations(datastore, task, settings, packed);
    expect(chunks).toEqual([]);
    expect(entity!.key).toBe(key);
    const shard = shardOf('e1', 16);
    expect(plain(entity!.data)).toEqual([
      { name: 'state', value: 'pending', excludeFromIndexes: false },
      { name: 'task', value: 'send', excludeFromIndexes: true },
      { name: 'queue', value: 'q', excludeFromIndexes: true },
      { name: 'cloudTaskName', value: task.cloudTaskName, excludeFromIndexes: true },
      { name: 'cloudTaskRequest', value: '{}', excludeFromIndexes: true },
      { name: 'transactional', value: false, excludeFromIndexes: true },
      { name: 'created', value: new Date(NOW), excludeFromIndexes: true },
      { name: 'eta', value: new Date(NOW + 1000), excludeFromIndexes: true },
      { name: 'attempts', value: 0, excludeFromIndexes: true },
      { name: 'retentionMs', value: DEFAULT_RETENTION_MS, excludeFromIndexes: true },
      { name: 'shard', value: shard, excludeFromIndexes: true },
      { name: 'ageKey', value: ageKey(shard, NOW), excludeFromIndexes: false },
      { name: 'expireAt', value: new Date(NOW + 1000 + 86_400_000), excludeFromIndexes: false },
      { name: 'payload', value: Buffer.from('{"v":1}'), excludeFromIndexes: true },
      { name: 'chunks', value: 0, excludeFromIndexes: true },
      { name: 'encoding', value: 'identity', excludeFromIndexes: true },
      { name: 'payloadBytes', value: 7, excludeFromIndexes: true },
    ]);
  });

  it('reads a new pending entity and one as earlier versions wrote it (lease, error and end as null) the same', () => {
    const packed = packPayload(Buffer.from('{"v":1}'));
    const [entity] = pendingTaskMutations(datastore, task, settings, packed);
    const now = plain(entity!.data);
    const before = [
      ...now.slice(0, 9),
      { name: 'leaseUntil', value: null, excludeFromIndexes: true },
      { name: 'lastError', value: null, excludeFromIndexes: true },
      { name: 'finishedAt', value: null, excludeFromIndexes: true },
      ...now.slice(9),
    ];
    // As the Datastore client returns them: the properties by name, the key under its symbol.
    const asRead = (properties: typeof now) =>
      Object.assign(Object.fromEntries(properties.map((p) => [p.name, p.value])), { [datastore.KEY]: key });
    const stored = fromEntity(datastore, asRead(now));
    expect(stored).toEqual(fromEntity(datastore, asRead(before)));
    expect(stored).toMatchObject({
      state: 'pending',
      attempts: 0,
      leaseUntil: null,
      lastError: null,
      finishedAt: null,
    });
    expect(snapshotOf(asRead(now))).toEqual(snapshotOf(asRead(before)));
    expect(snapshotOf(asRead(now))).toMatchObject({ leaseUntilMs: null, finishedAtMs: null, state: 'pending' });
  });

  it('writes chunks under the task entity, and the failure index on a failed record', () => {
    const packed = packPayload(randomBytes(2500), 0, 1000);
    const [entity, ...chunks] = failedTaskMutations(
      datastore,
      task,
      { attempts: 3, lastError: 'boom' },
      settings,
      packed,
    );
    expect(chunks.map((c) => [c.key.parent?.name, c.key.kind, c.key.id])).toEqual(
      [1, 2, 3].map((id) => ['e1', CHUNK_KIND, String(id)]),
    );
    chunks.forEach((chunk, i) =>
      expect(plain(chunk.data)).toEqual([
        { name: 'data', value: packed.chunks[i], excludeFromIndexes: true },
        { name: 'expireAt', value: new Date(NOW + 1000 + 86_400_000), excludeFromIndexes: true },
      ]),
    );
    const properties = plain(entity!.data);
    expect(properties.filter((p) => !p.excludeFromIndexes).map((p) => p.name)).toEqual([
      'state',
      'ageKey',
      'expireAt',
      'failedTaskId',
      'failedKey',
    ]);
    expect(properties.find((p) => p.name === 'state')!.value).toBe('failed');
    expect(properties.find((p) => p.name === 'chunks')!.value).toBe(3);
    expect(properties.find((p) => p.name === 'failedTaskId')!.value).toBe('t1');
  });
});
