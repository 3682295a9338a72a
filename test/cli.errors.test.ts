// The `deferred` CLI's --help and its input errors: one line saying what to do, and the documented exit codes.
import { describe, expect, it } from 'vitest';
import { runCli } from './support/cli.js';

describe.concurrent('deferred CLI input errors', { timeout: 120_000 }, () => {
  const base = { ...process.env, METADATA_SERVER_DETECTION: 'none', GOOGLE_CLOUD_PROJECT: 'demo-x' };

  it('--help on every command', async () => {
    for (const command of ['sweep', 'stats', 'inspect']) {
      const help = await runCli([command, '--help'], base);
      expect(help.code).toBe(0);
      expect(help.stdout).toMatch(/--datastore-emulator-host/);
      expect(help.stdout).toMatch(/--namespace/);
    }
    const top = await runCli(['--help'], base);
    expect(top.stdout).toMatch(/sweep/);
    expect(top.stdout).toMatch(/Exit codes: 0 ok, 1 failure, 2 usage, 3 prerequisite, 4 leak/);
  });

  it.each([
    [['sweep', '--older-than', 'soon'], 2, /--older-than: "soon" is not a duration/],
    [['sweep', '--shards', '-1'], 2, /--shards must be a whole number from 1 to 9999/],
    [['sweep', '--shards', '2.5'], 2, /--shards must be a whole number/],
    [['sweep', '--kind', 'Public'], 2, /kind "Public" cannot be swept by age/],
    [['stats', '--datastore-emulator-host', 'localhost'], 2, /must be host:port/],
    [['inspect', 'Kind:'], 2, /malformed key/],
  ])('deferred %j exits %i with one line', async (args, code, message) => {
    const result = await runCli(args, base);
    expect(result.code).toBe(code);
    expect(result.stderr.split('\n')[0]).toMatch(message);
    expect(result.stdout).toBe('');
  });

  it('a missing project is a missing prerequisite (exit 3)', async () => {
    const env: NodeJS.ProcessEnv = { ...base };
    for (const name of ['GOOGLE_CLOUD_PROJECT', 'GCLOUD_PROJECT', 'DATASTORE_PROJECT_ID']) delete env[name];
    const result = await runCli(['stats'], env);
    expect(result.code).toBe(3);
    expect(result.stderr).toBe(
      'deferred: No Google Cloud project: pass --project <id> or set GOOGLE_CLOUD_PROJECT (any id works against the emulators).\n',
    );
  });
});
