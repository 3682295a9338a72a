// confirm(): the y/N question of the CLI's bulk actions, on a terminal and without one (pure logic, in-memory streams).
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { confirm } from '../../src/cli/confirm.js';
import { InvalidArgumentError } from '../../src/errors/index.js';

function terminal(answer: string | null, isTTY = true) {
  const input = new PassThrough() as PassThrough & { isTTY?: boolean };
  input.isTTY = isTTY;
  const output = new PassThrough();
  let asked = '';
  output.on('data', (chunk: Buffer) => (asked += chunk.toString()));
  if (answer !== null) setImmediate(() => input.write(`${answer}\n`));
  else setImmediate(() => input.end());
  return {
    streams: { input: input as unknown as NodeJS.ReadStream, output: output as unknown as NodeJS.WriteStream },
    asked: () => asked,
  };
}

describe('confirm', () => {
  it.each([
    ['y', true],
    ['YES', true],
    ['n', false],
    ['', false],
    ['sure', false],
  ])('answers %j on a terminal: %s', async (answer, expected) => {
    const t = terminal(answer);
    expect(await confirm('Retry 3 failed task(s)?', { yes: false, what: 'Retrying 3' }, t.streams)).toBe(expected);
    expect(t.asked()).toBe('Retry 3 failed task(s)? [y/N] ');
  });

  it('a closed terminal (Ctrl-D) is a no', async () => {
    expect(await confirm('Go?', { yes: false, what: 'x' }, terminal(null).streams)).toBe(false);
  });

  it('--yes asks nothing; without a terminal and without --yes it is bad usage, saying to pass --yes', async () => {
    const t = terminal(null, false);
    expect(await confirm('Go?', { yes: true, what: 'x' }, t.streams)).toBe(true);
    expect(t.asked()).toBe('');
    await expect(confirm('Go?', { yes: false, what: 'Discarding 2 failed task(s)' }, t.streams)).rejects.toThrow(
      InvalidArgumentError,
    );
    await expect(confirm('Go?', { yes: false, what: 'Discarding 2 failed task(s)' }, t.streams)).rejects.toThrow(
      /^Discarding 2 failed task\(s\) needs a confirmation, and there is no terminal to ask on: pass --yes/,
    );
  });
});
