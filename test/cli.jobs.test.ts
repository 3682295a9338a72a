// `deferred jobs` as a real child process against both Datastore emulators and our Cloud Tasks emulator.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { defineMapper } from '../src/jobs/mapper.js';
import { defineRecurringJob } from '../src/jobs/recurring.js';
import { describeStorage, type StorageContext } from './support/backends.js';
import { SECRET, useRuntime, type RuntimeFixture } from './support/runtime.js';
import { nodeArgs } from './support/test-scripts.js';

const run = promisify(execFile);

/** Runs the CLI (this run's bundle) against this test's emulators and namespace; resolves with exit code and output. */
async function cli(storage: StorageContext, rt: RuntimeFixture, args: string[], env: Record<string, string> = {}) {
  const emulatorPort = rt.emulator.port;
  try {
    const { stdout, stderr } = await run(
      process.execPath,
      nodeArgs('cli', [
        ...args,
        '--project', // the Datastore emulators' project; queues get auto-created under it in the Cloud Tasks emulator
        storage.clientOptions.projectId,
        '--datastore-emulator-host',
        storage.clientOptions.apiEndpoint,
        '--tasks-emulator-host',
        `127.0.0.1:${emulatorPort}`,
        '--namespace',
        storage.namespace,
      ]),
      { env: { ...process.env, METADATA_SERVER_DETECTION: 'none', ...env } },
    );
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('deferred jobs', () => {
  const setup = useRuntime();

  describeStorage('CLI', (ctx) => {
    it('lists and shows jobs, disables, enables (one chain) and runs one now', async () => {
      const rt = await setup(ctx());
      let runs = 0;
      const job = defineRecurringJob(rt.deferred, 'nightly', { every: '1h' }, () => `run ${++runs}`);
      const created = await job.ensure();
      const mapper = defineMapper(rt.deferred, 'noop', { query: (ds) => ds.createQuery('Nothing'), map: () => {} });
      const jobId = await mapper.start({ jobId: 'noop-1' });
      await rt.advance(0);

      const listed = await cli(ctx(), rt, ['jobs', 'list', '--json']);
      expect(listed.code).toBe(0);
      const parsed = JSON.parse(listed.stdout) as {
        recurring: { name: string; enabled: boolean }[];
        mappers: { jobId: string; status: string }[];
      };
      expect(parsed.recurring).toMatchObject([{ name: 'nightly', enabled: true }]);
      expect(parsed.mappers).toMatchObject([{ jobId, status: 'succeeded' }]);
      const table = await cli(ctx(), rt, ['jobs', 'list']);
      expect(table.stdout).toMatch(/Recurring jobs:[\s\S]*nightly\s+yes\s+idle\s+every 1h/);
      expect(table.stdout).toMatch(/Mapper jobs:[\s\S]*noop-1\s+noop\s+succeeded/);
      expect((await cli(ctx(), rt, ['jobs', 'show', 'noop-1'])).stdout).toMatch(/Shards:[\s\S]*0\s+done/);

      const disabled = await cli(ctx(), rt, ['jobs', 'disable', 'nightly']);
      expect(disabled).toMatchObject({ code: 0, stdout: 'nightly disabled.\n' });
      expect(await job.status()).toMatchObject({ enabled: false });

      const noSecret = await cli(ctx(), rt, ['jobs', 'enable', 'nightly'], { DEFERRED_SECRET: '' });
      expect(noSecret.code).toBe(3); // EXIT.prerequisite
      expect(noSecret.stderr.trim()).toMatch(
        /^deferred: This needs the app's signing secret: pass --secret or set DEFERRED_SECRET\.$/,
      );

      const appEnv = { DEFERRED_SECRET: SECRET, DEFERRED_HANDLER_URL: `${rt.origin}/_deferred` };
      const enabled = await cli(ctx(), rt, ['jobs', 'enable', 'nightly'], appEnv);
      expect(enabled.code).toBe(0);
      expect(enabled.stdout).toMatch(/^nightly enabled; next run /);
      const after = await job.status();
      expect(after).toMatchObject({ enabled: true });
      expect(after!.chain).not.toBe(created.chain);
      expect((await cli(ctx(), rt, ['jobs', 'enable', 'nightly'], appEnv)).stdout).toMatch(/already enabled/);
      expect((await job.status())!.chain).toBe(after!.chain);

      const ranNow = await cli(ctx(), rt, ['jobs', 'run-now', 'nightly'], appEnv);
      expect(ranNow.code).toBe(0);
      // The CLI stamps the run with the real time, a little ahead of the emulator's manual clock.
      await rt.advance(5 * 60_000);
      expect(runs).toBe(1);
      const shown = await cli(ctx(), rt, ['jobs', 'show', 'nightly']);
      expect(shown.stdout).toMatch(/last run succeeded\s+true/);
      expect(shown.stdout).toMatch(/last run message\s+run 1/);
    }, 150_000); // nine CLI processes

    it('an unknown job is a failure (exit 1, like inspect), in one line', async () => {
      const rt = await setup(ctx());
      const result = await cli(ctx(), rt, ['jobs', 'show', 'nope']);
      expect(result.code).toBe(1);
      expect(result.stderr).toBe('deferred: no recurring job or mapper job named "nope": see "deferred jobs list".\n');
      expect(result.stdout).toBe('');
      const disable = await cli(ctx(), rt, ['jobs', 'disable', 'nope']);
      expect(disable.code).toBe(1);
      expect(disable.stderr).toMatch(/^deferred: no recurring job named "nope"/);
    });
  });
});
