/** `deferred sweep`: sweeps every shard of every namespace the runtime writes to in this process, in parallel, with a progress bar and summary tables (or JSON). */
import type { Argv, CommandModule } from 'yargs';
import { DEFAULT_SHARDS } from '../../store/schema.js';
import { checkTransientKind } from '../../sweeper/kinds.js';
import { atLeast } from '../../core/logger.js';
import type { Logger } from '../../types.js';
import { sweep } from '../../sweeper/sweep-all.js';
import { addStats, emptyStats, totalDeleted, type SweepStats } from '../../sweeper/sweep-stats.js';
import { parseDuration } from '../../util/duration.js';
import { connect, withConnection, type ConnectionArgs } from '../connection.js';
import { namespaceLabel, withNamespaceFlags, type NamespaceArgs } from '../namespace-flags.js';
import { EXIT } from '../exit-codes.js';
import { ProgressBar, humanMs, table } from '../render.js';
import { SHARD_COUNT } from '../../store/schema.js';
import { wholeNumber } from '../../util/whole-number.js';

interface SweepArgs extends ConnectionArgs, NamespaceArgs {
  'older-than'?: string;
  grace: string;
  'retention-done'?: string;
  'retention-failed'?: string;
  shards: number;
  concurrency: number;
  'page-size': number;
  'dry-run': boolean;
  json: boolean;
  kind: string[];
  verbose: boolean;
}

/** The summary rows of a sweep. */
export function summaryRows(stats: SweepStats): (string | number)[][] {
  return [
    ['scanned', stats.scanned],
    ['deleted: done', stats.deleted.done],
    ['deleted: failed', stats.deleted.failed],
    ['deleted: retried', stats.deleted.retried],
    ['deleted: leaked', stats.deleted.leaked],
    ['deleted: expired', stats.deleted.expired],
    ['deleted: other transient kinds', stats.deleted.transientKind],
    ['re-driven', stats.redriven],
    ['kept', stats.kept],
    ['errors', stats.errors],
  ];
}

/** The per-namespace rows of a sweep. */
export function namespaceRows(
  namespaces: readonly { namespace: string; shards: number; stats: SweepStats }[],
): (string | number)[][] {
  return namespaces.map(({ namespace, shards, stats }) => [
    namespaceLabel(namespace),
    shards,
    stats.scanned,
    totalDeleted(stats),
    stats.redriven,
    stats.kept,
    stats.errors,
  ]);
}

/** A logger for the terminal: WARNING and ERROR as one line on stderr; everything as JSON with --verbose. */
function terminalLogger(verbose: boolean, bar: ProgressBar): Logger {
  return {
    write(entry) {
      if (verbose) {
        bar.done();
        process.stderr.write(`${JSON.stringify(entry)}\n`);
      } else if (atLeast(entry.severity, 'WARNING')) {
        bar.done();
        process.stderr.write(`deferred: ${entry.severity.toLowerCase()}: ${entry.message}\n`);
      }
    },
  };
}

