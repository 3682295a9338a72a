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
  '--tombstone-ms',
  '--queue-tombstone-ms',
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
    const tombstone = spawnSync(process.execPath, [...ARGS, '--tombstone-ms', 'soon'], { encoding: 'utf8' });
    expect(tombstone.status).toBe(2);
    expect(tombstone.stderr).toMatch(/^deferred: --tombstone-ms: "soon" is not a duration; write e\.g\. "90s"/);
  });

  it('serves the official client and REST on one port, creates --queue queues, and exits cleanly on SIGTERM', async () => {
    const queue = 'projects/cli-project/locations/us-central1/queues/from-flag';
    const child = spawn(
      process.execPath,
      [...ARGS, '--port', '0', '--json', '--queue', queue, '--tombstone-ms', '10m'],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, METADATA_SERVER_DETECTION: 'none' },
      },
    );
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
