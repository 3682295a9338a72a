/** The list of `deferred` sub-commands; each lives in its own module under commands/. */
import type { CommandModule } from 'yargs';
import { devCommand } from './commands/dev.js';
import { emulatorCommand } from './commands/emulator.js';
import { inspectCommand } from './commands/inspect.js';
import { statsCommand } from './commands/stats.js';
import { sweepCommand } from './commands/sweep.js';
import { jobsCommand } from './commands/jobs.js';
import { dashboardCommand } from './commands/dashboard.js';
import { failedCommand } from './commands/failed.js';
import { retryCommand } from './commands/retry-command.js';
import { discardCommand } from './commands/discard.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- yargs command modules differ in their argument types
export const commands: CommandModule<any, any>[] = [];
commands.push(emulatorCommand); // deferred emulator tasks
commands.push(sweepCommand); // deferred sweep
commands.push(statsCommand); // deferred stats
commands.push(inspectCommand); // deferred inspect <key>
commands.push(devCommand); // deferred dev
commands.push(jobsCommand); // deferred jobs list|show|enable|disable|run-now
commands.push(dashboardCommand); // deferred dashboard
commands.push(failedCommand); // deferred failed [list] | show <key>
commands.push(retryCommand); // deferred retry <key>... | --task ...
commands.push(discardCommand); // deferred discard <key>... | --task ...
