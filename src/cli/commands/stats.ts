/** `deferred stats`: transient entities by state and age, chunks, and other underscore kinds, read from indexes only. */
import type { Argv, CommandModule } from 'yargs';
import { checkTransientKind } from '../../sweeper/kinds.js';
import { AGE_BUCKETS, inventory } from '../../sweeper/inventory.js';
import { connect, withConnection, type ConnectionArgs } from '../connection.js';
import { table } from '../render.js';

interface StatsArgs extends ConnectionArgs {
  json: boolean;
  kind: string[];
}

export const statsCommand: CommandModule<object, StatsArgs> = {
  command: 'stats',
  describe: 'Count transient entities by state and age (index-only queries; payloads are not read)',
  builder: (yargs: Argv) =>
    withConnection(yargs)
      .option('json', { type: 'boolean', default: false, describe: 'print the counts as one JSON object' })
      .option('kind', {
        type: 'string',
        array: true,
        default: [] as string[],
        describe: 'also count this underscore-prefixed kind (repeatable; needed where __kind__ queries fail)',
      })
      .example('$0 stats', 'task entities by state and age in the default namespace')
      .check((argv) => {
        for (const kind of argv.kind as string[]) checkTransientKind(kind);
        return true;
      }) as unknown as Argv<StatsArgs>,
  handler: async (argv) => {
    const connection = connect(argv);
    try {
      const found = await inventory(connection.datastore, { namespace: connection.namespace, kinds: argv.kind });
      if (argv.json) {
        process.stdout.write(`${JSON.stringify(found)}\n`);
        return;
      }
      const labels = AGE_BUCKETS.map((b) => b.label);
      const states = ['pending', 'running', 'done', 'failed', 'unknown'].filter((s) => found.tasks[s]);
      const rows = states.map((state) => {
        const counts = labels.map((label) => found.tasks[state]![label] ?? 0);
        return [state, ...counts, counts.reduce((a, b) => a + b, 0)];
      });
      const totals = labels.map((label) => states.reduce((sum, s) => sum + (found.tasks[s]![label] ?? 0), 0));
      rows.push(['total', ...totals, found.totalTasks]);
      process.stdout.write(`_DeferredTask entities in ${connection.describe}, by state and age:\n\n`);
      process.stdout.write(table(['state', ...labels, 'total'], rows));
      process.stdout.write(`\npast expireAt: ${found.expiredTasks}   payload chunks: ${found.chunks}\n`);
      const kinds = Object.entries(found.kinds);
      if (kinds.length) {
        process.stdout.write(`\nOther transient kinds:\n\n`);
        process.stdout.write(
          table(
            ['kind', 'entities', 'past expireAt'],
            kinds.map(([k, v]) => [k, v.entities, v.expired]),
          ),
        );
      }
    } finally {
      await connection.close();
    }
  },
};
