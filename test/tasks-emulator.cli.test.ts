// `deferred emulator tasks`: the standalone Cloud Tasks emulator process, its --help and its flag validation.
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { CloudTasksClient } from '@google-cloud/tasks';
import { grpc } from 'google-gax';
import { describe, expect, it } from 'vitest';
import { nodeArgs } from './support/test-scripts.js';

const ARGS = nodeArgs('cli', ['emulator', 'tasks']);
const FLAGS = [
  '--port',
  '--host',
  '--auto-create-queues',
  '--tombstone',
  '--queue-tombstone',
  '--app-engine-url',
  '--oidc-port',
  '--oidc-issuer',
  '--queue',
  '--json',
];

// Each test starts a Node process: slow on a loaded machine, hence the long timeout.
describe('deferred emulator tasks', { timeout: 120_000 }, () => {
  it('--help documents every flag, and the transports and API versions served', () => {
    const result = spawnSync(process.execPath, [...ARGS, '--help'], { encoding: 'utf8' });
    expect(result.status).toBe(0);
    for (const flag of FLAGS) expect(result.stdout).toMatch(new RegExp(`${flag}\\s+\\S`));
    const text = result.stdout.replace(/\s+/g, ' ');
    expect(text).toContain('gRPC and REST (HTTP/1.1 JSON) on one port, API versions v2 and v2beta3');
  });

  it('refuses a bad flag value with a one-line message and the usage exit code', () => {
    const result = spawnSync(process.execPath, [...ARGS, '--port', '70000'], { encoding: 'utf8' });
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/--port must be a port number/);
    for (const flag of ['--tombstone', '--queue-tombstone', '--tombstone-ms']) {
      const tombstone = spawnSync(process.execPath, [...ARGS, flag, 'soon'], { encoding: 'utf8' });
      expect(tombstone.status).toBe(2);
      expect(tombstone.stderr).toMatch(
        new RegExp(`^deferred: ${flag}: "soon" is not a duration; write e\\.g\\. "90s"`),
      );
    }
    const both = spawnSync(process.execPath, [...ARGS, '--tombstone', '1h', '--tombstone-ms', '2h'], {
      encoding: 'utf8',
    });
    expect(both.status).toBe(2);
    expect(both.stderr).toMatch(/^deferred: give --tombstone or its earlier name --tombstone-ms, not both\./);
  });

  it('serves the official client and REST on one port, creates --queue queues, reserves deleted task names for --tombstone, and exits cleanly on SIGTERM', async () => {
    const queue = 'projects/cli-project/locations/us-central1/queues/from-flag';
    const child = spawn(process.execPath, [...ARGS, '--port', '0', '--json', '--queue', queue, '--tombstone', '1s'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, METADATA_SERVER_DETECTION: 'none' },
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    try {
      const lines = createInterface({ input: child.stdout });
      const [line] = (await once(lines, 'line')) as [string];
      const info = JSON.parse(line) as { host: string; port: number; endpoint: string; oidc: { jwksUri: string } };
      const client = new CloudTasksClient({
        apiEndpoint: info.host,
        port: info.port,
        sslCreds: grpc.credentials.createInsecure(),
      });
      const [got] = await client.getQueue({ name: queue });
      expect(got.state).toBe('RUNNING');
      // A deleted task's name is reserved for --tombstone (1 s here), then free again.
      await client.pauseQueue({ name: queue });
      const task = { name: `${queue}/tasks/reserved`, httpRequest: { url: 'http://127.0.0.1:9/x' } };
      await client.createTask({ parent: queue, task });
      await client.deleteTask({ name: task.name });
      await expect(client.createTask({ parent: queue, task })).rejects.toMatchObject({ code: 6 }); // ALREADY_EXISTS
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      const [again] = await client.createTask({ parent: queue, task });
      expect(again.name).toBe(task.name);
      await client.deleteTask({ name: task.name });
      await client.resumeQueue({ name: queue });
      await client.close();
      const viaRest = (await (await fetch(`http://${info.endpoint}/v2/${queue}`)).json()) as { state: string };
      expect(viaRest.state).toBe('RUNNING');
      const jwks = (await (await fetch(info.oidc.jwksUri)).json()) as { keys: unknown[] };
      expect(jwks.keys).toHaveLength(1);
      child.kill('SIGTERM');
      const [code] = (await once(child, 'exit')) as [number | null];
      expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});
