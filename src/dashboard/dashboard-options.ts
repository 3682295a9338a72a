/** The options of the dashboard (`createDashboard`), checked once, with their defaults. */
import type { IncomingMessage } from 'node:http';
import type { Datastore } from '@google-cloud/datastore';
import type { CloudTasksClient, v2beta3 } from '@google-cloud/tasks';
import type { CodecRegistry } from '../codec/index.js';
import { ConfigurationError } from '../errors/runtime.js';
import type { Deferred, Logger, TimeSource } from '../types.js';

/** The request `authorize` is given: node:http's (Express's, with its session and user) or the Fetch API's. */
export type DashboardRequest = IncomingMessage | Request;

/**
 * The app's decision on a request: `true` (or a string naming the user, written to the log line of each change) lets
 * it through; `false` answers 403.
 */
export type Authorize = (request: DashboardRequest) => boolean | string | Promise<boolean | string>;

/** Options of {@link createDashboard}. */
export interface DashboardOptions {
  /**
   * Decides who may see and use the dashboard; required, there is no open default. Called for every request, assets
   * included, with the framework's own request object: check an Identity-Aware Proxy header, a session, a client
   * certificate... Return `true`, or a string naming the user (logged with every change they make).
   * @example authorize: (req) => (req as express.Request).session?.user?.isAdmin === true
   */
  readonly authorize: Authorize;
  /**
   * The app's runtime instance. The dashboard reads its clients, project, location, namespace, shards, codecs and
   * logger, and uses its configuration (secret, handler URL) for the changes that create Cloud Tasks: Enable and Run
   * now of recurring jobs, Retry of failed tasks. Without it, give `datastore`, `tasks`, `projectId` and `location`;
   * those changes are then unavailable.
   */
  readonly deferred?: Deferred;
  /**
   * Whether the changes that create Cloud Tasks (Enable and Run now of recurring jobs, Retry of failed tasks) are
   * offered. They sign and address tasks with the runtime's configuration, so they need `deferred`.
   * @default true with `deferred`, else false
   */
  readonly createTasks?: boolean;
  /** Datastore client. @default the runtime's */
  readonly datastore?: Datastore;
  /** Cloud Tasks client (v2). @default the runtime's */
  readonly tasks?: CloudTasksClient;
  /**
   * A v2beta3 Cloud Tasks client (`new v2beta3.CloudTasksClient()` from `@google-cloud/tasks`), whose queue
   * statistics give each queue's number of waiting tasks in one call. Without it the dashboard counts a queue's tasks
   * by listing them, up to `taskCountLimit`.
   * @default none
   */
  readonly tasksBeta?: Pick<v2beta3.CloudTasksClient, 'getQueue'>;
  /** Project id of the queues. @default the runtime's */
  readonly projectId?: string;
  /** Cloud Tasks location of the queues. @default the runtime's */
  readonly location?: string;
  /** Datastore namespace of the task entities. @default the Datastore client's */
  readonly namespace?: string;
  /** Queues to show. @default every queue of the location (ListQueues) */
  readonly queues?: readonly string[];
  /** Sweeper shards the entities are written with. @default the runtime's, else 16 */
  readonly shards?: number;
  /** Class codecs, to decode arguments of your classes in the task view. @default the runtime's */
  readonly codecs?: CodecRegistry;
  /**
   * Where the dashboard is mounted: it serves `<basePath>/`, `<basePath>/assets/*` and `<basePath>/api/*`, and hands
   * every other path to `next()` (Express) or answers 404.
   * @default '/_dashboard'
   */
  readonly basePath?: string;
  /** Show everything, change nothing: every POST is refused with 403 and the page has no buttons. @default false */
  readonly readOnly?: boolean;
  /**
   * Key of the CSRF tokens (HMAC-SHA256), 16+ characters. Give the same one to every instance of a service that runs
   * on several instances.
   * @default derived from the runtime's signing secret (purpose-bound), else random per process
   */
  readonly csrfSecret?: string;
  /** How often the page refreshes what it shows (queues, jobs, task lists), in milliseconds. @default 10000 */
  readonly refreshMs?: number;
  /**
   * How long the overview's counts and the sweep runs are cached on the server, in milliseconds: every viewer within
   * that time shares one set of Datastore reads (see the README for what one set costs).
   * @default 30000
   */
  readonly countsRefreshMs?: number;
  /** Most tasks counted per queue by listing, when there is no `tasksBeta` client. @default 3000 */
  readonly taskCountLimit?: number;
  /** Title of the page. @default 'cloud-deferred' */
  readonly title?: string;
  /** Where the changes made from the page are logged. @default the runtime's logger, else JSON lines */
  readonly logger?: Logger;
  /** Time source. @default the runtime's clock, else the system clock */
  readonly clock?: TimeSource;
}

/** Checks the options that need no client: a missing `authorize` stops the dashboard from being created at all. */
export function checkDashboardOptions(options: DashboardOptions | undefined): void {
  if (!options || typeof options.authorize !== 'function') {
    throw new ConfigurationError(
      'createDashboard needs an authorize(request) function: the dashboard shows task arguments and can retry, discard and pause, so the app must decide who may use it (e.g. check the Identity-Aware Proxy header or the session). For a local, token-protected dashboard run `deferred dashboard`.',
    );
  }
  if (options.csrfSecret !== undefined && (typeof options.csrfSecret !== 'string' || options.csrfSecret.length < 16)) {
    throw new ConfigurationError('csrfSecret must be a string of 16 or more characters.');
  }
  if (options.refreshMs !== undefined && !(Number.isInteger(options.refreshMs) && options.refreshMs >= 500)) {
    throw new ConfigurationError(
      `refreshMs must be an integer >= 500 (milliseconds), got ${String(options.refreshMs)}.`,
    );
  }
  if (
    options.countsRefreshMs !== undefined &&
    !(Number.isInteger(options.countsRefreshMs) && options.countsRefreshMs >= 500)
  ) {
    throw new ConfigurationError(
      `countsRefreshMs must be an integer >= 500 (milliseconds), got ${String(options.countsRefreshMs)}.`,
    );
  }
  if (
    options.taskCountLimit !== undefined &&
    !(Number.isInteger(options.taskCountLimit) && options.taskCountLimit >= 0)
  ) {
    throw new ConfigurationError(`taskCountLimit must be an integer >= 0, got ${String(options.taskCountLimit)}.`);
  }
  if (options.basePath !== undefined && !/^(\/[A-Za-z0-9._~-]+)*\/?$/.test(options.basePath)) {
    throw new ConfigurationError(
      `basePath must be a URL path of letters, digits and . _ ~ -, e.g. '/admin/tasks', got ${JSON.stringify(options.basePath)}.`,
    );
  }
}

/** `/admin/tasks/` -> `/admin/tasks`; `/` -> ``. */
export function normalizeBasePath(path: string): string {
  const trimmed = `/${path.replace(/^\/+|\/+$/g, '')}`;
  return trimmed === '/' ? '' : trimmed;
}
