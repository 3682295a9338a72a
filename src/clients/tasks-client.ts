/** Building the app's `CloudTasksClient` for cloud-deferred's Cloud Tasks emulator from `CLOUD_TASKS_EMULATOR_HOST`, which the official client ignores. */
import { CloudTasksClient } from '@google-cloud/tasks';
import { ConfigurationError } from '../errors/runtime.js';
import { EMULATOR_AUTH_OPTIONS, googleGax } from './gax.js';

/** Options of the official client, as its constructor takes them. */
export type CloudTasksClientOptions = NonNullable<ConstructorParameters<typeof CloudTasksClient>[0]>;

/** `host:port` (an IPv6 host in brackets) split; undefined when it is not of that form. */
export function parseHostPort(value: string): { host: string; port: number } | undefined {
  const match = /^(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(value.trim());
  const port = match ? Number(match[2]) : NaN;
  if (!match || port < 1 || port > 65_535) return undefined;
  return { host: match[1]!.replace(/^\[|\]$/g, ''), port };
}

/** What {@link emulatorTasksClientOptions} gives. */
export type EmulatorTasksClientOptions = {
  readonly apiEndpoint: string;
  readonly port: number;
  readonly sslCreds: ReturnType<ReturnType<typeof googleGax>['grpc']['credentials']['createInsecure']>;
  readonly universeDomain: string;
};

/**
 * Options for `new CloudTasksClient(...)` that point it at a Cloud Tasks emulator on `host:port`: an insecure channel
 * (made with the `grpc` of the google-gax the client runs on) and no credential look-up.
 */
export function emulatorTasksClientOptions(host: string, port: number): EmulatorTasksClientOptions {
  return {
    apiEndpoint: host,
    port,
    sslCreds: googleGax().grpc.credentials.createInsecure(),
    ...EMULATOR_AUTH_OPTIONS,
  };
}

/** Options of {@link createTasksClient}. */
export interface CreateTasksClientOptions {
  /**
   * Where to read `CLOUD_TASKS_EMULATOR_HOST` (`host:port` of cloud-deferred's Cloud Tasks emulator) from.
   * @default process.env
   */
  readonly env?: NodeJS.ProcessEnv;
  /** Options for the production client, used when no emulator host is set. @default {} */
  readonly clientOptions?: CloudTasksClientOptions;
}

/**
 * The official `CloudTasksClient` (from the app's `@google-cloud/tasks`), pointed at the emulator named by
 * `CLOUD_TASKS_EMULATOR_HOST` when it is set (insecure channel, no credentials, no metadata-server look-up), and
 * otherwise constructed as usual for the real service. The Datastore client needs no such helper: it reads
 * `DATASTORE_EMULATOR_HOST` itself.
 *
 * @example
 * // production: new CloudTasksClient(); locally: CLOUD_TASKS_EMULATOR_HOST=127.0.0.1:8123
 * const tasks = createTasksClient();
 */
export function createTasksClient(options: CreateTasksClientOptions = {}): CloudTasksClient {
  const env = options.env ?? process.env;
  const emulator = env.CLOUD_TASKS_EMULATOR_HOST;
  if (emulator) {
    const parsed = parseHostPort(emulator);
    if (!parsed) {
      throw new ConfigurationError(
        `CLOUD_TASKS_EMULATOR_HOST must be host:port (e.g. 127.0.0.1:8123), got ${JSON.stringify(emulator)}.`,
      );
    }
    const { host, port } = parsed;
    return new CloudTasksClient({ ...options.clientOptions, ...emulatorTasksClientOptions(host, port) });
  }
  return new CloudTasksClient(options.clientOptions);
}
