/** `deferred jobs`: list, show, enable, disable and run-now for recurring jobs, and the records of mapper jobs. */
import type { Argv, CommandModule } from 'yargs';
import { NotFoundError } from '../../errors/index.js';
import { appRuntime, withAppFlags, type AppArgs } from '../app-runtime.js';
import { jobKey } from '../../jobs/mapper-step.js';
import {
  MAPPER_JOB_KIND,
  MAPPER_SHARD_KIND,
  RECURRING_JOB_KIND,
  type MapperJobRecord,
  type MapperShardRecord,
  type RecurringJobRecord,
} from '../../jobs/records.js';
import { defineRecurringJob, disableRecurringJob, recurringJobKey } from '../../jobs/recurring.js';
import type { ScheduleSpec } from '../../jobs/schedule.js';
import { connect, withConnection, type Connection, type ConnectionArgs } from '../connection.js';
import { table } from '../render.js';
import { COMMAND_SUMMARIES } from '../command-summaries.js';

interface JobsArgs extends ConnectionArgs, AppArgs {
  json: boolean;
  name?: string;
}

const iso = (d: Date | null | undefined) => (d ? new Date(d).toISOString().replace('.000Z', 'Z') : '-');
const print = (text: string) => void process.stdout.write(text);

async function readRecurring(connection: Connection, name: string): Promise<RecurringJobRecord> {
  const [record] = await connection.datastore.get(recurringJobKey(connection.datastore, name));
  if (!record) {
    throw new NotFoundError(
      `no recurring job named "${name}": see "deferred jobs list" (a job appears once its app called ensure()).`,
    );
  }
  return record as RecurringJobRecord;
}

/** Enabling and run-now create Cloud Tasks: they need the app's secret and handler URL to sign and address them. */
function recurringFor(connection: Connection, argv: JobsArgs, name: string, record: RecurringJobRecord) {
  const spec = JSON.parse(record.scheduleSpec) as ScheduleSpec;
  const deferred = appRuntime(connection, argv, record.queue);
  return defineRecurringJob(deferred, name, spec, () => {
    throw new Error('recurring jobs run in the app, not in the CLI');
  });
}

function showRecurring(name: string, r: RecurringJobRecord) {
  print(
    table(
      ['field', 'value'],
      [
        ['name', name],
        ['type', 'recurring'],
        ['enabled', String(r.enabled)],
        ['status', r.status],
        ['schedule', r.schedule],
        ['next due', iso(r.nextDue)],
        ['last run started', iso(r.lastRunStarted)],
        ['last run finished', iso(r.lastRunFinished)],
        ['last run succeeded', r.lastRunSucceeded === null ? '-' : String(r.lastRunSucceeded)],
        ['last run message', r.lastRunMessage ?? '-'],
        ['runs', r.runs],
        ['chain', r.chain],
        ['queue', r.queue],
      ],
    ),
  );
}

const withName = (yargs: Argv, describe = 'recurring job name (as given to defineRecurringJob)') =>
  yargs.positional('name', { type: 'string', demandOption: true, describe });
const withCredentials = (yargs: Argv) => withAppFlags(yargs);

async function withConnectionDo(argv: JobsArgs, body: (connection: Connection) => Promise<void>) {
  const connection = connect(argv);
  try {
    await body(connection);
  } finally {
    await connection.close();
  }
}

const list: CommandModule<object, JobsArgs> = {
  command: 'list',
  describe: 'List recurring jobs and mapper jobs with their status',
  builder: (yargs) =>
    withConnection(yargs).option('json', {
      type: 'boolean',
      default: false,
      describe: 'print {recurring, mappers} as one JSON object',
    }) as Argv<JobsArgs>,
  handler: (argv) =>
    withConnectionDo(argv, async ({ datastore }) => {
      const [recurring] = await datastore.runQuery(datastore.createQuery(RECURRING_JOB_KIND));
      const [mappers] = await datastore.runQuery(datastore.createQuery(MAPPER_JOB_KIND));
      const name = (e: object) => (e as Record<symbol, { name?: string }>)[datastore.KEY]!.name!;
      if (argv.json) {
        print(
          `${JSON.stringify({ recurring: recurring.map((r) => ({ name: name(r), ...r })), mappers: mappers.map((m) => ({ jobId: name(m), ...m })) })}\n`,
        );
        return;
      }
      if (recurring.length === 0 && mappers.length === 0) {
        print('No jobs yet: recurring jobs appear once the app calls ensure(), mapper jobs once started.\n');
        return;
      }
      if (recurring.length) {
        print('Recurring jobs:\n\n');
        print(
          table(
            ['name', 'enabled', 'status', 'schedule', 'next due', 'last run', 'result', 'runs'],
            (recurring as RecurringJobRecord[]).map((r) => [
              name(r),
              r.enabled ? 'yes' : 'no',
              r.status,
              r.schedule,
              iso(r.nextDue),
              iso(r.lastRunFinished),
              r.lastRunSucceeded === null
                ? '-'
                : r.lastRunSucceeded
                  ? 'ok'
                  : `failed: ${r.lastRunMessage ?? ''}`.slice(0, 60),
              r.runs,
            ]),
          ),
        );
      }
      if (mappers.length) {
        print(`${recurring.length ? '\n' : ''}Mapper jobs:\n\n`);
        print(
          table(
            ['job id', 'mapper', 'status', 'processed', 'failed', 'shards done', 'started', 'finished'],
            (mappers as MapperJobRecord[]).map((m) => [
              name(m),
              m.mapper,
              m.status,
              m.processed,
              m.failed,
              `${m.shardsDone}/${m.shards}`,
              iso(m.startedAt),
              iso(m.finishedAt),
            ]),
          ),
        );
      }
    }),
};

