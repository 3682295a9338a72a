/** Running a function in a Datastore transaction, committing it, and retrying it when the commit loses a race (ABORTED) or, on request, hits another transient error. */
import type { Datastore, Transaction } from '@google-cloud/datastore';

const DEADLINE_EXCEEDED = 4;
const ABORTED = 10;
const UNAVAILABLE = 14;

function codeOf(error: unknown): unknown {
  return (error as { code?: unknown } | null)?.code;
}

/** True for the gRPC errors a transaction should be retried on: ABORTED (contention). */
export function isContention(error: unknown): boolean {
  return (
    codeOf(error) === ABORTED || (error instanceof Error && /\bABORTED\b|too much contention/i.test(error.message))
  );
}

/**
 * True for errors after which the same transaction may well succeed if run again: contention (see
 * {@link isContention}), UNAVAILABLE (the service or the connection was briefly down) and DEADLINE_EXCEEDED.
 */
export function isTransient(error: unknown): boolean {
  const code = codeOf(error);
  return (
    isContention(error) ||
    code === UNAVAILABLE ||
    code === DEADLINE_EXCEEDED ||
    (error instanceof Error && /\bUNAVAILABLE\b|\bDEADLINE_EXCEEDED\b/.test(error.message))
  );
}

/** What the body of {@link inTransaction} is told about the attempt it runs in. */
export interface TransactionAttempt {
  /** 0 for the first run of the body, then 1, 2, ... */
  readonly index: number;
  /**
   * An earlier attempt's commit failed with an error that does not say whether it was applied (anything but
   * contention, e.g. UNAVAILABLE or DEADLINE_EXCEEDED after the request was sent): the body may find its own earlier
   * writes.
   */
  readonly mayHaveCommitted: boolean;
}

/** How {@link inTransaction} retries. */
export interface TransactionRetry {
  /** Attempts after the first. @default 5 */
  readonly retries?: number;
  /** Which errors start the transaction over. @default isContention */
  readonly retryOn?: (error: unknown) => boolean;
}

/**
 * Runs `body` in a fresh transaction, commits, and returns its result. Rolls back when `body` throws. When beginning,
 * a read or the commit fails on contention (or on what `retryOn` accepts), starts over after a short backoff, at most
 * `retries` more times. `options` may be the number of retries.
 */
export async function inTransaction<T>(
  datastore: Datastore,
  body: (tx: Transaction, attempt: TransactionAttempt) => Promise<T>,
  options: number | TransactionRetry = {},
): Promise<T> {
  const { retries = 5, retryOn = isContention } = typeof options === 'number' ? { retries: options } : options;
  let mayHaveCommitted = false;
  for (let index = 0; ; index++) {
    const retry = async (error: unknown): Promise<void> => {
      if (!retryOn(error) || index >= retries) throw error;
      await backoff(index);
    };
    const tx = datastore.transaction();
    let result: T;
    try {
      await tx.run();
      result = await body(tx, { index, mayHaveCommitted });
    } catch (error) {
      await tx.rollback().catch(() => undefined);
      await retry(error);
      continue;
    }
    try {
      await tx.commit();
      return result;
    } catch (error) {
      if (!isContention(error)) mayHaveCommitted = true; // an abort is definite; anything else may have been applied
      await retry(error);
    }
  }
}

/** Waits before retry number `attempt` (0-based): 20 ms doubling up to 1 s, with jitter so racing writers spread out. */
export function backoff(attempt: number): Promise<void> {
  const ms = Math.min(1000, 20 * 2 ** attempt) * (0.5 + Math.random());
  return new Promise((resolve) => setTimeout(resolve, ms));
}
