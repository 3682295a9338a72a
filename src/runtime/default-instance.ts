/** The zero-config default instance, configured from environment variables, for the `defer(fn, ...args)` habit. */
import { createDatastore } from '../clients/datastore-client.js';
import { createTasksClient } from '../clients/tasks-client.js';
import { ConfigurationError } from '../errors/runtime.js';
import type { DeferCall, DeferManyOptions, Deferral, DeferredConfig, TaskHandle, TaskOptions } from '../types.js';
import { resolveConfig } from '../core/config.js';
import { DeferredRuntime } from './deferred-runtime.js';
import { TaskRegistry } from '../core/task-registry.js';

/**
 * Reads the default instance's configuration from the environment:
 *
 * | variable | meaning |
 * | --- | --- |
 * | `GOOGLE_CLOUD_PROJECT` (or `GCLOUD_PROJECT`) | project of the queues (required) |
 * | `DEFERRED_LOCATION` (or `CLOUD_TASKS_LOCATION`) | region of the queues (required) |
 * | `DEFERRED_SECRETS` (comma-separated, current first) or `DEFERRED_SECRET` | signing secrets (required) |
 * | `DEFERRED_QUEUE` | default queue (`default`) |
 * | `DEFERRED_HANDLER_URL` | where the handler is mounted; unset on App Engine for App Engine targets |
 * | `DEFERRED_BASE_PATH` | the handler's base path (`/_deferred`) |
 * | `DEFERRED_NAMESPACE` | Datastore namespace of the task entities |
 * | `DEFERRED_OIDC_SERVICE_ACCOUNT`, `DEFERRED_OIDC_AUDIENCE` | OIDC tokens on tasks, verified by the handler |
 * | `CLOUD_TASKS_EMULATOR_HOST` | `host:port` of a Cloud Tasks emulator (insecure channel) |
 * | `DATASTORE_EMULATOR_HOST` | read by the Datastore client itself |
 */
export function configFromEnvironment(env: NodeJS.ProcessEnv = process.env): DeferredConfig {
  const projectId = env.GOOGLE_CLOUD_PROJECT ?? env.GCLOUD_PROJECT;
  const location = env.DEFERRED_LOCATION ?? env.CLOUD_TASKS_LOCATION;
  const secrets = (env.DEFERRED_SECRETS ?? env.DEFERRED_SECRET ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const missing = [
    projectId ? null : 'GOOGLE_CLOUD_PROJECT',
    location ? null : 'DEFERRED_LOCATION',
    secrets.length > 0 ? null : 'DEFERRED_SECRET',
  ].filter(Boolean);
  if (missing.length > 0) {
    throw new ConfigurationError(
      `the default deferred instance is configured from the environment: set ${missing.join(', ')} (or call createDeferred(config) yourself).`,
    );
  }
  const tasks = createTasksClient({ env });
  return {
    projectId: projectId!,
    location: location!,
    secrets,
    queue: env.DEFERRED_QUEUE || undefined,
    handlerUrl: env.DEFERRED_HANDLER_URL || undefined,
    basePath: env.DEFERRED_BASE_PATH || undefined,
    datastore: createDatastore({
      env,
      clientOptions: { projectId, ...(env.DEFERRED_NAMESPACE ? { namespace: env.DEFERRED_NAMESPACE } : {}) },
    }),
    tasks,
    ...(env.DEFERRED_OIDC_SERVICE_ACCOUNT
      ? {
          oidc: {
            serviceAccountEmail: env.DEFERRED_OIDC_SERVICE_ACCOUNT,
            ...(env.DEFERRED_OIDC_AUDIENCE ? { audience: env.DEFERRED_OIDC_AUDIENCE } : {}),
          },
        }
      : {}),
  };
}

let instance: DeferredRuntime | undefined;

/**
 * The default instance. Registering tasks needs no configuration; the environment is read on the first defer or
 * request (see {@link configFromEnvironment}).
 */
export function defaultDeferred(): DeferredRuntime {
  instance ??= new DeferredRuntime(() => resolveConfig(configFromEnvironment()), new TaskRegistry());
  return instance;
}

/**
 * Registers a task on the default instance.
 *
 * @example
 * export const sendReport = task('sendReport', async (userId: string) => { ... });
 */
export function task<A extends unknown[], R>(
  name: string,
  fn: (...args: A) => R,
  options?: TaskOptions,
): TaskHandle<A, R> {
  return defaultDeferred().task(name, fn, options);
}

/**
 * Defers a registered task (its handle or the registered function) on the default instance, App Engine style.
 *
 * @example
 * await defer(sendReport, 'u1');
 */
export function defer<A extends unknown[]>(
  target: TaskHandle<A> | ((...args: A) => unknown),
  ...args: A
): Promise<Deferral> {
  return defaultDeferred().defer(target, ...args);
}

/**
 * Defers many calls on the default instance in one call (see `Deferred.deferMany`).
 *
 * @example
 * await deferMany(users.map((u) => ({ task: sendReport, args: [u.id] as [string] })));
 */
export function deferMany<T extends unknown[][]>(
  calls: readonly [...{ [I in keyof T]: DeferCall<T[I]> }],
  options?: DeferManyOptions,
): Promise<Deferral[]> {
  return defaultDeferred().deferMany(calls, options);
}
