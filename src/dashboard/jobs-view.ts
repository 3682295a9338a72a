/** The jobs views: recurring jobs with Enable / Disable / Run now, and mapper jobs with their progress, failures and shards. */
import { InvalidArgumentError } from '../errors/invalid-argument.js';
import { jobKey } from '../jobs/mapper-step.js';
import {
  MAPPER_JOB_KIND,
  MAPPER_SHARD_KIND,
  RECURRING_JOB_KIND,
  type MapperJobRecord,
  type MapperShardRecord,
  type RecurringJobRecord,
} from '../jobs/records.js';
import { defineRecurringJob, disableRecurringJob, recurringJobKey } from '../jobs/recurring.js';
import type { ScheduleSpec } from '../jobs/schedule.js';
import { keyOf } from '../store/datastore.js';
import type { Reader, ReadCost } from './reads.js';
import type { DashboardSource } from './source.js';

/** Most recurring jobs and mapper jobs listed. */
const RECURRING_LIMIT = 200;
const MAPPER_LIMIT = 50;

const iso = (value: unknown) => (value instanceof Date ? value.toISOString() : null);

function recurringView(name: string, r: RecurringJobRecord) {
  return {
    name,
    enabled: r.enabled === true,
    status: r.status,
    schedule: r.schedule,
    queue: r.queue,
    nextDue: iso(r.nextDue),
    lastRunStarted: iso(r.lastRunStarted),
    lastRunFinished: iso(r.lastRunFinished),
    lastRunSucceeded: r.lastRunSucceeded ?? null,
    lastRunMessage: r.lastRunMessage ?? null,
    runs: Number(r.runs ?? 0),
  };
}

function mapperView(jobId: string, m: MapperJobRecord) {
  return {
    jobId,
    mapper: m.mapper,
    status: m.status,
    shards: Number(m.shards ?? 0),
    shardsDone: Number(m.shardsDone ?? 0),
    processed: Number(m.processed ?? 0),
    failed: Number(m.failed ?? 0),
    failures: (m.failures ?? []).slice(0, 20),
    startedAt: iso(m.startedAt),
    finishedAt: iso(m.finishedAt),
    message: m.message ?? '',
  };
}

/** Recurring jobs (by name) and the newest mapper jobs (by `startedAt`, descending), one read per record. */
export async function listJobs(reader: Reader): Promise<{
  recurring: ReturnType<typeof recurringView>[];
  mappers: ReturnType<typeof mapperView>[];
  cost: ReadCost;
}> {
  const ds = reader.datastore;
  const [recurring, mappers] = await Promise.all([
    reader.entities(reader.query(RECURRING_JOB_KIND).limit(RECURRING_LIMIT)),
    reader.entities(reader.query(MAPPER_JOB_KIND).order('startedAt', { descending: true }).limit(MAPPER_LIMIT)),
  ]);
  return {
    recurring: recurring
      .map((r) => recurringView(String(keyOf(ds, r).name), r as unknown as RecurringJobRecord))
      .sort((a, b) => a.name.localeCompare(b.name)),
    mappers: mappers.map((m) => mapperView(String(keyOf(ds, m).name), m as unknown as MapperJobRecord)),
    cost: { ...reader.cost },
  };
}

/** One mapper job with its shard records. */
export async function readMapperJob(reader: Reader, jobId: string) {
  const ds = reader.datastore;
  const [job] = await reader.get([jobKey(ds, jobId)]);
  if (!job) return null;
  const shards = await reader.entities(reader.query(MAPPER_SHARD_KIND).hasAncestor(jobKey(ds, jobId)));
  return {
    ...mapperView(jobId, job as unknown as MapperJobRecord),
    shardRecords: shards.map((s) => {
      const shard = s as unknown as MapperShardRecord;
      return {
        shard: Number(keyOf(ds, s).id) - 1,
        status: shard.status,
        step: shard.step,
        processed: shard.processed,
        failed: shard.failed,
        updatedAt: iso(shard.updatedAt),
      };
    }),
    cost: { ...reader.cost },
  };
}

async function readRecurring(source: DashboardSource, name: string): Promise<RecurringJobRecord> {
  if (typeof name !== 'string' || name === '') throw new InvalidArgumentError('name the recurring job.');
  const [record] = await source.datastore.get(recurringJobKey(source.datastore, name));
  if (!record) throw new InvalidArgumentError(`no recurring job named "${name}".`);
  return record as RecurringJobRecord;
}

/** Enable, disable or run now: what the CLI's `deferred jobs` does, from the record alone. */
export async function changeRecurringJob(
  source: DashboardSource,
  name: string,
  action: 'enable' | 'disable' | 'run-now',
): Promise<string> {
  const record = await readRecurring(source, name);
  if (action === 'disable') {
    await disableRecurringJob(source.datastore, name);
    return `${name} disabled`;
  }
  const operator = source.operator(record.queue);
  if (!operator) {
    throw new InvalidArgumentError(
      `${action === 'enable' ? 'enabling' : 'running'} a job creates a Cloud Task: give the dashboard the app's runtime (deferred), or start \`deferred dashboard\` with --secret and --handler-url.`,
    );
  }
  const job = defineRecurringJob(
    operator,
    name,
    { ...(JSON.parse(record.scheduleSpec) as ScheduleSpec), queue: record.queue },
    () => {
      throw new Error('recurring jobs run in the app, not in the dashboard');
    },
  );
  if (action === 'enable') {
    if (record.enabled) return `${name} is already enabled`;
    const after = await job.enable();
    return `${name} enabled; next run ${iso(after.nextDue) ?? '-'}`;
  }
  await job.runNow();
  return `${name}: a run was enqueued on queue ${record.queue}`;
}
