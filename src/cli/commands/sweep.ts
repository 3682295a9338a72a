/** `deferred sweep`: sweeps every shard of every namespace the runtime writes to in this process, in parallel, with a progress bar and summary tables (or JSON). */
import type { Argv, CommandModule } from 'yargs';
import { DEFAULT_SHARDS } from '../../store/schema.js';
import { checkTransientKind } from '../../sweeper/kinds.js';
import { atLeast } from '../../core/logger.js';
import type { Logger } from '../../types.js';
import { sweep } from '../../sweeper/sweep-all.js';
import { highestShardInUse } from '../../sweeper/sweep-namespaces.js';
import { notYetSweepable, sweepCandidates, type NotYetSweepable } from '../../sweeper/inventory.js';
import {
  KEEP_REASONS,
  addStats,
  emptyStats,
  totalDeleted,
  type KeepReason,
  type SweepStats,
} from '../../sweeper/sweep-stats.js';
import { formatDuration, parseDuration } from '../../util/duration.js';
import { connect, withConnection, type ConnectionArgs } from '../connection.js';
import { namespaceLabel, withNamespaceFlags, type NamespaceArgs } from '../namespace-flags.js';
import { EXIT } from '../exit-codes.js';
import { ProgressBar, humanMs, table } from '../render.js';
import { SHARD_COUNT } from '../../store/schema.js';
import { wholeNumber } from '../../util/whole-number.js';
import { COMMAND_SUMMARIES } from '../command-summaries.js';

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

/** How the summary names each reason to keep an entity. */
const KEPT_LABELS: Record<KeepReason, string> = {
  'not-due': 'within ETA + grace',
  'task-exists': 'Cloud Task exists',
  leased: 'running (lease held)',
  retention: 'within retention',
  'redrive-exists': 're-drive found the name taken',
  changed: 'changed during the sweep',
  'unknown-state': 'unknown state',
  'no-task-name': 'no Cloud Task name',
};

/** The summary rows of a sweep: `kept` is followed by its non-zero reasons. */
export function summaryRows(stats: SweepStats): (string | number)[][] {
  const kept = KEEP_REASONS.filter((reason) => (stats.keptBy?.[reason] ?? 0) > 0).map((reason) => [
    `  ${KEPT_LABELS[reason]}`,
    stats.keptBy[reason],
  ]);
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
    ...kept,
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

/** Why a sweep read nothing, in words: how many entities were too young, how many are retained. */
export function notScannedLine(found: NotYetSweepable, olderThanMs: number): string {
  if (found.younger === 0 && found.retained === 0) return 'Scanned 0: there are no task entities to sweep.';
  const plus = found.capped ? '+' : '';
  const parts = [
    found.younger > 0
      ? `${found.younger}${plus} created less than ${formatDuration(olderThanMs)} ago (--older-than)`
      : '',
    found.retained > 0 ? `${found.retained}${plus} finished and within their retention` : '',
  ].filter(Boolean);
  const total = found.younger + found.retained;
  return `Scanned 0 of ${total}${plus} task entit${total === 1 ? 'y' : 'ies'}: ${parts.join(', ')}. None was old enough to look at.`;
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
  ...COMMAND_SUMMARIES.sweep,
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
        describe:
          "keep done entities this long after they finished, in place of each entity's own retention (then every finished entity is read, not only those past their own)",
      })
      .option('retention-failed', {
        type: 'string',
        describe:
          "keep failed entities this long after they finished, in place of each entity's own retention (then every finished entity is read, not only those past their own)",
      })
      .option('shards', {
        type: 'number',
        default: DEFAULT_SHARDS,
        describe: 'number of shards the entities were written with',
      })
      .option('concurrency', { type: 'number', default: 16, describe: 'most concurrent Cloud Tasks look-ups' })
      .option('page-size', {
        type: 'number',
        default: 100,
        describe: 'task entities read at a time (the scan pages 5 times as many keys, at most 500)',
      })
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
        for (const kind of argv.kind as string[]) checkTransientKind(kind, '--kind');
        return true;
      }) as unknown as Argv<SweepArgs>,
  handler: async (argv) => {
    const connection = connect(argv);
    const bar = new ProgressBar();
    const graceMs = parseDuration(argv.grace, '--grace');
    const perShard = new Map<string, SweepStats>();
    const finished = new Set<string>();
    const olderThanMs = argv['older-than'] === undefined ? graceMs : parseDuration(argv['older-than'], '--older-than');
    const now = new Date();
    const retentionOverridden = Boolean(argv['retention-done'] || argv['retention-failed']);
    try {
      // On a terminal, the bar fills by entities read: count what the sweep will read first (index-only, bounded).
      let candidates: number | null = null;
      if (bar.enabled && !argv.json) {
        bar.update(0, argv.shards, 'counting the entities to read...', true, 0);
        const shards = Math.max(argv.shards, (await highestShardInUse(connection.datastore, connection.namespace)) + 1);
        candidates = await sweepCandidates(connection.datastore, {
          namespace: connection.namespace,
          shards,
          cutoffMs: now.getTime() - olderThanMs,
          dueBeforeMs: retentionOverridden ? null : now.getTime(),
        });
      }
      const result = await sweep({
        datastore: connection.datastore,
        tasks: connection.tasks,
        namespace: connection.namespace,
        shards: argv.shards,
        graceMs,
        olderThanMs,
        now,
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
          // Filled by entities read out of those counted (it moves within a shard); without a count, by shards done.
          const shardCount = Math.max(perShard.size, argv.shards);
          const progress = candidates
            ? Math.max(finished.size, Math.min(0.99, total.scanned / candidates) * shardCount)
            : finished.size;
          bar.update(
            finished.size,
            shardCount,
            `scanned ${total.scanned}  deleted ${totalDeleted(total)}  re-driven ${total.redriven}  kept ${total.kept}  errors ${total.errors}`,
            false,
            progress,
          );
        },
      });
      bar.done();
      const { stats } = result;
      // Scanned nothing: say why (index-only counts of what the cut-off and retention left out).
      let notScanned: NotYetSweepable | undefined;
      if (stats.scanned === 0) {
        notScanned = await notYetSweepable(connection.datastore, {
          namespace: connection.namespace,
          cutoffMs: now.getTime() - olderThanMs,
          nowMs: now.getTime(),
        });
      }
      if (argv.json) {
        process.stdout.write(
          `${JSON.stringify({ dryRun: argv['dry-run'], shards: result.shards.length, elapsedMs: result.elapsedMs, stats, ...(notScanned ? { notScanned } : {}), perShard: result.shards, namespaces: result.namespaces })}\n`,
        );
      } else {
        const spread = result.namespaces.length === 1 ? '' : ` over ${result.namespaces.length} namespaces`;
        const title = `${argv['dry-run'] ? 'Dry run (nothing changed)' : 'Sweep'} of ${connection.describe}: ${result.shards.length} shards${spread} in ${humanMs(result.elapsedMs)}`;
        process.stdout.write(`${title}\n\n${table([argv['dry-run'] ? 'would' : 'what', 'count'], summaryRows(stats))}`);
        process.stdout.write(
          `\nBy namespace:\n\n${table(['namespace', 'shards', 'scanned', 'deleted', 're-driven', 'kept', 'errors'], namespaceRows(result.namespaces))}`,
        );
        if (notScanned) process.stdout.write(`\n${notScannedLine(notScanned, olderThanMs)}\n`);
      }
      if (stats.errors > 0) process.exitCode = EXIT.failure;
    } finally {
      bar.done();
      await connection.close();
    }
  },
};
