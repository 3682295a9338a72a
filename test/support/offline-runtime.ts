// For unit tests of defer-time checks: a runtime configuration whose clients point at a closed port (any RPC would
// fail, so what these tests see happened before one), and a helper that returns a promise's rejection.
import { Datastore } from '@google-cloud/datastore';
import { CloudTasksClient } from '@google-cloud/tasks';
import { grpc } from 'google-gax';
import type { DeferredConfig } from '../../src/types.js';

/** A configuration whose Datastore and Cloud Tasks clients reach nothing (port 9 on loopback). */
export const offlineConfig: DeferredConfig = {
  projectId: 'p',
  location: 'l',
  handlerUrl: 'http://127.0.0.1:9/_deferred',
  secret: 'a-long-enough-secret-value',
  datastore: new Datastore({ projectId: 'p', apiEndpoint: '127.0.0.1:9' }),
  tasks: new CloudTasksClient({ apiEndpoint: '127.0.0.1', port: 9, sslCreds: grpc.credentials.createInsecure() }),
};

/** The error `promise` rejects with; throws when it resolves. */
export async function failure(promise: Promise<unknown>): Promise<Error & { code?: string; path?: string }> {
  try {
    await promise;
  } catch (error) {
    return error as Error & { code?: string; path?: string };
  }
  throw new Error('expected a failure');
}
