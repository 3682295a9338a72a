// The Cloud Tasks emulator's REST API on the wire, as curl sees it: the google.api.http paths of every v2 method, the
// proto3 JSON mapping, query parameters, Google JSON errors (golden), and answers equal to the gRPC ones.
import { execFile } from 'node:child_process';
import type { CloudTasksClient } from '@google-cloud/tasks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock, startTasksEmulator, type RunningTasksEmulator } from '../src/tasks-emulator/index.js';
import {
  expectGoldenHttp,
  readmeShellBlock,
  startReceiver,
  type GoogleJsonErrorBody,
  type Receiver,
} from './support/tasks-emulator.js';

const PROJECT = 'projects/rest-project';
const LOCATION = `${PROJECT}/locations/us-west1`;

describe('Cloud Tasks emulator REST (HTTP/1.1 JSON)', () => {
  let emulator: RunningTasksEmulator;
  let clock: ManualClock;
  let receiver: Receiver;
  let grpcClient: CloudTasksClient;
  let restClient: CloudTasksClient;
  let seq = 0;
  const fresh = () => `${LOCATION}/queues/r-${++seq}`;

  /** A REST call as curl makes it: `curl -X METHOD http://host:port/PATH -d BODY`. */
  async function call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
    const response = await fetch(`http://${emulator.endpoint}${path}`, {
      method,
      headers: body === undefined ? headers : { 'Content-Type': 'application/json', ...headers },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    return response;
  }
  async function ok(method: string, path: string, body?: unknown): Promise<Record<string, unknown>> {
    const response = await call(method, path, body);
    const json = (await response.json()) as Record<string, unknown>;
    expect({ status: response.status, json }).toMatchObject({ status: 200 });
    expect(response.headers.get('content-type')).toBe('application/json; charset=UTF-8');
    return json;
  }
  async function fails(method: string, path: string, body?: unknown) {
    const response = await call(method, path, body);
    const json = (await response.json()) as GoogleJsonErrorBody;
    return { http: response.status, ...json.error };
  }

  beforeAll(async () => {
    clock = new ManualClock(Date.UTC(2030, 0, 2, 3, 4, 5, 678));
    receiver = await startReceiver(() => 200);
    emulator = await startTasksEmulator({ clock, tombstoneMs: 60_000 });
    grpcClient = emulator.createClient();
    restClient = emulator.createClient({ transport: 'rest' });
  });
  afterAll(async () => {
    await grpcClient.close();
    await restClient.close();
    await emulator.stop();
    await receiver.close();
  });

  it('serves every queue method of v2 at the path of its google.api.http rule', async () => {
    const name = fresh();
    const created = await ok('POST', `/v2/${LOCATION}/queues`, { name, retryConfig: { maxAttempts: 7 } });
    expect(created).toMatchObject({ name, state: 'RUNNING', retryConfig: { maxAttempts: 7 } });
    expect(await ok('GET', `/v2/${name}`)).toEqual(created);
    const listed = await ok('GET', `/v2/${LOCATION}/queues`);
    expect(listed.queues).toContainEqual(created);
    const patched = await ok('PATCH', `/v2/${name}?updateMask=rateLimits.maxDispatchesPerSecond`, {
      rateLimits: { maxDispatchesPerSecond: 2, maxConcurrentDispatches: 3 },
      retryConfig: { maxAttempts: 1 },
    });
    expect(patched).toMatchObject({
      rateLimits: { maxDispatchesPerSecond: 2, maxConcurrentDispatches: 1000 },
      retryConfig: { maxAttempts: 7 },
    });
    expect(await ok('POST', `/v2/${name}:pause`, {})).toMatchObject({ state: 'PAUSED' });
    expect(await ok('POST', `/v2/${name}:resume`)).toMatchObject({ state: 'RUNNING' }); // no body at all: as curl -X POST
    const purged = await ok('POST', `/v2/${name}:purge`, {});
    expect(purged.purgeTime).toBe('2030-01-02T03:04:05.678Z');
    expect(await ok('DELETE', `/v2/${name}`)).toEqual({});
    expect(await fails('GET', `/v2/${name}`)).toMatchObject({ http: 404, code: 404, status: 'NOT_FOUND' });
  });

  it('serves every task method of v2 at the path of its google.api.http rule', async () => {
    const queue = fresh();
    await ok('POST', `/v2/${LOCATION}/queues`, { name: queue });
    await ok('POST', `/v2/${queue}:pause`, {});
    const name = `${queue}/tasks/t-1`;
    const body = Buffer.from('{"hello":"world"}');
    const created = await ok('POST', `/v2/${queue}/tasks`, {
      task: { name, httpRequest: { url: `${receiver.url}/t`, body: body.toString('base64') } },
      responseView: 'FULL',
    });
    expect(created).toMatchObject({ name, view: 'FULL', httpRequest: { body: body.toString('base64') } });
    expect(await ok('GET', `/v2/${name}`)).not.toHaveProperty('httpRequest.body'); // BASIC view
    expect(await ok('GET', `/v2/${name}?responseView=FULL`)).toMatchObject({
      httpRequest: { body: 'eyJoZWxsbyI6IndvcmxkIn0=' },
    });
    const listed = await ok('GET', `/v2/${queue}/tasks?responseView=FULL`);
    expect(listed.tasks).toEqual([await ok('GET', `/v2/${name}?responseView=FULL`)]);
    const before = receiver.requests.length;
    const ran = await ok('POST', `/v2/${name}:run`, {});
    expect(ran).toMatchObject({ name, dispatchCount: 1 });
    await clock.advance(0);
    expect(receiver.requests.length).toBe(before + 1);
    expect(receiver.requests[before]!.body.equals(body)).toBe(true);
    const other = (await ok('POST', `/v2/${queue}/tasks`, { task: { httpRequest: { url: receiver.url } } })).name;
    expect(await ok('DELETE', `/v2/${String(other)}`)).toEqual({});
    expect(await fails('GET', `/v2/${String(other)}`)).toMatchObject({ http: 404, status: 'NOT_FOUND' });
  });

  it('serves the Locations mixin at the paths the client libraries declare', async () => {
    const queue = fresh();
    await ok('POST', `/v2/${LOCATION}/queues`, { name: queue });
    expect(await ok('GET', `/v2/${LOCATION}`)).toMatchObject({ name: LOCATION, locationId: 'us-west1' });
    const listed = await ok('GET', `/v2/${PROJECT}/locations`);
    expect(listed.locations).toEqual([await ok('GET', `/v2/${LOCATION}`)]);
    const viaClient = [];
    for await (const location of restClient.listLocationsAsync({ name: PROJECT }, { autoPaginate: false }))
      viaClient.push(location);
    expect(viaClient).toMatchObject([{ name: LOCATION, locationId: 'us-west1' }]);
    // google-gax types getLocation as resolving to the location itself; it resolves to [location, ...] like every call.
    const [got] = (await restClient.getLocation({ name: LOCATION })) as unknown as [unknown];
    expect(got).toMatchObject({ name: LOCATION, locationId: 'us-west1' });
  });

  it('writes proto3 JSON: durations as "10s", RFC 3339 timestamps, base64 bytes, no fields at their defaults', async () => {
    const queue = fresh();
    const created = await ok('POST', `/v2/${LOCATION}/queues`, {
      name: queue,
      retryConfig: { minBackoff: '0.250s', maxBackoff: '10s', maxRetryDuration: '3600s' },
    });
    expect(created.retryConfig).toEqual({
      maxAttempts: 100,
      minBackoff: '0.250s',
      maxBackoff: '10s',
      maxRetryDuration: '3600s',
      maxDoublings: 16,
    });
    await ok('POST', `/v2/${queue}:pause`, {});
    const task = await ok('POST', `/v2/${queue}/tasks`, {
      task: {
        httpRequest: { url: receiver.url, body: Buffer.from([0, 255, 1]).toString('base64') },
        scheduleTime: '2030-01-02T04:00:00.123456Z',
        dispatchDeadline: '15.500s',
      },
      responseView: 'FULL',
    });
    expect(task).toEqual({
      name: expect.stringMatching(new RegExp(`^${queue}/tasks/\\d{19}$`)),
      httpRequest: {
        url: receiver.url,
        httpMethod: 'POST',
        headers: { 'User-Agent': 'Google-Cloud-Tasks' },
        body: 'AP8B',
      },
      scheduleTime: '2030-01-02T04:00:00.123456Z',
      createTime: '2030-01-02T03:04:05.678Z',
      dispatchDeadline: '15.500s',
      view: 'FULL',
    });
  });

  it('reads snake_case field names and query parameters too, and numeric enums when asked ($alt=json;enum-encoding=int)', async () => {
    const queue = fresh();
    const created = await ok('POST', `/v2/${LOCATION}/queues`, {
      name: queue,
      rate_limits: { max_dispatches_per_second: 4 },
    });
    expect(created.rateLimits).toMatchObject({ maxDispatchesPerSecond: 4, maxBurstSize: 4 });
    await ok('POST', `/v2/${queue}:pause`, {});
    const task = await ok('POST', `/v2/${queue}/tasks`, {
      task: { http_request: { url: receiver.url, http_method: 'PUT' } },
      response_view: 'FULL',
    });
    expect(task).toMatchObject({ view: 'FULL', httpRequest: { httpMethod: 'PUT' } });
    expect(await ok('GET', `/v2/${String(task.name)}?response_view=FULL&$alt=json;enum-encoding=int`)).toMatchObject({
      view: 2,
      httpRequest: { httpMethod: 4 },
    });
    expect(await ok('GET', `/v2/${String(task.name)}?responseView=2`)).toMatchObject({ view: 'FULL' });
    expect(await ok('GET', `/v2/${queue}?$alt=json;enum-encoding=int`)).toMatchObject({ state: 2 });
  });

  it('pages with pageSize and pageToken query parameters, and filters ListQueues with filter', async () => {
    const location = `${PROJECT}/locations/asia-south1`;
    const names = Array.from({ length: 5 }, (_, i) => `${location}/queues/p-${i}`);
    for (const name of names) await ok('POST', `/v2/${location}/queues`, { name });
    await ok('POST', `/v2/${names[2]}:pause`, {});
    const seen: string[] = [];
    let token = '';
    do {
      const page = await ok(
        'GET',
        `/v2/${location}/queues?pageSize=2${token ? `&pageToken=${encodeURIComponent(token)}` : ''}`,
      );
      seen.push(...(page.queues as Array<{ name: string }>).map((q) => q.name));
      token = (page.nextPageToken as string | undefined) ?? '';
    } while (token);
    expect(seen).toEqual(names);
    const paused = await ok('GET', `/v2/${location}/queues?filter=${encodeURIComponent('state: PAUSED')}`);
    expect((paused.queues as Array<{ name: string }>).map((q) => q.name)).toEqual([names[2]]);
    expect(await fails('GET', `/v2/${location}/queues?pageSize=many`)).toMatchObject({
      http: 400,
      status: 'INVALID_ARGUMENT',
      message: `Invalid value at 'page_size' (TYPE_INT32), "many"`,
    });
    expect(await fails('GET', `/v2/${location}/queues?pageToken=garbage`)).toMatchObject({ http: 400 });
  });

  it('answers the golden errors of the real service as Google JSON errors', async () => {
    const queue = fresh();
    await ok('POST', `/v2/${LOCATION}/queues`, { name: queue });
    await ok('POST', `/v2/${queue}:pause`, {});
    await expectGoldenHttp(
      await call('POST', `/v2/${LOCATION}/queues`, { name: queue }),
      'queue/create/already-exists',
    );
    await expectGoldenHttp(
      await call('POST', `/v2/${LOCATION}/queues`, { name: `${LOCATION}/queues/not_valid` }),
      'queue/create/invalid-name',
    );
    const missing = `${LOCATION}/queues/never-created`;
    await expectGoldenHttp(await call('GET', `/v2/${missing}`), 'queue/get/not-found');
    await expectGoldenHttp(await call('DELETE', `/v2/${missing}`), 'queue/delete/not-found');
    await expectGoldenHttp(await call('POST', `/v2/${missing}:pause`, {}), 'queue/pause/not-found');
    await expectGoldenHttp(await call('POST', `/v2/${missing}:resume`, {}), 'queue/resume/not-found');
    await expectGoldenHttp(await call('POST', `/v2/${missing}:purge`, {}), 'queue/purge/not-found');
    await expectGoldenHttp(
      await call('POST', `/v2/${queue}/tasks`, {
        task: { name: `${queue}/tasks/not a valid id`, httpRequest: { url: receiver.url } },
      }),
      'task/create/invalid-name',
    );
    await expectGoldenHttp(
      await call('POST', `/v2/${queue}/tasks`, {
        task: { name: `${queue}-other/tasks/t`, httpRequest: { url: receiver.url } },
      }),
      'task/create/queue-mismatch',
      { queue_path: queue },
    );
    await expectGoldenHttp(
      await call('POST', `/v2/${missing}/tasks`, { task: { httpRequest: { url: receiver.url } } }),
      'task/create/queue-not-found',
    );
    const name = `${queue}/tasks/dup`;
    await ok('POST', `/v2/${queue}/tasks`, { task: { name, httpRequest: { url: receiver.url } } });
    await expectGoldenHttp(
      await call('POST', `/v2/${queue}/tasks`, { task: { name, httpRequest: { url: receiver.url } } }),
      'task/create/already-exists',
    );
    await ok('DELETE', `/v2/${name}`);
    await expectGoldenHttp(await call('GET', `/v2/${name}`), 'task/get/recently-deleted');
    await expectGoldenHttp(await call('GET', `/v2/${queue}/tasks/never`), 'task/get/not-found');
    await expectGoldenHttp(await call('DELETE', `/v2/${queue}/tasks/never`), 'task/delete/not-found');
    await expectGoldenHttp(await call('POST', `/v2/${queue}/tasks/never:run`, {}), 'task/run/not-found');
    await ok('DELETE', `/v2/${queue}`);
    await expectGoldenHttp(
      await call('POST', `/v2/${LOCATION}/queues`, { name: queue }),
      'queue/create/recently-deleted',
    );
    await expectGoldenHttp(await call('GET', `/v2/${queue}`), 'queue/get/recently-deleted');
    await expectGoldenHttp(
      await call('POST', `/v2/${queue}/tasks`, { task: { httpRequest: { url: receiver.url } } }),
      'task/create/queue-recently-deleted',
    );
  });

  it('refuses malformed requests with 400 and says what was wrong; unknown paths are 404', async () => {
    expect(
      await fails('POST', `/v2/${LOCATION}/queues`, { name: fresh(), retryConfig: { maxAttempts: 1, tries: 2 } }),
    ).toEqual({
      http: 400,
      code: 400,
      status: 'INVALID_ARGUMENT',
      message: `Invalid JSON payload received. Unknown name "tries" at 'queue.retry_config': Cannot find field.`,
    });
    expect(await fails('POST', `/v2/${LOCATION}/queues`, '{"name": ')).toMatchObject({
      http: 400,
      message: expect.stringMatching(/^Invalid JSON payload received\. /),
    });
    // Values the proto3 JSON mapping does not read as their field's type are refused, naming the field; nothing is
    // stored in their place (a bad number is not read as the default, an unknown enum name not as the first value).
    const invalid = async (body: unknown, message: string, path = `/v2/${LOCATION}/queues`) =>
      expect(await fails('POST', path, body)).toEqual({ http: 400, code: 400, status: 'INVALID_ARGUMENT', message });
    await invalid(
      { name: fresh(), retryConfig: { minBackoff: 5 } },
      "Invalid value at 'queue.retry_config.min_backoff' (type.googleapis.com/google.protobuf.Duration), 5",
    );
    await invalid(
      { name: fresh(), retryConfig: { minBackoff: 'ten' } },
      `Invalid value at 'queue.retry_config.min_backoff' (type.googleapis.com/google.protobuf.Duration), "ten"`,
    );
    await invalid(
      { name: fresh(), retryConfig: { maxAttempts: 'abc' } },
      `Invalid value at 'queue.retry_config.max_attempts' (TYPE_INT32), "abc"`,
    );
    await invalid(
      { name: fresh(), retryConfig: { maxAttempts: 2.5 } },
      "Invalid value at 'queue.retry_config.max_attempts' (TYPE_INT32), 2.5",
    );
    await invalid(
      { name: fresh(), rateLimits: { maxDispatchesPerSecond: 'fast' } },
      `Invalid value at 'queue.rate_limits.max_dispatches_per_second' (TYPE_DOUBLE), "fast"`,
    );
    const queue = fresh();
    await ok('POST', `/v2/${LOCATION}/queues`, { name: queue, retryConfig: { maxAttempts: 5 } });
    const tasks = `/v2/${queue}/tasks`;
    const http = (fields: Record<string, unknown>) => ({ task: { httpRequest: { url: receiver.url, ...fields } } });
    await invalid(
      http({ httpMethod: 'get' }),
      `Invalid value at 'task.http_request.http_method' (type.googleapis.com/google.cloud.tasks.v2.HttpMethod), "get"`,
      tasks,
    );
    await invalid(
      http({ headers: { 'X-Count': 1 } }),
      "Invalid value at 'task.http_request.headers[X-Count]' (TYPE_STRING), 1",
      tasks,
    );
    await invalid(
      http({ body: 'hello!' }),
      `Invalid value at 'task.http_request.body' (TYPE_BYTES), Base64 decoding failed for "hello!"`,
      tasks,
    );
    await invalid(
      http({
        oidcToken: { serviceAccountEmail: 'a@p.iam.gserviceaccount.com' },
        oauthToken: { serviceAccountEmail: 'b@p' },
      }),
      "Invalid value at 'task.http_request' (oneof), oneof field 'authorization_header' is already set. Cannot set 'oauthToken'",
      tasks,
    );
    await invalid(
      { task: { httpRequest: { url: receiver.url }, scheduleTime: 'tomorrow' } },
      `Invalid value at 'task.schedule_time' (type.googleapis.com/google.protobuf.Timestamp), "tomorrow"`,
      tasks,
    );
    await invalid(
      { ...http({}), responseView: 'NOPE' },
      `Invalid value at 'response_view' (type.googleapis.com/google.cloud.tasks.v2.Task.View), "NOPE"`,
      tasks,
    );
    expect(await fails('GET', `${tasks}?responseView=BOGUS`)).toMatchObject({
      http: 400,
      message: `Invalid value at 'response_view' (type.googleapis.com/google.cloud.tasks.v2.Task.View), "BOGUS"`,
    });
    expect(await fails('GET', `${tasks}?responseView=full`)).toMatchObject({ http: 400 });
    expect(await fails('POST', `${tasks}?foo=bar`, http({}))).toMatchObject({
      http: 400,
      message: expect.stringContaining('Unknown name "foo": Cannot bind query parameter.'),
    });
    // What the proto3 JSON mapping does read: enum names and numbers, int64 strings, base64 (also URL-safe).
    await ok('POST', tasks, {
      ...http({ httpMethod: 'PUT', body: Buffer.from('hi?>').toString('base64url') }),
      responseView: 2,
    });
    await ok('GET', `${tasks}?responseView=FULL`);
    await ok('PATCH', `/v2/${queue}?updateMask=retryConfig.maxAttempts`, { retryConfig: { maxAttempts: '7' } });
    expect(await ok('GET', `/v2/${queue}`)).toMatchObject({ retryConfig: { maxAttempts: 7 } });
    expect(await fails('GET', `/v2/${LOCATION}/queues?colour=blue`)).toMatchObject({
      http: 400,
      message: expect.stringContaining('Unknown name "colour": Cannot bind query parameter.'),
    });
    expect(await fails('GET', '/v3/anything')).toMatchObject({
      http: 404,
      status: 'NOT_FOUND',
      message: expect.stringContaining('/v3/anything'),
    });
    expect(await fails('PUT', `/v2/${LOCATION}/queues`)).toMatchObject({
      http: 404,
      message: expect.stringContaining(
        `No Cloud Tasks method at PUT /v2/${LOCATION}/queues (this path takes GET or POST)`,
      ),
    });
    expect(await fails('POST', `/v2/${LOCATION}/queues/q:getIamPolicy`, {})).toMatchObject({
      http: 501,
      code: 501,
      status: 'UNIMPLEMENTED',
      message: expect.stringContaining('no IAM'),
    });
  });

  it('honours X-HTTP-Method-Override and $prettyPrint=0', async () => {
    const name = fresh();
    await ok('POST', `/v2/${LOCATION}/queues`, { name });
    const response = await call('POST', `/v2/${name}?$prettyPrint=0`, undefined, { 'X-HTTP-Method-Override': 'GET' });
    expect(response.status).toBe(200);
    const text = await response.text();
    expect(text).toBe(`${JSON.stringify(await ok('GET', `/v2/${name}`))}\n`);
  });

  it('serves v2beta3 at its paths: batches as operations with typed Any fields, stats with int64 strings', async () => {
    const queue = `${LOCATION}/queues/beta-wire`;
    await ok('POST', `/v2beta3/${LOCATION}/queues`, { name: queue });
    await ok('POST', `/v2beta3/${queue}:pause`, {});
    const operation = await ok('POST', `/v2beta3/${queue}/tasks:batchCreate`, {
      requests: [{ task: { name: `${queue}/tasks/w1`, httpRequest: { url: receiver.url } } }],
    });
    expect(operation).toMatchObject({
      name: expect.stringMatching(new RegExp(`^${LOCATION}/operations/`)),
      done: true,
      metadata: {
        '@type': 'type.googleapis.com/google.cloud.tasks.v2beta3.BatchCreateTasksMetadata',
        state: 'SUCCEEDED',
        startTime: '2030-01-02T03:04:05.678Z',
      },
      response: {
        '@type': 'type.googleapis.com/google.cloud.tasks.v2beta3.BatchCreateTasksResponse',
        tasks: [{ name: `${queue}/tasks/w1` }],
      },
    });
    expect(await ok('GET', `/v2beta3/${String(operation.name)}`)).toEqual(operation);
    const masked = await ok('GET', `/v2beta3/${queue}?readMask=name,stats`);
    expect(masked).toEqual({
      name: queue,
      stats: { tasksCount: '1', oldestEstimatedArrivalTime: '2030-01-02T03:04:05.678Z' },
    });
    const deleted = await ok('POST', `/v2beta3/${queue}/tasks:batchDelete`, { names: [`${queue}/tasks/w1`] });
    expect(deleted).toMatchObject({ done: true, response: { '@type': 'type.googleapis.com/google.protobuf.Empty' } });
  });

  it('BufferTask (REST only) makes an HTTP task of the request body, routed by the queue HTTP target', async () => {
    const queue = `${LOCATION}/queues/buffered`;
    const target = new URL(receiver.url);
    await ok('POST', `/v2beta3/${LOCATION}/queues`, {
      name: queue,
      httpTarget: {
        uriOverride: { scheme: 'HTTP', host: target.hostname, port: target.port, pathOverride: { path: '/buffered' } },
        headerOverrides: [{ header: { key: 'X-From', value: 'queue' } }],
      },
    });
    await ok('POST', `/v2beta3/${queue}:pause`, {});
    const raw = await fetch(`http://${emulator.endpoint}/v2beta3/${queue}/tasks/raw-1:buffer`, {
      method: 'POST',
      headers: { 'Content-Type': 'text/plain' },
      body: 'hello buffer',
    });
    expect(raw.status).toBe(200);
    expect(await raw.json()).toEqual({
      task: {
        name: `${queue}/tasks/raw-1`,
        httpRequest: {
          url: `${receiver.url}/buffered`,
          httpMethod: 'POST',
          headers: { 'Content-Type': 'text/plain', 'User-Agent': 'Google-Cloud-Tasks' },
        },
        scheduleTime: '2030-01-02T03:04:05.678Z',
        createTime: '2030-01-02T03:04:05.678Z',
        dispatchDeadline: '600s',
        view: 'BASIC',
      },
    });
    // The JSON form of BufferTaskRequest, as discovery-based clients send it; a generated id; v2's path.
    const json = await ok('POST', `/v2/${queue}/tasks:buffer`, {
      body: { contentType: 'application/json', data: Buffer.from('{"n":2}').toString('base64') },
    });
    expect((json.task as { name: string }).name).toMatch(new RegExp(`^${queue}/tasks/\\d{19}$`));
    // gcloud tasks buffer without --task-id sends an empty id: .../tasks/:buffer
    const empty = await ok('POST', `/v2/${queue}/tasks/:buffer`);
    expect((empty.task as { name: string }).name).toMatch(new RegExp(`^${queue}/tasks/\\d{19}$`));
    await ok('POST', `/v2beta3/${queue}:resume`, {});
    await clock.advance(0);
    const delivered = receiver.requests.filter((r) => r.path === '/buffered');
    expect(delivered.map((r) => [r.headers['content-type'], r.headers['x-from'], r.body.toString()]).sort()).toEqual([
      [undefined, 'queue', ''],
      ['application/json', 'queue', '{"n":2}'],
      ['text/plain', 'queue', 'hello buffer'],
    ]);
    await expectGoldenHttp(
      await call('POST', `/v2beta3/${queue}/tasks/not%20a%20valid%20id:buffer`, { body: {} }),
      'task/create/invalid-name',
    );
    await expectGoldenHttp(
      await call('POST', `/v2beta3/${LOCATION}/queues/no-queue/tasks:buffer`),
      'task/create/queue-not-found',
    );
    const plain = `${LOCATION}/queues/unrouted`;
    await ok('POST', `/v2beta3/${LOCATION}/queues`, { name: plain });
    expect(await fails('POST', `/v2beta3/${plain}/tasks:buffer`)).toMatchObject({
      http: 400,
      status: 'FAILED_PRECONDITION',
      message: expect.stringContaining('http_target'),
    });
  });

  it("runs the README's curl commands as written", async () => {
    const sh = (script: string) =>
      new Promise<string>((resolve, reject) =>
        execFile(
          'bash',
          ['-euo', 'pipefail', '-c', `curl() { command curl -sS --fail-with-body "$@"; echo; }\n${script}`],
          (error, stdout, stderr) =>
            error ? reject(new Error(`${error.message}\n${stdout}\n${stderr}`)) : resolve(stdout),
        ),
      );
    const queue = 'projects/my-app/locations/us-central1/queues/mail';
    const answers = (await sh(readmeShellBlock('# curl:', emulator.endpoint))).trim().split(/\n(?=\{)/);
    expect(answers.map((text) => JSON.parse(text) as unknown)).toEqual([await ok('GET', `/v2/${queue}`), {}]);
    // The BufferTask block gives the queue its HTTP target first (here: the test's receiver in place of :8080).
    const target = new URL(receiver.url);
    const block = readmeShellBlock('# BufferTask:', emulator.endpoint).replace(
      '"host": "127.0.0.1", "port": "8080"',
      `"host": "${target.hostname}", "port": "${target.port}"`,
    );
    const [updated, bufferedText] = (await sh(block)).trim().split(/\n(?=\{)/);
    expect(JSON.parse(updated!)).toMatchObject({ name: queue, httpTarget: { uriOverride: { host: target.hostname } } });
    const buffered = JSON.parse(bufferedText!) as { task: { name: string } };
    await clock.advance(0);
    const delivered = receiver.requests.find(
      (r) => r.headers['x-cloudtasks-taskname'] === buffered.task.name.split('/').pop(),
    );
    expect(delivered).toMatchObject({ method: 'POST', headers: { 'content-type': 'application/json' } });
    expect(JSON.parse(delivered!.body.toString())).toEqual({ order: 42 });
  });

  it('answers REST requests exactly as gRPC answers them for the same state', async () => {
    const queue = fresh();
    await grpcClient.createQueue({
      parent: LOCATION,
      queue: { name: queue, rateLimits: { maxDispatchesPerSecond: 3 }, retryConfig: { minBackoff: { seconds: 1 } } },
    });
    await grpcClient.pauseQueue({ name: queue });
    for (const id of ['a', 'b']) {
      await grpcClient.createTask({
        parent: queue,
        task: {
          name: `${queue}/tasks/${id}`,
          httpRequest: { url: `${receiver.url}/${id}`, headers: { 'X-Id': id }, body: Buffer.from(id) },
          scheduleTime: { seconds: Math.floor(clock.now() / 1000) + 60, nanos: 5000 },
        },
      });
    }
    const pairs: Array<[string, () => Promise<unknown>, () => Promise<unknown>]> = [
      ['GetQueue', () => grpcClient.getQueue({ name: queue }), () => restClient.getQueue({ name: queue })],
      [
        'ListQueues',
        () => grpcClient.listQueues({ parent: LOCATION }),
        () => restClient.listQueues({ parent: LOCATION }),
      ],
      [
        'GetTask',
        () => grpcClient.getTask({ name: `${queue}/tasks/a`, responseView: 'FULL' }),
        () => restClient.getTask({ name: `${queue}/tasks/a`, responseView: 'FULL' }),
      ],
      [
        'ListTasks',
        () => grpcClient.listTasks({ parent: queue, responseView: 'FULL' }),
        () => restClient.listTasks({ parent: queue, responseView: 'FULL' }),
      ],
      [
        'GetLocation',
        () => grpcClient.getLocation({ name: LOCATION }),
        () => restClient.getLocation({ name: LOCATION }),
      ],
    ];
    for (const [rpc, viaGrpc, viaRest] of pairs) {
      const [grpcAnswer] = (await viaGrpc()) as [unknown];
      const [restAnswer] = (await viaRest()) as [unknown];
      expect({ rpc, answer: restAnswer }).toEqual({ rpc, answer: grpcAnswer });
    }
  });
});
