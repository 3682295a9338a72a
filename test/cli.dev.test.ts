// `deferred dev`: the local stack with a sample worker runs tasks end to end, and Ctrl-C stops everything it started.
import { once } from 'node:events';
import { connect } from 'node:net';
import { createInterface } from 'node:readline';
import { Datastore, PropertyFilter } from '@google-cloud/datastore';
import { describe, expect, it } from 'vitest';
import { TASK_KIND } from '../src/store/schema.js';
import { runCli, spawnCli } from './support/cli.js';

function accepts(hostPort: string): Promise<boolean> {
  const [host, port] = hostPort.split(':');
  return new Promise((resolve) => {
    const socket = connect(Number(port), host!, () => {
      socket.destroy();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
  });
}

/** Waits until the local stack's Datastore holds no task entity in state `running`. */
async function untilNothingRuns(env: Record<string, string>): Promise<void> {
  const datastore = new Datastore({
    projectId: env.GOOGLE_CLOUD_PROJECT,
    apiEndpoint: env.DATASTORE_EMULATOR_HOST,
    ...(env.DATASTORE_NAMESPACE ? { namespace: env.DATASTORE_NAMESPACE } : {}),
  });
  const query = datastore
    .createQuery(TASK_KIND)
    .filter(new PropertyFilter('state', '=', 'running'))
    .select('__key__');
  for (let i = 0; i < 100; i++) {
    const [running] = await datastore.runQuery(query);
    if (running.length === 0) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error('a task entity stayed running for 10 s');
}

describe('deferred dev', () => {
  it('serves the sample tasks on the local stack and stops everything on SIGINT', { timeout: 180_000 }, async () => {
    const child = spawnCli(['dev', '--json', '--port', '0', '--tasks-port', '0'], {
      ...process.env,
      METADATA_SERVER_DETECTION: 'none',
    });
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    try {
      const lines = createInterface({ input: child.stdout! });
      const [first] = (await once(lines, 'line')) as [string];
      const info = JSON.parse(first) as { env: Record<string, string>; worker: string; tasks: string[] };
      expect(info.tasks).toEqual(['bigReport', 'charge', 'deferred.sweepShard', 'flaky', 'hello']);
      expect(info.worker).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/_deferred$/);
      // The three sample tasks run through the emulator (the flaky one on its retry).
      const done = new Set<string>();
      for await (const line of lines) {
        const match = /"message":"task (\w+) done"/.exec(line);
        if (match) done.add(match[1]!);
        if (done.size === 3) break;
      }
      expect([...done].sort()).toEqual(['bigReport', 'flaky', 'hello']);
      // The environment it printed is all the other commands need: list the sample failure, replay it.
      const env = { ...process.env, METADATA_SERVER_DETECTION: 'none', ...info.env };
      expect(info.env).toMatchObject({ DEFERRED_HANDLER_URL: info.worker });
      const listed = JSON.parse((await runCli(['failed', '--json'], env)).stdout) as { tasks: { task: string }[] };
      expect(listed.tasks.map((t) => t.task)).toEqual(['charge']);
      const retried = await runCli(['retry', '--task', 'charge', '--yes'], env);
      expect(retried.code).toBe(0);
      expect(retried.stdout).toMatch(/retried\s+failed\.default\.\d+\s+as projects\/.+-r1\n/);
      for await (const line of lines) if (line.includes('"message":"task charge done"')) break;
      // The run's line is written before its entity's completion commits: Ctrl-C once nothing is running any more.
      await untilNothingRuns(info.env);
      expect(await accepts(info.env.DATASTORE_EMULATOR_HOST!)).toBe(true);
      child.kill('SIGINT');
      expect(await exited).toBe(0);
      expect(await accepts(info.env.DATASTORE_EMULATOR_HOST!)).toBe(false);
      expect(await accepts(info.env.CLOUD_TASKS_EMULATOR_HOST!)).toBe(false);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
    expect(stderr).not.toMatch(/^deferred:|handler error/m);
  });
});
