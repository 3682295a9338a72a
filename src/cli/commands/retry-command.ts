/** `deferred retry <key>...` and `deferred retry --task <name> [--since 1h] [--dry-run]`: replays failed tasks once each through the failure ledger (`deferred.failures.retry`). */
import type { Argv, CommandModule } from 'yargs';
import { createDeferred } from '../../runtime/deferred-runtime.js';
import type { RetryResult } from '../../types.js';
import { toTaskKey } from '../../store/key-text.js';
import { parseDuration } from '../../util/duration.js';
import { appRuntime, withAppFlags, type AppArgs } from '../app-runtime.js';
import { actionBuilder, approve, failedAny, print, selected, type ActionArgs } from '../bulk-action.js';
import { connect } from '../connection.js';
import { EXIT } from '../exit-codes.js';
import { describeFilter } from '../failed-filter.js';
import { table } from '../render.js';
import { COMMAND_SUMMARIES } from '../command-summaries.js';

interface RetryArgs extends ActionArgs, AppArgs {
  'to-queue'?: string;
  delay?: string;
}

function retryLine(r: RetryResult): string[] {
  switch (r.status) {
    case 'retried':
      return [
        'retried',
        r.key,
        `as ${r.cloudTaskName}${r.enqueued ? '' : ` (its Cloud Task could not be created: ${r.error}; the sweeper will re-drive it)`}`,
      ];
    case 'would-retry':
      return ['would retry', r.key, `as ${r.cloudTaskName}`];
    case 'already-retried':
      return ['already retried', r.key, `as ${r.cloudTaskName ?? '?'}: not run again`];
    case 'not-failed':
      return ['not failed', r.key, `state ${r.state}: left alone`];
    case 'missing':
      return ['missing', r.key, 'no such record'];
    case 'error':
      return ['error', r.key, r.error ?? ''];
  }
}

export const retryCommand: CommandModule<object, RetryArgs> = {
  ...COMMAND_SUMMARIES.retry,
  builder: (yargs: Argv) =>
    withAppFlags(actionBuilder(yargs, 'retry'))
      .option('to-queue', { type: 'string', describe: 'replay into this queue instead of the one it failed in' })
      .option('delay', { type: 'string', describe: 'run the replays this long from now, e.g. 5m' })
      .example('$0 retry failed.default.1234567890123456789', 'replay one record')
      .example('$0 retry --task sendReport --since 1h --dry-run', 'what a bulk retry would replay, and as which tasks')
      .example(
        'DEFERRED_SECRET=... $0 retry --task sendReport --since 1h --yes --handler-url https://app/_deferred',
        'in a script',
      )
      .check((argv) => {
        if (argv.delay !== undefined) parseDuration(String(argv.delay), '--delay');
        return true;
      }) as unknown as Argv<RetryArgs>,
  handler: async (argv) => {
    const connection = connect(argv);
    try {
      // A dry run signs nothing and creates nothing: it needs no secret nor handler URL (placeholders, never used).
      const deferred = argv['dry-run']
        ? createDeferred({
            projectId: connection.projectId,
            location: connection.location,
            secret: 'dry-run-signs-nothing-0000',
            datastore: connection.datastore,
            tasks: connection.tasks,
          })
        : appRuntime(connection, argv);
      const options = {
        dryRun: argv['dry-run'],
        ...(argv['to-queue'] ? { queue: argv['to-queue'] } : {}),
        ...(argv.delay ? { delay: argv.delay } : {}),
      };
      const { keys, listed } = await selected(connection, argv);
      if (keys.length === 0) {
        return print(`No failed tasks in ${connection.describe} (${describeFilter(argv)}): nothing to retry.\n`);
      }
      if (!(await approve(argv, 'retry', keys.length, listed))) {
        process.exitCode = EXIT.failure;
        return;
      }
      const results = await deferred.failures.retry(
        keys.map((key) => toTaskKey(connection.datastore, key, connection.namespace)),
        options,
      );
      if (argv.json) print(`${JSON.stringify({ dryRun: argv['dry-run'], results })}\n`);
      else {
        print(table(['result', 'key', 'replay'], results.map(retryLine), 'lll'));
        const done = results.filter((r) => r.status === (argv['dry-run'] ? 'would-retry' : 'retried')).length;
        print(`\n${argv['dry-run'] ? `Would retry ${done}` : `Retried ${done}`} of ${results.length}.\n`);
      }
      if (failedAny(results)) process.exitCode = EXIT.failure;
    } finally {
      await connection.close();
    }
  },
};
