// README example "Metrics": defers, task outcomes and durations as OpenTelemetry metrics (Prometheus or Cloud Monitoring).
import { metrics } from '@opentelemetry/api';
import type { Deferred } from 'cloud-deferred';

export function recordTaskMetrics(deferred: Deferred) {
  const meter = metrics.getMeter('my-app');
  const runs = meter.createCounter('deferred_task_runs', { description: 'task runs by outcome' });
  const duration = meter.createHistogram('deferred_task_duration_ms', { unit: 'ms' });
  const reclaimed = meter.createCounter('deferred_sweep_deleted', { description: 'entities the sweeper deleted' });
  const deferrals = meter.createCounter('deferred_tasks_deferred', { description: 'defers by task and status' });
  deferred.on('taskDeferred', (event) => deferrals.add(1, { task: event.task, status: event.status }));
  for (const outcome of ['taskSucceeded', 'taskRetried', 'taskFailed'] as const) {
    deferred.on(outcome, (event) => {
      runs.add(1, { task: event.task, queue: event.queue, outcome });
      duration.record(event.durationMs, { task: event.task, outcome });
    });
  }
  deferred.on('sweepFinished', ({ stats }) => {
    for (const [reason, count] of Object.entries(stats.deleted)) reclaimed.add(count, { reason });
  });
}
