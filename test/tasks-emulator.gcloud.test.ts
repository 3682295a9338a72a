// `gcloud tasks` (the installed Google Cloud CLI, unmodified) against the Cloud Tasks emulator through
// api_endpoint_overrides/cloudtasks and auth/disable_credentials in a throw-away configuration, with every other
// destination sent to a trap proxy that must see nothing. Invocations run in parallel batches (gcloud starts slowly).
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net, { type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CloudTasksClient, v2beta3 } from '@google-cloud/tasks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTasksEmulator, type RunningTasksEmulator } from '../src/tasks-emulator/index.js';
import {
  expectGolden,
  goldenErrors,
  readmeShellBlock,
  startReceiver,
  type Receiver,
} from './support/tasks-emulator.js';

const PROJECT = 'gcloud-project';
const LOCATION_ID = 'us-central1';
const LOCATION = `projects/${PROJECT}/locations/${LOCATION_ID}`;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * A loopback proxy that records every request and forwards none: where gcloud's non-emulator traffic would go. It
 * answers 403 at once (a closed connection would have gcloud retry for half a minute).
 */
async function startTrap(): Promise<{ url: string; seen: string[]; close(): Promise<void> }> {
  const seen: string[] = [];
  const server = net.createServer((socket) => {
    socket.once('data', (data: Buffer) => {
      seen.push(data.toString('latin1').split('\r\n')[0]!);
      const body = '{"error":{"code":403,"message":"blocked by the test\'s trap proxy","status":"PERMISSION_DENIED"}}';
      socket.end(
        `HTTP/1.1 403 Forbidden\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`,
      );
    });
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** A gcloud configuration directory with the given properties (what `gcloud config set` would write). */
function gcloudConfig(properties: Record<string, Record<string, string>>): string {
  const dir = mkdtempSync(join(tmpdir(), 'gcloud-config-'));
  mkdirSync(join(dir, 'configurations'));
  writeFileSync(join(dir, 'active_config'), 'default');
  const text = Object.entries(properties)
    .map(
      ([section, values]) =>
        `[${section}]\n${Object.entries(values)
          .map(([k, v]) => `${k} = ${v}\n`)
          .join('')}`,
    )
    .join('');
  writeFileSync(join(dir, 'configurations', 'config_default'), text);
  return dir;
}

describe('Cloud Tasks emulator with gcloud tasks', { timeout: 120_000 }, () => {
  let emulator: RunningTasksEmulator;
  let receiver: Receiver;
  let grpcClient: CloudTasksClient;
  let betaClient: v2beta3.CloudTasksClient;
  let trap: Awaited<ReturnType<typeof startTrap>>;
  const configs: string[] = [];
  let env: NodeJS.ProcessEnv;

  const settings = (endpoint: string) => ({
    core: { project: PROJECT, disable_usage_reporting: 'true', check_gce_metadata: 'false' },
    api_endpoint_overrides: { cloudtasks: endpoint },
    auth: { disable_credentials: 'true' },
    component_manager: { disable_update_check: 'true' },
    survey: { disable_prompts: 'true' },
  });
  /** Runs gcloud with the test's configuration (or another one). */
  const gcloud = (args: string[], config?: string): Promise<Run> =>
    new Promise((resolve) => {
      execFile(
        'gcloud',
        [...args, '--quiet'],
        { env: config ? { ...env, CLOUDSDK_CONFIG: config } : env, timeout: 60_000 },
        (error, stdout, stderr) =>
          resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      );
    });
  const json = (run: Run): unknown => {
    expect(run, run.stderr).toMatchObject({ code: 0 });
    return JSON.parse(run.stdout);
  };
  /** The REST answer for a path: the same state as gRPC has (test/tasks-emulator.rest.test.ts shows they agree). */
  const rest = async (path: string) => (await fetch(`http://${emulator.endpoint}/v2/${path}`)).json();
  const queueArgs = ['--location', LOCATION_ID];

  beforeAll(async () => {
    emulator = await startTasksEmulator();
    receiver = await startReceiver(() => 200);
    grpcClient = emulator.createClient();
    betaClient = emulator.createClient({ version: 'v2beta3' });
    trap = await startTrap();
    const config = gcloudConfig(settings(`http://${emulator.endpoint}/`));
    configs.push(config);
    const proxies = Object.fromEntries(
      ['HTTPS_PROXY', 'HTTP_PROXY', 'https_proxy', 'http_proxy'].map((name) => [name, trap.url]),
    );
    env = {
      ...process.env,
      ...proxies,
      NO_PROXY: '127.0.0.1',
      no_proxy: '127.0.0.1',
      // No GCE metadata probe, and one that slipped through would hit a closed loopback port.
      CLOUDSDK_CORE_CHECK_GCE_METADATA: 'false',
      GCE_METADATA_ROOT: '127.0.0.1:9',
      GCE_METADATA_IP: '127.0.0.1:9',
      CLOUDSDK_CONFIG: config,
    };
  });
  afterAll(async () => {
    await grpcClient.close();
    await betaClient.close();
    await emulator.stop();
    await receiver.close();
    await trap.close();
    for (const dir of configs) rmSync(dir, { recursive: true, force: true });
  });

  it('the trap proxy catches what is not for the emulator (the control: an endpoint that does not exist)', async () => {
    const elsewhere = gcloudConfig(settings('http://cloudtasks.invalid/'));
    configs.push(elsewhere);
    const run = await gcloud(['tasks', 'queues', 'list', ...queueArgs], elsewhere);
    expect(run.code).not.toBe(0);
    expect(trap.seen.some((line) => line.includes('cloudtasks.invalid'))).toBe(true);
    trap.seen.length = 0;
  });

  it('queues create/list/describe/pause/resume/purge, create-http-task, tasks list/describe/delete/run, buffer', async () => {
    const queue = `${LOCATION}/queues/gq`;
    const other = `${LOCATION}/queues/gq-other`;
    const routed = `${LOCATION}/queues/gq-routed`;
    const target = new URL(receiver.url);
    const later = new Date(Date.now() + 3_600_000).toISOString().replace(/\.\d+Z$/, 'Z');

    // Batch 1: three queues, one with queue-level routing set through v2's REST surface (GA gcloud).
    const created = await Promise.all([
      gcloud(['tasks', 'queues', 'create', 'gq', ...queueArgs, '--max-attempts=5', '--max-dispatches-per-second=7']),
      gcloud(['tasks', 'queues', 'create', 'gq-other', ...queueArgs]),
      gcloud([
        'tasks',
        'queues',
        'create',
        'gq-routed',
        ...queueArgs,
        `--http-uri-override=scheme:http,host:${target.hostname},port:${target.port},path:/routed`,
        '--http-header-override=X-Routed: yes',
      ]),
    ]);
    for (const run of created) expect(run, run.stderr).toMatchObject({ code: 0 });
    const [viaGrpc] = await grpcClient.getQueue({ name: queue });
    expect(viaGrpc).toMatchObject({ retryConfig: { maxAttempts: 5 }, rateLimits: { maxDispatchesPerSecond: 7 } });
    const [routedQueue] = await betaClient.getQueue({ name: routed });
    expect(routedQueue.httpTarget).toMatchObject({
      uriOverride: { host: target.hostname, pathOverride: { path: '/routed' } },
      headerOverrides: [{ header: { key: 'X-Routed', value: 'yes' } }],
    });

    // Batch 2: pause, then two HTTP tasks (one scheduled later) and a buffered one.
    expect(await gcloud(['tasks', 'queues', 'pause', 'gq', ...queueArgs])).toMatchObject({ code: 0 });
    const body = '{"order":42}';
    const tasks = await Promise.all([
      gcloud([
        'tasks',
        'create-http-task',
        't1',
        '--queue=gq',
        ...queueArgs,
        `--url=${receiver.url}/work`,
        '--method=PUT',
        `--body-content=${body}`,
        '--header=X-Mine: yes',
        `--oidc-service-account-email=worker@${PROJECT}.iam.gserviceaccount.com`,
      ]),
      gcloud([
        'tasks',
        'create-http-task',
        't2',
        '--queue=gq',
        ...queueArgs,
        `--url=${receiver.url}/later`,
        `--schedule-time=${later}`,
      ]),
      gcloud(['tasks', 'buffer', '--queue=gq-routed', ...queueArgs, '--task-id=b1']),
    ]);
    for (const run of tasks) expect(run, run.stderr).toMatchObject({ code: 0 });
    await receiver.waitFor(1); // b1: gq-routed is running, and routes it to the receiver
    expect(receiver.requests[0]).toMatchObject({
      path: '/routed',
      headers: { 'x-routed': 'yes', 'x-cloudtasks-taskname': 'b1' },
    });

    // Batch 3: every read, compared with the emulator's answer for the same state; one golden error.
    const [queues, described, listed, task, missing, locations] = await Promise.all([
      gcloud(['tasks', 'queues', 'list', ...queueArgs, '--format=json']),
      gcloud(['tasks', 'queues', 'describe', 'gq', ...queueArgs, '--format=json']),
      gcloud(['tasks', 'list', '--queue=gq', ...queueArgs, '--format=json']),
      gcloud(['tasks', 'describe', 't1', '--queue=gq', ...queueArgs, '--response-view=full', '--format=json']),
      gcloud(['tasks', 'queues', 'describe', 'never-created', ...queueArgs]),
      gcloud(['tasks', 'locations', 'list', '--format=json']),
    ]);
    expect(json(queues)).toEqual(((await rest(`${LOCATION}/queues`)) as { queues: unknown[] }).queues);
    expect(json(described)).toEqual(await rest(queue));
    expect(json(described)).toMatchObject({ state: 'PAUSED' });
    expect(json(listed)).toEqual(((await rest(`${queue}/tasks`)) as { tasks: unknown[] }).tasks);
    expect(json(task)).toEqual(await rest(`${queue}/tasks/t1?responseView=FULL`));
    expect(json(task)).toMatchObject({
      httpRequest: {
        url: `${receiver.url}/work`,
        httpMethod: 'PUT',
        body: Buffer.from(body).toString('base64'),
        headers: { 'X-Mine': 'yes' },
        oidcToken: { serviceAccountEmail: `worker@${PROJECT}.iam.gserviceaccount.com` },
      },
    });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain(`NOT_FOUND: ${goldenErrors.get('queue/get/not-found')!.template}`);
    expect(json(locations)).toContainEqual(expect.objectContaining({ name: LOCATION, locationId: LOCATION_ID }));

    // Batch 4: run, delete, purge; then resume (which would dispatch t1 itself).
    const before = receiver.requests.length;
    const changes = await Promise.all([
      gcloud(['tasks', 'run', 't1', '--queue=gq', ...queueArgs]),
      gcloud(['tasks', 'delete', 't2', '--queue=gq', ...queueArgs]),
      gcloud(['tasks', 'queues', 'purge', 'gq-other', ...queueArgs]),
    ]);
    changes.push(await gcloud(['tasks', 'queues', 'resume', 'gq', ...queueArgs]));
    for (const run of changes) expect(run, run.stderr).toMatchObject({ code: 0 });
    await receiver.waitFor(before + 1); // t1, by RunTask
    const work = receiver.requests[before]!;
    expect(work).toMatchObject({
      path: '/work',
      method: 'PUT',
      headers: { 'x-mine': 'yes', 'x-cloudtasks-taskname': 't1' },
    });
    expect(work.body.toString()).toBe(body);
    await expectGolden(grpcClient.getTask({ name: `${queue}/tasks/t2` }), 'task/get/recently-deleted');
    expect((await grpcClient.getQueue({ name: queue }))[0].state).toBe('RUNNING');
    expect((await grpcClient.getQueue({ name: other }))[0].purgeTime).not.toBeNull();
  });

  it("the README's gcloud set-up works as written", async () => {
    const before = receiver.requests.length;
    const script = readmeShellBlock('# gcloud:', emulator.endpoint).replaceAll(
      '127.0.0.1:8080',
      new URL(receiver.url).host,
    );
    const { CLOUDSDK_CONFIG: _ours, ...rest } = env;
    const run = await new Promise<Run>((resolve) =>
      execFile(
        'bash',
        ['-euo', 'pipefail', '-c', `trap 'rm -rf "\${CLOUDSDK_CONFIG:-/nonexistent}"' EXIT\n${script}`],
        {
          env: {
            ...rest,
            CLOUDSDK_CORE_DISABLE_PROMPTS: '1',
            CLOUDSDK_CORE_DISABLE_USAGE_REPORTING: 'true',
            CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK: 'true',
          },
          timeout: 60_000,
        },
        (error, stdout, stderr) => resolve({ code: error ? 1 : 0, stdout, stderr }),
      ),
    );
    expect(run, run.stderr).toMatchObject({ code: 0 });
    expect(run.stderr).toContain('Created queue [us-central1/q]');
    await receiver.waitFor(before + 1);
    expect(receiver.requests[before]).toMatchObject({ method: 'POST', path: '/work' });
    expect((await grpcClient.getQueue({ name: 'projects/my-app/locations/us-central1/queues/q' }))[0].state).toBe(
      'RUNNING',
    );
  });

  it('sent nothing anywhere but the emulator', () => {
    expect(trap.seen).toEqual([]);
  });
});
