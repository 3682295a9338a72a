/** Errors of the emulator, with the codes and messages the real Cloud Tasks service answers, as gRPC statuses and Google JSON errors. */
import { grpc, type Gax } from './google-gax.js';
import { protoRoot } from './proto.js';

const { status } = grpc;

/** Messages copied from the real service (see /work/shared/cloud-tasks-golden/realcloud.json). */
export const MESSAGES = {
  queueNotFound:
    'Queue does not exist. If you just created the queue, wait at least a minute for the queue to initialize.',
  entityNotFound: 'Requested entity was not found.',
  taskAlreadyExists: 'Requested entity already exists',
  queueAlreadyExists: 'Queue already exists',
  queueRecentlyDeleted: 'The queue cannot be created because a queue with this name existed too recently.',
  taskRecentlyDeleted:
    'The task no longer exists, though a task with this name existed recently. The task either successfully completed or was deleted.',
  invalidQueueName: 'Queue name must be formatted: "projects/<PROJECT_ID>/locations/<LOCATION_ID>/queues/<QUEUE_ID>".',
  invalidTaskName:
    'Task name must be formatted: "projects/<PROJECT_ID>/locations/<LOCATION_ID>/queues/<QUEUE_ID>/tasks/<TASK_ID>".',
  invalidParent: 'Parent must be formatted: "projects/<PROJECT_ID>/locations/<LOCATION_ID>".',
  invalidTaskId: (id: string) =>
    `Task ID "${id}" can contain only letters ([A-Za-z]), numbers ([0-9]), hyphens (-), or underscores (_). Task ID must between 1 and 500 characters.`,
  queueMismatch: (requestQueue: string, taskQueue: string) =>
    `The queue name from request ('${requestQueue}') must be the same as the queue name in the named task ('${taskQueue}').`,
} as const;

/** Operation.error of a batch whose every request failed, as the v2beta3 protos document it. */
export const ABORTED_MESSAGE = (metadataType: string) =>
  `None of the requests succeeded, refer to ${metadataType}.failed_requests for individual error details`;

/** The `google.rpc.Help` links the real service attaches to name errors. */
export const HELP = {
  queueName: {
    description: 'Definition of queue name',
    url: 'https://cloud.google.com/tasks/docs/reference/rest/v2/projects.locations.queues#Queue.FIELDS.name',
  },
  taskId: {
    description: 'Definition of task ID',
    url: 'https://cloud.google.com/tasks/docs/reference/rest/v2/projects.locations.queues.tasks#Task.FIELDS.name',
  },
} as const;

/** A failed RPC: a gRPC status code, a message, and optional `google.rpc.Help` links sent as status details. */
export class RpcError extends Error {
  constructor(
    readonly code: Gax.grpc.status,
    message: string,
    readonly help: ReadonlyArray<{ description: string; url: string }> = [],
  ) {
    super(message);
  }

  /** The error as grpc-js sends it, with `grpc-status-details-bin` when there are details. */
  toServiceError(): Partial<Gax.grpc.StatusObject> {
    const metadata = new grpc.Metadata();
    if (this.help.length > 0) {
      const root = protoRoot();
      const Help = root.lookupType('google.rpc.Help');
      const Status = root.lookupType('google.rpc.Status');
      const help = Help.encode(Help.fromObject({ links: this.help })).finish();
      const statusBytes = Status.encode(
        Status.fromObject({
          code: this.code,
          message: this.message,
          details: [{ type_url: 'type.googleapis.com/google.rpc.Help', value: help }],
        }),
      ).finish();
      metadata.set('grpc-status-details-bin', Buffer.from(statusBytes));
    }
    return { code: this.code, details: this.message, metadata };
  }

  /** The HTTP status Google's REST front end answers for this error's code. */
  get httpStatus(): number {
    return HTTP_STATUS[this.code] ?? 500;
  }

  /** The error as Google's REST front end sends it: `{"error": {"code", "message", "status", "details"}}`. */
  toJsonError(): GoogleJsonError {
    return {
      error: {
        code: this.httpStatus,
        message: this.message,
        status: grpc.status[this.code] ?? 'UNKNOWN',
        ...(this.help.length > 0
          ? {
              details: [
                { '@type': 'type.googleapis.com/google.rpc.Help', links: this.help.map((link) => ({ ...link })) },
              ],
            }
          : {}),
      },
    };
  }
}

/** Google's JSON error body (https://cloud.google.com/apis/design/errors#http_mapping). */
export interface GoogleJsonError {
  error: { code: number; message: string; status: string; details?: unknown[] };
}

/** HTTP statuses of the gRPC codes, as Google maps them. */
const HTTP_STATUS: Partial<Record<Gax.grpc.status, number>> = {
  [status.OK]: 200,
  [status.CANCELLED]: 499,
  [status.UNKNOWN]: 500,
  [status.INVALID_ARGUMENT]: 400,
  [status.DEADLINE_EXCEEDED]: 504,
  [status.NOT_FOUND]: 404,
  [status.ALREADY_EXISTS]: 409,
  [status.PERMISSION_DENIED]: 403,
  [status.RESOURCE_EXHAUSTED]: 429,
  [status.FAILED_PRECONDITION]: 400,
  [status.ABORTED]: 409,
  [status.OUT_OF_RANGE]: 400,
  [status.UNIMPLEMENTED]: 501,
  [status.INTERNAL]: 500,
  [status.UNAVAILABLE]: 503,
  [status.DATA_LOSS]: 500,
  [status.UNAUTHENTICATED]: 401,
};

export const invalidArgument = (message: string, help: RpcError['help'] = []) =>
  new RpcError(status.INVALID_ARGUMENT, message, help);
export const notFound = (message: string) => new RpcError(status.NOT_FOUND, message);
export const alreadyExists = (message: string) => new RpcError(status.ALREADY_EXISTS, message);
export const failedPrecondition = (message: string) => new RpcError(status.FAILED_PRECONDITION, message);
export const unimplemented = (message: string) => new RpcError(status.UNIMPLEMENTED, message);
export const resourceExhausted = (message: string) => new RpcError(status.RESOURCE_EXHAUSTED, message);
export const internal = (message: string) => new RpcError(status.INTERNAL, message);

/** Any error thrown while answering an RPC, as an RpcError (anything but an RpcError is an emulator bug: INTERNAL). */
export function asRpcError(error: unknown): RpcError {
  if (error instanceof RpcError) return error;
  return internal(
    `Cloud Tasks emulator bug: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
  );
}
