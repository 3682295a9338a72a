/**
 * BatchCreateTasks and BatchDeleteTasks (v2beta3): up to 100 creations or 1,000 deletions in one queue, each on its
 * own (not atomic), answered as a done long-running operation with per-request failures in its metadata.
 */
import type { TasksEngine } from './engine.js';
import type { PlainMessage } from './messages.js';
import { parseTaskName } from './names.js';
import { packAny, statusOf, type OperationStore } from './operations.js';
import type { ApiVersion } from './proto.js';
import { ABORTED_MESSAGE, asRpcError, invalidArgument } from './rpc-errors.js';
import { fromMs } from './time.js';

export const MAX_BATCH_CREATE = 100;
export const MAX_BATCH_DELETE = 1000;

interface BatchResult {
  readonly metadataType: string;
  readonly responseType: string;
  readonly start: number;
  readonly failed: Record<string, PlainMessage>;
  readonly attempted: number;
  readonly response: PlainMessage;
}

/** The done operation of a batch: metadata with the state and failures, the response, or ABORTED when all failed. */
function operationOf(engine: TasksEngine, result: BatchResult): PlainMessage {
  const failures = Object.keys(result.failed).length;
  const metadata = {
    startTime: fromMs(result.start),
    endTime: fromMs(engine.now()),
    state: failures === 0 ? 'SUCCEEDED' : 'PARTIALLY_SUCCEEDED',
    failedRequests: result.failed,
  };
  const rpc = result.metadataType.slice(result.metadataType.lastIndexOf('.') + 1);
  return {
    metadata: packAny(result.metadataType, metadata),
    ...(failures > 0 && failures === result.attempted
      ? { error: { code: 10, message: ABORTED_MESSAGE(rpc), details: [] } }
      : { response: packAny(result.responseType, result.response) }),
  };
}

/** BatchCreateTasks: each request creates its task or records why not (by its index). */
export function batchCreateTasks(
  engine: TasksEngine,
  operations: OperationStore,
  version: ApiVersion,
  req: { parent?: string; requests?: Array<PlainMessage & { parent?: string }>; requestId?: string },
): PlainMessage {
  const parent = req.parent ?? '';
  const queue = engine.queueForTasks(parent);
  const requests = req.requests ?? [];
  if (requests.length === 0) throw invalidArgument('BatchCreateTasksRequest.requests must hold at least one request.');
  if (requests.length > MAX_BATCH_CREATE) {
    throw invalidArgument(
      `A maximum of ${MAX_BATCH_CREATE} tasks can be created in a single batch, got ${requests.length}.`,
    );
  }
  for (const [i, request] of requests.entries()) {
    if (request.parent && request.parent !== parent) {
      throw invalidArgument(
        `requests[${i}].parent ('${request.parent}') must be the batch's parent ('${parent}'): all tasks of a batch go to one queue.`,
      );
    }
  }
  return operations.run('BatchCreateTasks', queue.parent, req.requestId ?? '', () => {
    const start = engine.now();
    const tasks: PlainMessage[] = [];
    const failed: Record<string, PlainMessage> = {};
    for (const [i, request] of requests.entries()) {
      try {
        tasks.push(engine.createTask({ ...request, parent } as never));
      } catch (error) {
        failed[String(i)] = statusOf(asRpcError(error));
      }
    }
    return operationOf(engine, {
      metadataType: `google.cloud.tasks.${version}.BatchCreateTasksMetadata`,
      responseType: `google.cloud.tasks.${version}.BatchCreateTasksResponse`,
      start,
      failed,
      attempted: requests.length,
      response: { tasks },
    });
  });
}

/** BatchDeleteTasks: each name is deleted or its failure recorded (by its index); the response is Empty. */
export function batchDeleteTasks(
  engine: TasksEngine,
  operations: OperationStore,
  version: ApiVersion,
  req: { parent?: string; names?: string[]; requestId?: string },
): PlainMessage {
  const parent = req.parent ?? '';
  const queue = engine.queueForTasks(parent);
  const names = req.names ?? [];
  if (names.length === 0) throw invalidArgument('BatchDeleteTasksRequest.names must hold at least one task name.');
  if (names.length > MAX_BATCH_DELETE) {
    throw invalidArgument(`A maximum of ${MAX_BATCH_DELETE} tasks can be deleted in a batch, got ${names.length}.`);
  }
  return operations.run('BatchDeleteTasks', queue.parent, req.requestId ?? '', () => {
    const start = engine.now();
    const failed: Record<string, PlainMessage> = {};
    for (const [i, name] of names.entries()) {
      try {
        if (parseTaskName(name).queuePath !== queue.path) {
          throw invalidArgument(`The task ${name} is not in the batch's queue ${queue.path}.`);
        }
        engine.deleteTask({ name });
      } catch (error) {
        failed[String(i)] = statusOf(asRpcError(error));
      }
    }
    return operationOf(engine, {
      metadataType: `google.cloud.tasks.${version}.BatchDeleteTasksMetadata`,
      responseType: 'google.protobuf.Empty',
      start,
      failed,
      attempted: names.length,
      response: {},
    });
  });
}
