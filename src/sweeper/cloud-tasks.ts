/** The sweeper's two Cloud Tasks calls: does a task still exist (GetTask), and create a lost task again (CreateTask). */
import type { CloudTasksClient } from '@google-cloud/tasks';
import { createTaskOnce, isNotFound } from '../core/cloud-task-calls.js';

/** The part of the official `CloudTasksClient` the sweeper uses; pass a real client (on the emulator in tests). */
export type SweeperTasksClient = Pick<CloudTasksClient, 'getTask' | 'createTask'>;

/** True when the Cloud Task exists (queued, scheduled or being dispatched); false on NOT_FOUND; throws on any other error. */
export async function cloudTaskExists(client: SweeperTasksClient, name: string): Promise<boolean> {
  try {
    await client.getTask({ name, responseView: 'BASIC' });
    return true;
  } catch (error) {
    if (isNotFound(error)) return false;
    throw error;
  }
}

/**
 * Creates a lost task again from its stored CreateTask request. `exists` when Cloud Tasks answers ALREADY_EXISTS:
 * the task exists, or existed recently (its name is still reserved), so the sweeper keeps the entity and looks again later.
 */
export async function redriveTask(client: SweeperTasksClient, requestJson: string): Promise<'created' | 'exists'> {
  const request = JSON.parse(requestJson) as Parameters<SweeperTasksClient['createTask']>[0];
  return (await createTaskOnce(client, request)).status;
}
