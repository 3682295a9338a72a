// README example "Quick start": one instance, a task, three ways to defer it, and the handler on node:http.
import http from 'node:http';
import type { Datastore } from '@google-cloud/datastore';
import type { CloudTasksClient } from '@google-cloud/tasks';
import { createDeferred, currentTask } from 'cloud-deferred';

export function createWorker(clients: { datastore: Datastore; tasks: CloudTasksClient; handlerUrl: string }) {
  const deferred = createDeferred({
    projectId: 'my-project',
    location: 'europe-west1',
    queue: 'default',
    handlerUrl: clients.handlerUrl, // e.g. 'https://worker-abc.a.run.app/_deferred'
    secret: process.env.DEFERRED_SECRET ?? 'dev-only-secret-change-me',
    datastore: clients.datastore,
    tasks: clients.tasks,
  });

  const sent: string[] = [];
  // Register every task at start-up, in code that both the deferring side and the worker load.
  const sendReport = deferred.task('sendReport', async (userId: string, since: Date) => {
    const { retryCount, cloudTaskName } = currentTask()!;
    sent.push(`${userId} since ${since.toISOString()} (retry ${retryCount}, ${cloudTaskName.split('/').pop()})`);
  });

  // The handler serves <basePath>/tasks/<task name>; it is also Express middleware: app.use(deferred.handler).
  // Timeouts: a client that sends its request slowly is dropped after 30 s, not Node's default 300 s.
  const server = http.createServer(
    { headersTimeout: 10_000, requestTimeout: 30_000, connectionsCheckingInterval: 1_000 },
    deferred.handler,
  );
  return { deferred, sendReport, server, sent };
}

export async function deferReports(worker: ReturnType<typeof createWorker>) {
  const { deferred, sendReport } = worker;
  const since = new Date('2026-01-01T00:00:00Z');
  await sendReport.defer('u1', since); // arguments are type-checked and encoded now
  await sendReport.with({ delay: '5m', name: 'report-u2-2026-01' }).defer('u2', since);
  await deferred.defer(sendReport, 'u3', since); // App Engine's defer(fn, ...args) style
}
