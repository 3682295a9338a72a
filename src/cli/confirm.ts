/** Asking before a bulk action: a y/N question on a terminal; `--yes` for scripts, which have no terminal to answer on. */
import { createInterface } from 'node:readline';
import { InvalidArgumentError } from '../errors/index.js';

/**
 * Resolves true when the action may go ahead: `yes` given, or the user answered y/yes on the terminal. Without a
 * terminal (a script, a pipe) and without `yes`, throws a usage error telling the caller to pass `--yes`.
 */
export async function confirm(
  question: string,
  options: { yes: boolean; what: string },
  streams: { input: NodeJS.ReadStream; output: NodeJS.WriteStream } = {
    input: process.stdin,
    output: process.stderr,
  },
): Promise<boolean> {
  if (options.yes) return true;
  if (!streams.input.isTTY) {
    throw new InvalidArgumentError(
      `${options.what} needs a confirmation, and there is no terminal to ask on: pass --yes (or --dry-run to see what it would do).`,
    );
  }
  const rl = createInterface({ input: streams.input, output: streams.output });
  try {
    const answer = await new Promise<string>((resolve) => {
      rl.question(`${question} [y/N] `, resolve);
      rl.once('close', () => resolve(''));
    });
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    rl.close();
  }
}
