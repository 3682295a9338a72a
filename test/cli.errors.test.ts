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
    expect(top.stdout).toMatch(/Exit codes: 0 ok, 1 failure, 2 usage, 3 prerequisite\.\n/);
  });

  it.each([
    [['sweep', '--older-than', 'soon'], 2, /--older-than: "soon" is not a duration/],
    [['sweep', '--shards', '-1'], 2, /--shards must be a whole number from 1 to 9999/],
    [['sweep', '--shards', '2.5'], 2, /--shards must be a whole number/],
    [['sweep', '--kind', 'Public'], 2, /--kind "Public" is not a transient kind the sweeper sweeps by age/],
    [['stats', '--kind', '__kind__'], 2, /--kind "__kind__" is not a transient kind/],
    [['stats', '--datastore-emulator-host', 'localhost'], 2, /must be host:port/],
    [['inspect', 'Kind:'], 2, /malformed key/],
    // yargs' own usage errors, reworded: what was wrong, and the help of the command that was meant.
    [['swep'], 2, /^deferred: unknown command "swep": did you mean "sweep"\? See "deferred --help"\.$/],
    [['frobnicate'], 2, /^deferred: unknown command "frobnicate": the commands are emulator, sweep, stats, inspect,/],
    [
      ['jobs'],
      2,
      /^deferred: name a jobs command: list, show, enable, disable, run-now\. See "deferred jobs --help"\.$/,
    ],
    [['inspect'], 2, /^deferred: missing <key>: deferred inspect <key>\. See "deferred inspect --help"\.$/],
    [['failed', 'show'], 2, /^deferred: missing <key>: deferred failed show <key>\. See "deferred failed show --help"/],
    [['jobs', 'enable'], 2, /^deferred: missing <name>: deferred jobs enable <name>\./],
    [['sweep', '--bogus'], 2, /^deferred: unknown option --bogus of deferred sweep\. See "deferred sweep --help"\.$/],
    [['sweep', 'now'], 2, /^deferred: deferred sweep takes no argument "now"\./],
    [['dev', '--backend', 'mysql'], 2, /^deferred: --backend must be one of "datastore", "firestore", got "mysql"\./],
    [
      ['sweep', '--shards', 'abc'],
      2,
      /--shards must be a whole number from 1 to 9999, got something that is not a number/,
    ],
    [['failed', '--limit', 'abc'], 2, /--limit must be a whole number .*, got something that is not a number/],
    [['dashboard', '--shards', '0'], 2, /^deferred: --shards must be a whole number from 1 to 9999, got 0\./],
    [
      ['dashboard', '--refresh', '500.5'],
      2,
      /^deferred: --refresh must be a whole number of milliseconds of at least 500/,
    ],
    [['emulator', 'tasks', '--port', 'x'], 2, /--port must be a port number from 0 to 65535 \(0 = a free port\)/],
  ])('deferred %j exits %i with one line', async (args, code, message) => {
    const result = await runCli(args, base);
    expect(result.code).toBe(code);
    expect(result.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(result.stderr.trimEnd()).toMatch(message);
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
