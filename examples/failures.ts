// README example "Failure ledger": find what failed and why, then replay it once the bug is fixed.
import type { Deferred } from 'cloud-deferred';

export async function replayFailedReports(deferred: Deferred, sinceMs: number) {
  const report: string[] = [];
  // Newest first, served from the ledger's index; pass `cursor` back for the next page (null: nothing more).
  const { tasks } = await deferred.failures.list({ task: 'sendReport', since: sinceMs }, { limit: 20 });
  for (const failed of tasks) {
    const record = await deferred.failures.get(failed.key); // every attempt, the whole error, the decoded arguments
    const last = record!.history.at(-1)!;
    report.push(`${failed.key}: ${record!.history.length} attempts, the last answered ${last.status}: ${last.error}`);
  }
  // Each record is replayed once, with its arguments and options; asking again (from anywhere) runs nothing more.
  for (const result of await deferred.failures.retryMatching({ task: 'sendReport', since: sinceMs })) {
    report.push(`${result.status} ${result.key} as ${result.cloudTaskName}`);
  }
  return report;
}
