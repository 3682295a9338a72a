/** Bad usage as one line: yargs' messages (unknown command or option, missing argument, a value not among the choices) reworded to name what was wrong, and the `--help` of the command that was meant. */
import { COMMAND_SUMMARIES } from './command-summaries.js';

/** The sub-commands of the commands that have them, as their `command` strings (`show <key>`). */
export const SUBCOMMANDS: Readonly<Record<string, readonly string[]>> = {
  emulator: ['tasks'],
  failed: ['list', 'show <key>'],
  jobs: ['list', 'show <name>', 'enable <name>', 'disable <name>', 'run-now <name>'],
};

const nameOf = (command: string) => command.split(' ')[0]!;
const TOP: readonly string[] = Object.values(COMMAND_SUMMARIES).map((summary) => summary.command);

/** The words of the command line that name a command and its sub-command (`['jobs', 'show']`), as far as they do. */
export function commandPath(args: readonly string[]): string[] {
  const words = args.filter((arg) => !arg.startsWith('-'));
  const path: string[] = [];
  const top = words[0];
  if (top === undefined || !TOP.some((command) => nameOf(command) === top)) return path;
  path.push(top);
  const sub = words[1];
  if (sub !== undefined && SUBCOMMANDS[top]?.some((command) => nameOf(command) === sub)) path.push(sub);
  return path;
}

/** The `command` string (with its arguments) of a command path, e.g. `show <key>` for `['failed', 'show']`. */
function commandOf(path: readonly string[]): string | undefined {
  const [top, sub] = path;
  if (top === undefined) return undefined;
  const list = sub === undefined ? TOP : (SUBCOMMANDS[top] ?? []);
  return list.find((command) => nameOf(command) === (sub ?? top));
}

/** Whether `name` (as yargs reports it, without dashes) was given as an option on the command line. */
function givenAsOption(name: string, args: readonly string[]): boolean {
  return args.some((arg) => /^--?/.test(arg) && arg.replace(/^--?(no-)?/, '').split('=')[0] === name);
}

/** An option's name as typed on the command line: `--shards`, or `-A` for one letter. */
const flag = (name: string) => (name.length === 1 ? `-${name}` : `--${name}`);

/** yargs' message about `args`, reworded (unchanged when it is none of those it words its own way). */
export function usageMessage(message: string, args: readonly string[]): string {
  const path = commandPath(args);
  const where = path.length ? `deferred ${path.join(' ')}` : 'deferred';
  const words = args.filter((arg) => !arg.startsWith('-'));
  const meant = /^Did you mean (.+)\?$/.exec(message);
  if (meant) {
    const word = words[path.length] ?? '';
    return `unknown command "${word}"${path.length ? ` of ${where}` : ''}: did you mean "${meant[1]}"?`;
  }
  const unknown = /^Unknown arguments?: (.+)$/.exec(message);
  if (unknown) {
    const names = unknown[1]!.split(', ');
    const options = names.filter((name) => givenAsOption(name, args));
    const others = names.filter((name) => !options.includes(name));
    if (options.length) return `unknown option ${options.map(flag).join(', ')} of ${where}.`;
    if (path.length === 0) {
      return `unknown command "${others[0]}": the commands are ${TOP.map(nameOf).join(', ')}.`;
    }
    return `${where} takes no argument ${others.map((o) => `"${o}"`).join(', ')}.`;
  }
  if (/^Not enough non-option arguments/.test(message)) {
    const command = commandOf(path);
    const subs = path.length === 1 ? SUBCOMMANDS[path[0]!] : undefined;
    if (subs) return `name a ${path[0]} command: ${subs.map(nameOf).join(', ')}.`;
    const missing = command?.match(/<[^>]+>/)?.[0];
    if (missing && command) return `missing ${missing}: ${where} ${command.slice(nameOf(command).length + 1)}.`;
  }
  const choice = /^Invalid values:\s*Argument: (\S+), Given: (.+), Choices: (.+)$/s.exec(message.trim());
  if (choice) return `${flag(choice[1]!)} must be one of ${choice[3]!.trim()}, got ${choice[2]!.trim()}.`;
  const required = /^Missing required arguments?: (.+)$/.exec(message);
  if (required) return `missing ${required[1]!.split(', ').map(flag).join(', ')}.`;
  return message;
}

/** The one line a usage error prints: what was wrong, and the help of the command that was meant. */
export function usageLine(message: string, args: readonly string[]): string {
  const text = usageMessage(message, args).trim();
  const path = commandPath(args);
  const help = `deferred ${path.length ? `${path.join(' ')} ` : ''}--help`;
  return `${text}${/[.?!]$/.test(text) ? '' : '.'} See "${help}".`;
}
