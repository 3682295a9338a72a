// usageLine / usageMessage / commandPath (src/cli/usage-errors.ts): yargs' usage messages reworded into one line.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SUBCOMMANDS, commandPath, usageLine, usageMessage } from '../../src/cli/usage-errors.js';

describe('commandPath', () => {
  it('names the command and the sub-command the words give, as far as they are commands', () => {
    expect(commandPath(['jobs', 'show', 'nightly', '--json'])).toEqual(['jobs', 'show']);
    expect(commandPath(['sweep', '--namespace', 'x'])).toEqual(['sweep']);
    expect(commandPath(['sweep', 'show'])).toEqual(['sweep']); // sweep has no sub-commands
    expect(commandPath(['swep'])).toEqual([]);
    expect(commandPath([])).toEqual([]);
  });

  it('knows the sub-commands each command module declares', () => {
    for (const [command, subs] of Object.entries(SUBCOMMANDS)) {
      const file = readFileSync(new URL(`../../src/cli/commands/${command}.ts`, import.meta.url), 'utf8');
      const declared = [...file.matchAll(/^\s+command: \[?'([^']+)'/gm)].map((m) => m[1]);
      expect(declared, `src/cli/commands/${command}.ts`).toEqual(subs);
    }
  });
});

describe('usageMessage', () => {
  it.each([
    ['Did you mean sweep?', ['swep'], 'unknown command "swep": did you mean "sweep"?'],
    ['Did you mean show?', ['jobs', 'shwo', 'x'], 'unknown command "shwo" of deferred jobs: did you mean "show"?'],
    ['Unknown argument: shard', ['sweep', '--shard', '4'], 'unknown option --shard of deferred sweep.'],
    ['Unknown argument: A', ['stats', '-A'], 'unknown option -A of deferred stats.'],
    ['Unknown arguments: xs, ys', ['sweep', '--xs=1', '--no-ys'], 'unknown option --xs, --ys of deferred sweep.'],
    ['Unknown argument: now', ['sweep', 'now'], 'deferred sweep takes no argument "now".'],
    [
      'Not enough non-option arguments: got 0, need at least 1',
      ['jobs'],
      'name a jobs command: list, show, enable, disable, run-now.',
    ],
    ['Not enough non-option arguments: got 0, need at least 1', ['inspect'], 'missing <key>: deferred inspect <key>.'],
    [
      'Not enough non-option arguments: got 0, need at least 1',
      ['jobs', 'run-now'],
      'missing <name>: deferred jobs run-now <name>.',
    ],
    [
      'Invalid values:\n  Argument: backend, Given: "mysql", Choices: "datastore", "firestore"',
      ['dev', '--backend', 'mysql'],
      '--backend must be one of "datastore", "firestore", got "mysql".',
    ],
    ['Missing required argument: task', ['retry'], 'missing --task.'],
    ['--grace: "x" is not a duration.', ['sweep', '--grace', 'x'], '--grace: "x" is not a duration.'],
  ])('%j of %j', (message, args, expected) => {
    expect(usageMessage(message, args)).toBe(expected);
  });

  it('an unknown first word lists the commands', () => {
    expect(usageMessage('Unknown argument: frobnicate', ['frobnicate'])).toMatch(
      /^unknown command "frobnicate": the commands are emulator, sweep, stats, inspect, dev, jobs, dashboard, failed, retry, discard\.$/,
    );
  });
});

describe('usageLine', () => {
  it('ends with the help of the command that was meant, on the same line', () => {
    expect(usageLine('Unknown argument: shard', ['sweep', '--shard'])).toBe(
      'unknown option --shard of deferred sweep. See "deferred sweep --help".',
    );
    expect(usageLine('Name a command; see the list above', [])).toBe(
      'Name a command; see the list above. See "deferred --help".',
    );
    expect(usageLine('missing x', ['failed', 'show'])).toBe('missing x. See "deferred failed show --help".');
  });
});
