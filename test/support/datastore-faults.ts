// Fault injection on a real Datastore client: the next transactional commits of one client fail with a chosen gRPC error.
import type { Datastore } from '@google-cloud/datastore';
import { onTestFinished } from 'vitest';

/** A gRPC-shaped error as the client surfaces it: `code` and a message `"<code> <NAME>: <details>"`. */
export function grpcError(code: number, name: string, details: string): Error & { code: number } {
  return Object.assign(new Error(`${code} ${name}: ${details}`), { code, details });
}

/** Errors of the shapes the store treats as transient. */
export const errors = {
  aborted: () => grpcError(10, 'ABORTED', 'too much contention on these datastore entities. please try again.'),
  unavailable: () => grpcError(14, 'UNAVAILABLE', 'Connection dropped'),
  deadline: () => grpcError(4, 'DEADLINE_EXCEEDED', 'Deadline exceeded'),
};

/** One injected failure: the error, and whether the real commit is sent first (applied, but its answer lost). */
export interface CommitFault {
  readonly error: () => Error;
  /** `before`: the commit never reaches the emulator (the client rolls back, as after any failed commit). `after`: it is applied, then the answer is replaced by the error. @default 'before' */
  readonly when?: 'before' | 'after';
  /** Runs after the client rolled the failed transaction back, before the error reaches the caller (another writer acting in between). */
  readonly then?: () => Promise<void>;
}

type RequestFn = (config: { method?: string }, callback: (err: unknown, resp?: unknown) => void) => void;

/** Handle on the faults armed on one client. */
export interface CommitFaults {
  /** Queues faults for the next transactional commits of the client, in order. */
  arm(...faults: CommitFault[]): void;
  /** Faults injected so far. */
  readonly injected: number;
  /** Commits that reached the emulator (and the injected `after` ones). */
  readonly commits: number;
  /** Faults armed but not yet used. */
  readonly pending: number;
}

/**
 * Wraps `datastore.transaction()` of this one client so that each transaction's commit RPC (the real client's
 * `request_` for method `commit`) first consumes an armed fault, if any. Everything else goes to the emulator as
 * usual. Call it inside a test: undone when the test finishes.
 */
export function injectCommitFaults(datastore: Datastore): CommitFaults {
  const queue: CommitFault[] = [];
  let injected = 0;
  let commits = 0;
  const original = datastore.transaction;
  datastore.transaction = function (this: Datastore, ...args: Parameters<Datastore['transaction']>) {
    const tx = original.apply(this, args);
    const holder = tx as unknown as { request_: RequestFn };
    const request = holder.request_;
    let after: (() => Promise<void>) | undefined;
    holder.request_ = function (this: unknown, config, callback) {
      if (config.method === 'rollback' && after) {
        const hook = after;
        after = undefined;
        return request.call(this, config, (err, resp) => {
          hook().then(
            () => callback(err, resp),
            (error: unknown) => callback(error),
          );
        });
      }
      if (config.method !== 'commit') return request.call(this, config, callback);
      const fault = queue.shift();
      if (!fault) {
        commits++;
        return request.call(this, config, callback);
      }
      injected++;
      after = fault.then;
      if (fault.when === 'after') {
        commits++;
        return request.call(this, config, (err, resp) => callback(err ?? fault.error(), err ? resp : undefined));
      }
      setImmediate(() => callback(fault.error()));
    } as RequestFn;
    return tx;
  } as Datastore['transaction'];
  onTestFinished(() => {
    datastore.transaction = original;
  });
  return {
    arm: (...faults) => void queue.push(...faults),
    get injected() {
      return injected;
    },
    get commits() {
      return commits;
    },
    get pending() {
      return queue.length;
    },
  };
}
