/** Running a function in a Datastore transaction, committing it, and retrying it when the commit loses a race (ABORTED). */
import type { Datastore, Transaction } from '@google-cloud/datastore';

const ABORTED = 10;

/** True for the gRPC errors a transaction should be retried on: ABORTED (contention). */
export function isContention(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === ABORTED || (error instanceof Error && /\bABORTED\b|too much contention/i.test(error.message));
}

/**
 * Runs `body` in a fresh transaction, commits, and returns its result. Rolls back when `body` throws. When the commit
 * (or a read) fails on contention, starts over, at most `retries` more times.
 */
export async function inTransaction<T>(
  datastore: Datastore,
  body: (tx: Transaction) => Promise<T>,
  retries = 5,
): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    const tx = datastore.transaction();
    await tx.run();
    let result: T;
    try {
      result = await body(tx);
    } catch (error) {
      await tx.rollback().catch(() => undefined);
      if (isContention(error) && attempt < retries) {
        await backoff(attempt);
        continue;
      }
      throw error;
    }
    try {
      await tx.commit();
      return result;
    } catch (error) {
      if (isContention(error) && attempt < retries) {
        await backoff(attempt);
        continue;
      }
      throw error;
    }
  }
}

function backoff(attempt: number): Promise<void> {
  const ms = Math.min(1000, 20 * 2 ** attempt) * (0.5 + Math.random());
  return new Promise((resolve) => setTimeout(resolve, ms));
}
