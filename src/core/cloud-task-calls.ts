/** The Cloud Tasks calls every part of the runtime shares: create a task once (a taken name is an answer, not a failure), look one up, and the gRPC codes that say which. */
import type { CloudTasksClient, protos } from '@google-cloud/tasks';

const NOT_FOUND = 5;
const ALREADY_EXISTS = 6;

/**
 * `createTask` calls in flight at once when the runtime creates many (deferMany's default `concurrency`, the held
 * tasks of a committed transaction, the children of a run that succeeded).
 */
export const CREATE_TASK_CONCURRENCY = 50;

/** The gRPC status code of an error from a Google client, if it has one. */
export function grpcCode(error: unknown): number | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

/** True when the error means "a task with this name exists or existed recently" (its name is still reserved). */
export function isAlreadyExists(error: unknown): boolean {
  return grpcCode(error) === ALREADY_EXISTS;
}

/** True when the error means "no such task" (it ran, was deleted, purged, or never created). */
export function isNotFound(error: unknown): boolean {
  return grpcCode(error) === NOT_FOUND;
}

/** The CreateTask request the official client takes. */
export type CreateTaskRequest = protos.google.cloud.tasks.v2.ICreateTaskRequest;

/** How a {@link createTaskOnce} ended: the task created, or its name taken (with Cloud Tasks' error, for a `cause`). */
export type CreateTaskResult =
  | { readonly status: 'created'; readonly task: protos.google.cloud.tasks.v2.ITask }
  | { readonly status: 'exists'; readonly error: unknown };

/**
 * Creates a Cloud Task. A name that is taken (ALREADY_EXISTS: the task exists, or existed within the last hour) is
 * an answer, `exists`: named tasks are how the runtime stays idempotent (chains, hops, re-drives, the fan-out). Any
 * other error is thrown.
 */
export async function createTaskOnce(
  client: Pick<CloudTasksClient, 'createTask'>,
  request: CreateTaskRequest,
): Promise<CreateTaskResult> {
  try {
    const [task] = await client.createTask(request);
    return { status: 'created', task };
  } catch (error) {
    if (isAlreadyExists(error)) return { status: 'exists', error };
    throw error;
  }
}
