/** The in-memory Datastore's failures, as gRPC errors with the codes and messages the Datastore emulator answers. */

/** gRPC status codes the store answers. */
export const Code = {
  INVALID_ARGUMENT: 3,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
} as const;

const NAMES: Record<number, string> = {
  3: 'INVALID_ARGUMENT',
  5: 'NOT_FOUND',
  6: 'ALREADY_EXISTS',
  9: 'FAILED_PRECONDITION',
  10: 'ABORTED',
  12: 'UNIMPLEMENTED',
  13: 'INTERNAL',
};

/** A failed RPC, shaped like the errors google-gax hands the client (`code`, `details`, `"<code> <NAME>: <details>"`). */
export class RpcStatusError extends Error {
  readonly code: number;
  readonly details: string;
  constructor(code: number, details: string) {
    super(`${code} ${NAMES[code] ?? 'UNKNOWN'}: ${details}`);
    this.name = 'Error';
    this.code = code;
    this.details = details;
  }
}

export const invalidArgument = (details: string) => new RpcStatusError(Code.INVALID_ARGUMENT, details);

/** What the Datastore emulator answers when a transaction loses to another commit. */
export const contention = () =>
  new RpcStatusError(Code.ABORTED, 'too much contention on these datastore entities. please try again.');

/** For what the in-memory store does not do, naming where to find it. */
export const unsupported = (what: string) =>
  new RpcStatusError(
    Code.UNIMPLEMENTED,
    `${what} is not supported by the in-memory Datastore of cloud-deferred/testing; run this test on a Datastore emulator (backend: 'datastore-emulator' or 'firestore-emulator').`,
  );
