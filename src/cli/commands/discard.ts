/** `deferred discard <key>... | --task ... [--dry-run]`: deletes failure records and their payload chunks now, through the failure ledger's discard. */
import type { Argv, CommandModule } from 'yargs';
import { discardFailedTasks } from '../../failures/discard-failed.js';
import type { DiscardResult } from '../../types.js';
import { toTaskKey } from '../../store/key-text.js';
import { actionBuilder, approve, failedAny, print, selected, type ActionArgs } from '../bulk-action.js';
import { connect } from '../connection.js';
import { EXIT } from '../exit-codes.js';
import { describeFilter } from '../failed-filter.js';
import { table } from '../render.js';
import { COMMAND_SUMMARIES } from '../command-summaries.js';

function discardLine(r: DiscardResult): string[] {
  switch (r.status) {
    case 'discarded':
      return ['discarded', r.key, `${r.task}: record and payload deleted`];
    case 'would-discard':
      return ['would discard', r.key, r.task ?? ''];
    case 'not-failed':
      return ['not failed', r.key, `state ${r.state}: left alone (only failure records are discarded)`];
    case 'missing':
      return ['missing', r.key, 'no such record'];
    case 'error':
      return ['error', r.key, r.error ?? ''];
  }
}

export const discardCommand: CommandModule<object, ActionArgs> = {
  ...COMMAND_SUMMARIES.discard,
  builder: (yargs: Argv) =>
    actionBuilder(yargs, 'discard')
      .example('$0 discard failed.default.1234567890123456789', 'one record')
      .example(
        '$0 discard --task oldJob --yes',
        'every failure of a task that no longer exists',
      ) as unknown as Argv<ActionArgs>,
  handler: async (argv) => {
    const connection = connect(argv);
    try {
      const { keys, listed } = await selected(connection, argv);
      if (keys.length === 0) {
        return print(`No failed tasks in ${connection.describe} (${describeFilter(argv)}): nothing to discard.\n`);
      }
      if (!(await approve(argv, 'discard', keys.length, listed))) {
        process.exitCode = EXIT.failure;
        return;
      }
      const results = await discardFailedTasks(
        connection.datastore,
        keys.map((key) => toTaskKey(connection.datastore, key, connection.namespace)),
        { dryRun: argv['dry-run'] },
      );
      if (argv.json) print(`${JSON.stringify({ dryRun: argv['dry-run'], results })}\n`);
      else {
        print(table(['result', 'key', 'what'], results.map(discardLine), 'lll'));
        const done = results.filter((r) => r.status === (argv['dry-run'] ? 'would-discard' : 'discarded')).length;
        print(`\n${argv['dry-run'] ? `Would discard ${done}` : `Discarded ${done}`} of ${results.length}.\n`);
      }
      if (failedAny(results)) process.exitCode = EXIT.failure;
    } finally {
      await connection.close();
    }
  },
};