export const sweepCommand: CommandModule<object, SweepArgs> = {
  command: 'sweep',
  describe:
    'Sweep transient entities now: every shard of the namespace and of the namespaces it writes to, in parallel, in this process',
  builder: (yargs: Argv) =>
    withNamespaceFlags(withConnection(yargs), 'sweep')
      .option('older-than', {
        type: 'string',
        describe: 'only look at entities created longer ago than this, e.g. 30m, 2h, 7d (default: --grace)',
      })
      .option('grace', {
        type: 'string',
        default: '10m',
        describe: 'how long past its ETA an unfinished task may be missing from Cloud Tasks before it counts as gone',
      })
      .option('retention-done', {
        type: 'string',
        describe: "keep done entities this long (default: each entity's own; given, every finished entity is read)",
      })
      .option('retention-failed', {
        type: 'string',
        describe: "keep failed entities this long (default: each entity's own; given, every finished entity is read)",
      })
      .option('shards', {
        type: 'number',
        default: DEFAULT_SHARDS,
        describe: 'number of shards the entities were written with',
      })
      .option('concurrency', { type: 'number', default: 16, describe: 'most concurrent Cloud Tasks look-ups' })
      .option('page-size', { type: 'number', default: 100, describe: 'entities read per query page' })
      .option('dry-run', { type: 'boolean', default: false, describe: 'decide and count, change nothing' })
      .option('json', {
        type: 'boolean',
        default: false,
        describe: 'print the result as one JSON object (for scripts)',
      })
      .option('kind', {
        type: 'string',
        array: true,
        default: [] as string[],
        describe:
          'also sweep this underscore-prefixed kind by expireAt (repeatable; needed where __kind__ queries fail)',
      })
      .option('verbose', {
        alias: 'v',
        type: 'boolean',
        default: false,
        describe: 'log every decision as JSON on stderr',
      })
      .example('$0 sweep --dry-run', 'show what a sweep would delete and re-drive')
      .example('$0 sweep --all-namespaces --dry-run', 'also look at every namespace of the database (after an upgrade)')
      .example('$0 sweep --older-than 1h --shards 32 --json', 'sweep entities older than an hour, 32 shards, JSON out')
      .check((argv) => {
        for (const flag of ['older-than', 'grace', 'retention-done', 'retention-failed'] as const) {
          if (argv[flag] !== undefined) parseDuration(String(argv[flag]), `--${flag}`);
        }
        wholeNumber(argv.shards, '--shards', SHARD_COUNT);
        wholeNumber(argv.concurrency, '--concurrency', { min: 1, max: 1000 });
        wholeNumber(argv['page-size'], '--page-size', { min: 1, max: 1000 });
        for (const kind of argv.kind as string[]) checkTransientKind(kind);
        return true;
      }) as unknown as Argv<SweepArgs>,
  handler: async (argv) => {
    const connection = connect(argv);
    const bar = new ProgressBar();
    const graceMs = parseDuration(argv.grace, '--grace');
    const perShard = new Map<string, SweepStats>();
    const finished = new Set<string>();
    try {
      const result = await sweep({
        datastore: connection.datastore,
        tasks: connection.tasks,
        namespace: connection.namespace,
        shards: argv.shards,
        graceMs,
        olderThanMs: argv['older-than'] === undefined ? graceMs : parseDuration(argv['older-than'], '--older-than'),
        retention: {
          ...(argv['retention-done'] ? { doneMs: parseDuration(argv['retention-done'], '--retention-done') } : {}),
          ...(argv['retention-failed']
            ? { failedMs: parseDuration(argv['retention-failed'], '--retention-failed') }
            : {}),
        },
        concurrency: argv.concurrency,
        pageSize: argv['page-size'],
        dryRun: argv['dry-run'],
        kinds: argv.kind,
        namespaces: argv['also-namespace'],
        discoverNamespaces: argv['all-namespaces'],
        log: terminalLogger(argv.verbose, bar),
        onProgress: ({ namespace, shard, stats, done }) => {
          const id = `${namespace}/${shard}`;
          perShard.set(id, stats);
          if (done) finished.add(id);
          const total = [...perShard.values()].reduce((sum, s) => addStats(sum, s), emptyStats());
          bar.update(
            finished.size,
            Math.max(perShard.size, argv.shards),
            `scanned ${total.scanned}  deleted ${totalDeleted(total)}  re-driven ${total.redriven}  kept ${total.kept}  errors ${total.errors}`,
          );
        },
      });
      bar.done();
      const { stats } = result;
      if (argv.json) {
        process.stdout.write(
          `${JSON.stringify({ dryRun: argv['dry-run'], shards: result.shards.length, elapsedMs: result.elapsedMs, stats, perShard: result.shards, namespaces: result.namespaces })}\n`,
        );
      } else {
        const spread = result.namespaces.length === 1 ? '' : ` over ${result.namespaces.length} namespaces`;
        const title = `${argv['dry-run'] ? 'Dry run (nothing changed)' : 'Sweep'} of ${connection.describe}: ${result.shards.length} shards${spread} in ${humanMs(result.elapsedMs)}`;
        process.stdout.write(`${title}\n\n${table([argv['dry-run'] ? 'would' : 'what', 'count'], summaryRows(stats))}`);
        process.stdout.write(
          `\nBy namespace:\n\n${table(['namespace', 'shards', 'scanned', 'deleted', 're-driven', 'kept', 'errors'], namespaceRows(result.namespaces))}`,
        );
      }
      if (stats.errors > 0) process.exitCode = EXIT.failure;
    } finally {
      bar.done();
      await connection.close();
    }
  },
};