const show: CommandModule<object, JobsArgs> = {
  command: 'show <name>',
  describe: 'Show one recurring job, or one mapper job by its id (with its shards)',
  builder: (yargs) =>
    withName(withConnection(yargs), 'recurring job name, or mapper job id').option('json', {
      type: 'boolean',
      default: false,
      describe: 'print the job record as one JSON object',
    }) as Argv<JobsArgs>,
  handler: (argv) =>
    withConnectionDo(argv, async (connection) => {
      const { datastore } = connection;
      const name = argv.name!;
      const [[recurring], [mapper]] = await Promise.all([
        datastore.get(recurringJobKey(datastore, name)),
        datastore.get(jobKey(datastore, name)),
      ]);
      if (recurring) {
        if (argv.json) return print(`${JSON.stringify({ name, ...recurring })}\n`);
        return showRecurring(name, recurring as RecurringJobRecord);
      }
      if (!mapper) {
        throw new NotFoundError(`no recurring job or mapper job named "${name}": see "deferred jobs list".`);
      }
      const [shards] = await datastore.runQuery(
        datastore.createQuery(MAPPER_SHARD_KIND).hasAncestor(jobKey(datastore, name)),
      );
      const m = mapper as MapperJobRecord;
      if (argv.json) return print(`${JSON.stringify({ jobId: name, ...m, shardRecords: shards })}\n`);
      print(
        table(
          ['field', 'value'],
          [
            ['job id', name],
            ['type', 'mapper'],
            ['mapper', m.mapper],
            ['status', m.status],
            ['processed', m.processed],
            ['failed', m.failed],
            ['shards done', `${m.shardsDone}/${m.shards}`],
            ['started', iso(m.startedAt)],
            ['finished', iso(m.finishedAt)],
            ['message', m.message],
          ],
        ),
      );
      if (m.failures?.length)
        print(`\nFailures (first ${m.failures.length}):\n${m.failures.map((f) => `  ${f}`).join('\n')}\n`);
      print(`\nShards:\n\n`);
      print(
        table(
          ['shard', 'status', 'step', 'processed', 'failed', 'updated'],
          (shards as MapperShardRecord[]).map((s, i) => [i, s.status, s.step, s.processed, s.failed, iso(s.updatedAt)]),
        ),
      );
    }),
};

const enable: CommandModule<object, JobsArgs> = {
  command: 'enable <name>',
  describe: 'Enable a recurring job (a new chain starts; an enabled job is left as it is)',
  builder: (yargs) => withCredentials(withName(withConnection(yargs))) as Argv<JobsArgs>,
  handler: (argv) =>
    withConnectionDo(argv, async (connection) => {
      const record = await readRecurring(connection, argv.name!);
      if (record.enabled) return print(`${argv.name} is already enabled; next run ${iso(record.nextDue)}.\n`);
      const after = await recurringFor(connection, argv, argv.name!, record).enable();
      print(`${argv.name} enabled; next run ${iso(after.nextDue)}.\n`);
    }),
};

const disable: CommandModule<object, JobsArgs> = {
  command: 'disable <name>',
  describe:
    'Disable a recurring job: its next scheduled run, already queued, sees the flag and neither runs nor schedules another',
  builder: (yargs) => withName(withConnection(yargs)) as Argv<JobsArgs>,
  handler: (argv) =>
    withConnectionDo(argv, async (connection) => {
      await readRecurring(connection, argv.name!);
      await disableRecurringJob(connection.datastore, argv.name!);
      print(`${argv.name} disabled.\n`);
    }),
};

const runNow: CommandModule<object, JobsArgs> = {
  command: 'run-now <name>',
  describe: 'Run a recurring job once, now, outside its schedule (recorded like any run)',
  builder: (yargs) => withCredentials(withName(withConnection(yargs))) as Argv<JobsArgs>,
  handler: (argv) =>
    withConnectionDo(argv, async (connection) => {
      const record = await readRecurring(connection, argv.name!);
      await recurringFor(connection, argv, argv.name!, record).runNow();
      print(
        `${argv.name}: a run was enqueued on queue ${record.queue}; see "deferred jobs show ${argv.name}" for its outcome.\n`,
      );
    }),
};

export const jobsCommand: CommandModule<object, object> = {
  ...COMMAND_SUMMARIES.jobs,
  builder: (yargs: Argv) =>
    yargs
      .command(list)
      .command(show)
      .command(enable)
      .command(disable)
      .command(runNow)
      .demandCommand(1, 'Name a jobs command: list, show, enable, disable or run-now.')
      .example('$0 jobs list', 'every recurring job and mapper job with its status')
      .example('$0 jobs disable nightlyReport', 'stop a recurring job')
      .example('DEFERRED_SECRET=... $0 jobs run-now nightlyReport --handler-url https://app/_deferred', 'run it now'),
  handler: () => undefined,
};
