// README example "Metrics": task outcomes and durations as OpenTelemetry metrics (Prometheus or Cloud Monitoring).
import { metrics } from '@opentelemetry/api';
import type { Deferred } from 'cloud-deferred';

export function recordTaskMetrics(deferred: Deferred) {
  const meter = metrics.getMeter('my-app');
  const runs = meter.createCounter('deferred_task_runs', { description: 'task runs by outcome' });
  const duration = meter.createHistogram('deferred_task_duration_ms', { unit: 'ms' });
  const reclaimed = meter.createCounter('deferred_sweep_deleted', { description: 'entities the sweeper deleted' });
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
