/** The entry point `cloud-deferred/jobs`: mappers and recurring jobs, which register their tasks on the instance they are defined on, so the production entry loads none of them (nor cron-parser) unless the app imports this. */
export { defineMapper, type Mapper, type MapperOptions, type MapperJobSummary } from './mapper.js';
export type { MapperContext, QueriedEntity } from './mapper-step.js';
export { defineRecurringJob, type RecurringJob, type RecurringJobOptions } from './recurring.js';
export type { ScheduleSpec } from './schedule.js';
export type { MapperJobRecord, RecurringJobRecord } from './records.js';
