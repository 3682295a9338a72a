/** The list of `deferred` sub-commands: each lives in its own module under commands/, loaded only when it is run. */
import type { CommandModule } from 'yargs';
import { COMMAND_SUMMARIES, type CommandName } from './command-summaries.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- yargs command modules differ in their argument types
type AnyCommand = CommandModule<any, any>;

/** Each command's module, in the order `deferred --help` lists them. */
const LOADERS: Readonly<Record<CommandName, () => Promise<AnyCommand>>> = {
  emulator: async () => (await import('./commands/emulator.js')).emulatorCommand, // deferred emulator tasks
  sweep: async () => (await import('./commands/sweep.js')).sweepCommand, // deferred sweep
  stats: async () => (await import('./commands/stats.js')).statsCommand, // deferred stats
  inspect: async () => (await import('./commands/inspect.js')).inspectCommand, // deferred inspect <key>
  dev: async () => (await import('./commands/dev.js')).devCommand, // deferred dev
  jobs: async () => (await import('./commands/jobs.js')).jobsCommand, // deferred jobs list|show|enable|disable|run-now
  dashboard: async () => (await import('./commands/dashboard.js')).dashboardCommand, // deferred dashboard
  failed: async () => (await import('./commands/failed.js')).failedCommand, // deferred failed [list] | show <key>
  retry: async () => (await import('./commands/retry-command.js')).retryCommand, // deferred retry <key>... | --task ...
  discard: async () => (await import('./commands/discard.js')).discardCommand, // deferred discard <key>... | --task ...
};

/**
 * The commands for a command line: in full (options, sub-commands, handler) every command its words name, the others
 * as their summaries, which are all `deferred --help` shows. So `deferred --help` loads no command's code (nor the
 * Google clients), and `deferred sweep` loads the sweep's alone. A word that names a command loads it even where it is
 * an argument (`deferred inspect sweep`): harmless, only slower.
 */
export async function commandsFor(args: readonly string[]): Promise<AnyCommand[]> {
  const words = new Set(args.filter((arg) => !arg.startsWith('-')));
  return Promise.all(
    (Object.keys(LOADERS) as CommandName[]).map((name) =>
      words.has(name) ? LOADERS[name]() : Promise.resolve(summaryOnly(name)),
    ),
  );
}

/** A command as `deferred --help` lists it. Never run: a command named on the command line is loaded in full. */
function summaryOnly(name: CommandName): AnyCommand {
  return {
    ...COMMAND_SUMMARIES[name],
    handler: () => {
      throw new Error(`internal error: the ${name} command was run without its module; report this.`);
    },
  };
}
