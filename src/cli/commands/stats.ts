/** `deferred stats`: transient entities by state and age, in the runtime's namespace and each one it writes to, chunks, and other underscore kinds, read from indexes only. */
import type { Argv, CommandModule } from 'yargs';
import { checkTransientKind } from '../../sweeper/kinds.js';
import { AGE_BUCKETS, inventoryAll } from '../../sweeper/inventory.js';
import { connect, withConnection, type ConnectionArgs } from '../connection.js';
import { namespaceLabel, withNamespaceFlags, type NamespaceArgs } from '../namespace-flags.js';
import { table } from '../render.js';
import { COMMAND_SUMMARIES } from '../command-summaries.js';

/** The states of the table by namespace: every state, so that each row adds up to its total (`unknown` aside). */
const BY_NAMESPACE_STATES = ['pending', 'running', 'done', 'failed', 'retried'];

interface StatsArgs extends ConnectionArgs, NamespaceArgs {
  json: boolean;
  kind: string[];
}

export const statsCommand: CommandModule<object, StatsArgs> = {
  ...COMMAND_SUMMARIES.stats,
  builder: (yargs: Argv) =>
    withNamespaceFlags(withConnection(yargs), 'count')
      .option('json', { type: 'boolean', default: false, describe: 'print the counts as one JSON object' })
      .option('kind', {
        type: 'string',
        array: true,
        default: [] as string[],
        describe: 'also count this underscore-prefixed kind (repeatable; needed where __kind__ queries fail)',
      })
      .example('$0 stats', 'task entities by state and age in the namespace and the ones it writes to')
      .check((argv) => {
        for (const kind of argv.kind as string[]) checkTransientKind(kind, '--kind');
        return true;
      }) as unknown as Argv<StatsArgs>,
  handler: async (argv) => {
    const connection = connect(argv);
    try {
      const found = await inventoryAll(connection.datastore, {
        namespace: connection.namespace,
        kinds: argv.kind,
        namespaces: argv['also-namespace'],
        discover: argv['all-namespaces'],
        log: {
          write: (entry) => void process.stderr.write(`deferred: ${entry.severity.toLowerCase()}: ${entry.message}\n`),
        },
      });
      if (argv.json) {
        process.stdout.write(`${JSON.stringify(found)}\n`);
        return;
      }
      const labels = AGE_BUCKETS.map((b) => b.label);
      const states = ['pending', 'running', 'done', 'failed', 'retried', 'unknown'].filter((s) => found.tasks[s]);
      const rows = states.map((state) => {
        const counts = labels.map((label) => found.tasks[state]![label] ?? 0);
        return [state, ...counts, counts.reduce((a, b) => a + b, 0)];
      });
      const totals = labels.map((label) => states.reduce((sum, s) => sum + (found.tasks[s]![label] ?? 0), 0));
      rows.push(['total', ...totals, found.totalTasks]);
      const where = found.namespaces.length === 1 ? '' : ` (${found.namespaces.length} namespaces)`;
      process.stdout.write(`_DeferredTask entities in ${connection.describe}${where}, by state and age:\n\n`);
      process.stdout.write(table(['state', ...labels, 'total'], rows));
      process.stdout.write(`\npast expireAt: ${found.expiredTasks}   payload chunks: ${found.chunks}\n`);
      process.stdout.write(`\nBy namespace:\n\n`);
      process.stdout.write(
        table(
          ['namespace', 'tasks', ...BY_NAMESPACE_STATES, 'past expireAt', 'chunks'],
          found.namespaces.map((n) => [
            namespaceLabel(n.namespace),
            n.totalTasks,
            ...BY_NAMESPACE_STATES.map((state) => Object.values(n.tasks[state] ?? {}).reduce((a, b) => a + b, 0)),
            n.expiredTasks,
            n.chunks,
          ]),
        ),
      );
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
