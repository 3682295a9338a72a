#!/usr/bin/env node
/** The `deferred` command line: parses arguments with yargs and dispatches to one module per command. */
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { commandsFor } from './commands.js';
import { EXIT } from './exit-codes.js';
import { usageLine } from './usage-errors.js';
import { InvalidArgumentError, PrerequisiteMissingError } from '../errors/index.js';

const args = hideBin(process.argv);
const cli = yargs(args)
  .scriptName('deferred')
  .usage(
    '$0 <command> [options]\n\nOperate cloud-deferred: sweep transient entities, inspect payloads, run the local stack.',
  )
  .command(await commandsFor(args))
  .demandCommand(1, 'Name a command; see the list above.')
  .strict()
  .recommendCommands()
  .epilogue(
    `Exit codes: ${Object.entries(EXIT)
      .filter(([name]) => name !== 'leak') // the main job's (npm start), not a command's
      .map(([name, code]) => `${code} ${name}`)
      .join(', ')}.\nDocs: README.md of the cloud-deferred package.`,
  )
  .help()
  .alias('help', 'h')
  .version()
  .wrap(Math.min(120, process.stdout.columns || 100))
  .fail((message, error) => {
    if (error instanceof PrerequisiteMissingError) {
      process.stderr.write(`deferred: ${error.message}\n`);
      process.exit(EXIT.prerequisite);
    }
    if (error && /Could not load the default credentials/.test(error.message)) {
      process.stderr.write(
        'deferred: no Google credentials: run `gcloud auth application-default login`, or point the command at emulators with --datastore-emulator-host and --tasks-emulator-host.\n',
      );
      process.exit(EXIT.prerequisite);
    }
    if (error instanceof InvalidArgumentError)
      message = error.message; // a flag's value failed its check: bad usage
    else if (error) {
      // One line: RPC errors after retries repeat every attempt's error ("... : Previous errors : [...]").
      const line = error.message.split('\n')[0]!.split(' : Previous errors')[0]!;
      process.stderr.write(`deferred: ${line.length > 500 ? `${line.slice(0, 500)}...` : line}\n`);
      process.exit(EXIT.failure);
    }
    process.stderr.write(`deferred: ${usageLine(message, args)}\n`);
    process.exit(EXIT.usage);
  });

await cli.parseAsync();
