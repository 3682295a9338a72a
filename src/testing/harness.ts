/**
 * The testing harness: the app's own `createDeferred` configuration on a backend of the tester's choice, with a
 * manual clock and manual dispatch, so a test runs what is due (`drain`, `runNext`), moves time (`advance`), looks at
 * what is waiting (`deferred`) and asserts on what ran (`runs`, `failures`).
 */
import type { Datastore } from '@google-cloud/datastore';
import type { CloudTasksClient, protos } from '@google-cloud/tasks';
import type { ResolvedConfig } from '../core/config.js';
import { describeError } from '../core/logger.js';
import { decodeCall, keyOfRef, parseCall, type CodecSettings } from '../core/task-envelope.js';
import { ConfigurationError } from '../errors/runtime.js';
import { InvalidArgumentError } from '../errors/invalid-argument.js';
import { RunLimitError } from '../errors/testing.js';
import { runtimeConfigSource } from '../runtime/services.js';
import { fromEntity, readPayload } from '../store/task-entity.js';
import { sweep, type SweepResult } from '../sweeper/sweep-all.js';
import type { SweepOptions } from '../sweeper/sweep-options.js';
import type { Deferred, Duration, LogEntry, Logger, OidcOptions, TimeSource } from '../types.js';
import { parseDuration } from '../util/duration.js';
import { emulatorWorld, memoryWorld, type BackendWorld, type Delivery, type HarnessBackend } from './backends.js';
import { outcomeOf, type TaskRun, type WaitingTask } from './run-records.js';

/**
 * What the harness hands the app's factory: spread it into the app's own configuration,
 * `createDeferred({ ...yourConfig, ...env })`, so the runtime uses the harness's clients, clock and handler URL.
 */
export interface HarnessEnvironment {
  /** Project of the queues (the harness's, any id works). */
  readonly projectId: string;
  /** Location of the queues. */
  readonly location: string;
  /** Where the harness delivers tasks: the app's handler. */
  readonly handlerUrl: string;
  /** The Datastore client: in memory, or on the emulator. */
  readonly datastore: Datastore;
  /** The Cloud Tasks client: in memory, or on our emulator. */
  readonly tasks: CloudTasksClient;
  /** The harness's clock: it moves only in `advance()`. */
  readonly clock: TimeSource;
  /** Collects the runtime's log lines into `harness.logs` (and passes them on to `options.logger`, if given). */
  readonly logger: Logger;
  /**
   * OIDC as the harness's Cloud Tasks does it: each delivery carries an ID token of the service account
   * `harness-tasks@<projectId>.iam.gserviceaccount.com`, signed by the harness, and the handler verifies it against
   * the harness's keys. Spread after your config, it takes the place of your production `oidc` (whose tokens only
   * Google signs), so the handler checks a token on every delivery, as in production.
   */
  readonly oidc: OidcOptions;
}

/** Settings of one queue the harness creates before the app starts (the Cloud Tasks `Queue` message, without `name`). */
export type HarnessQueue = Omit<protos.google.cloud.tasks.v2.IQueue, 'name'>;

/** Which waiting tasks {@link TestHarness.deferred} lists. */
export interface WaitingFilter {
  /**
   * Only the tasks of this registered name.
   * @default every task
   */
  readonly task?: string;
  /**
   * Only the tasks in this queue (its id).
   * @default every queue
   */
  readonly queue?: string;
}

/** Options of {@link createTestHarness}. */
export interface TestHarnessOptions {
  /**
   * Where the app runs: `'memory'` needs no Java, no gcloud and no ports; `'datastore-emulator'` and
   * `'firestore-emulator'` run on the local stack (Google's emulator, our Cloud Tasks emulator, the app's handler on a
   * loopback port), the same semantics as production.
   * @default 'memory'
   */
  readonly backend?: HarnessBackend;
  /**
   * Emulator backends: a client of a Datastore emulator that is already running (e.g. started once for the whole
   * test run), used as it is, namespace included. Without it, the harness starts an emulator and stops it in `close()`.
   * @default an emulator started by the harness
   */
  readonly datastore?: Datastore;
  /**
   * The default namespace of the Datastore client the harness makes (ignored when `datastore` is given).
   * @default the default namespace
   */
  readonly namespace?: string;
  /**
   * Project id of the queues, and of the Datastore client the harness makes.
   * @default 'test-project'
   */
  readonly projectId?: string;
  /**
   * Location of the queues.
   * @default 'us-central1'
   */
  readonly location?: string;
  /**
   * Where the harness's clock starts (a `Date` or epoch milliseconds).
   * @default the current time
   */
  readonly now?: Date | number;
  /**
   * Queues to create before the app starts, by id, with their settings (`retryConfig`, `rateLimits`). Queues named by
   * tasks but not listed here are created on first use with Cloud Tasks' defaults (100 attempts, 0.1 s to 1 h
   * backoff).
   * @default {}
   * @example { default: { retryConfig: { maxAttempts: 3, minBackoff: { seconds: 10 }, maxBackoff: { seconds: 60 } } } }
   */
  readonly queues?: Readonly<Record<string, HarnessQueue>>;
  /**
   * Where the runtime's log lines go besides `harness.logs`.
   * @default nowhere (only `harness.logs`)
   */
  readonly logger?: Logger;
  /**
   * The `Datastore` class of the app's `@google-cloud/datastore`, for the clients the harness makes.
   * @default the one installed next to cloud-deferred
   */
  readonly Datastore?: typeof Datastore;
}

/** Options of `drain()` and `advance()`. */
export interface RunOptions {
  /**
   * Most deliveries this call makes before it gives up with a {@link RunLimitError} (a task that defers itself with no
   * delay would otherwise run forever).
   * @default 1000
   */
  readonly maxRuns?: number;
}

/** A harness around the app: see {@link createTestHarness}. */
export interface TestHarness<App> {
  /** What the app's factory returned. */
  readonly app: App;
  /** The app's runtime instance. */
  readonly runtime: Deferred;
  /** Which backend this harness runs on. */
  readonly backend: HarnessBackend;
  /** The Datastore client the app was given. */
  readonly datastore: Datastore;
  /** A Cloud Tasks client on the harness's queues. */
  readonly tasks: CloudTasksClient;
  /** Every delivery so far, in order. */
  readonly runs: readonly TaskRun[];
  /** The runs that failed for good (`outcome: 'failed'`), in order. */
  readonly failures: readonly TaskRun[];
  /** The runtime's log lines so far. */
  readonly logs: readonly LogEntry[];
  /** The harness clock's time. */
  now(): Date;
  /**
   * What is waiting in the queues (all of them, paused ones included), in the order the harness would run it; with a
   * filter, only the tasks of that registered name and/or queue id.
   * @example expect(await harness.deferred({ task: 'sendReceipt' })).toHaveLength(1);
   */
  deferred(filter?: WaitingFilter): Promise<WaitingTask[]>;
  /** Delivers the first task that is due now (earliest schedule, then first created), or resolves null. */
  runNext(): Promise<TaskRun | null>;
  /**
   * Delivers every task that is due now, including the tasks those runs defer and that are due too, until nothing is
   * due; the clock does not move, so retries (scheduled after a backoff) and delayed tasks wait for `advance()`.
   */
  drain(options?: RunOptions): Promise<TaskRun[]>;
  /**
   * Moves the clock forward by `duration` (`'90s'`, `'1h'`, `'31d'` or milliseconds), delivering each task as its
   * time comes, in time order: delays and ETAs, retries after the queue's backoff, hops past Cloud Tasks' 30-day
   * horizon, recurring jobs' ticks. Returns what ran.
   */
  advance(duration: Duration, options?: RunOptions): Promise<TaskRun[]>;
  /**
   * Runs the sweeper at the harness's time, with the app's shard count: over the app's namespace and every namespace
   * it wrote task entities to.
   */
  sweep(options?: Partial<Omit<SweepOptions, 'datastore' | 'tasks'>>): Promise<SweepResult>;
  /** Stops what the harness started (emulators, servers). */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** A task listed from Cloud Tasks (FULL view). */
type ListedTask = protos.google.cloud.tasks.v2.ITask & { name: string };

const NOT_FOUND = 5;
const DEFAULT_MAX_RUNS = 1000;

function millisOf(time: { seconds?: unknown; nanos?: unknown } | null | undefined): number {
  if (!time) return 0;
  return Number(time.seconds ?? 0) * 1000 + Math.floor(Number(time.nanos ?? 0) / 1e6);
}

/** The runtime instance the app's factory returned (itself, or its `deferred` property) with its configuration. */
function runtimeOf(value: unknown): { runtime: Deferred; config: () => ResolvedConfig } | undefined {
  const candidates = [value, (value as { deferred?: unknown } | null | undefined)?.deferred];
  for (const candidate of candidates) {
    if (!candidate || typeof candidate !== 'object') continue;
    const config = runtimeConfigSource(candidate as Deferred);
    if (config) return { runtime: candidate as Deferred, config };
  }
  return undefined;
}

/** The registered task name in a task's URL (`.../tasks/<name>`). */
function taskNameOf(task: ListedTask): string {
  const target = task.httpRequest?.url ?? task.appEngineHttpRequest?.relativeUri ?? '';
  const path = target.replace(/^[a-z]+:\/\/[^/]+/i, '').split('?')[0]!;
  const match = /\/tasks\/([^/]+)$/.exec(path);
  if (!match) return '';
  try {
    return decodeURIComponent(match[1]!);
  } catch {
    return match[1]!;
  }
}

function bodyOf(task: ListedTask): Buffer {
  const body = task.httpRequest?.body ?? task.appEngineHttpRequest?.body;
  if (!body) return Buffer.alloc(0);
  return typeof body === 'string' ? Buffer.from(body, 'base64') : Buffer.from(body);
}

/**
 * Builds the app with the harness's clients and clock and returns the harness around it. `app` is the app's own
 * factory: it receives the {@link HarnessEnvironment}, calls `createDeferred({ ...yourConfig, ...env })`, registers
 * its tasks, and returns the `Deferred` or an object with a `deferred` property (the rest of the app, say).
 *
 * @example
 * const harness = await createTestHarness((env) => createShop({ ...env }));
 * await harness.app.placeOrder('o1');
 * expect(await harness.deferred()).toMatchObject([{ task: 'shipOrder', args: ['o1'] }]);
 * await harness.drain();
 * await harness.close();
 */
export async function createTestHarness<App>(
  app: (env: HarnessEnvironment) => App | Promise<App>,
  options: TestHarnessOptions = {},
): Promise<TestHarness<App>> {
  if (typeof app !== 'function') {
    throw new InvalidArgumentError(
      'createTestHarness(app): pass a function (env) => your app, which calls createDeferred({ ...yourConfig, ...env }).',
    );
  }
  const backend: HarnessBackend = options.backend ?? 'memory';
  if (backend !== 'memory' && backend !== 'datastore-emulator' && backend !== 'firestore-emulator') {
    throw new InvalidArgumentError(
      `createTestHarness: backend must be 'memory', 'datastore-emulator' or 'firestore-emulator', got ${JSON.stringify(backend)}.`,
    );
  }
  const startMs = options.now === undefined ? Date.now() : new Date(options.now).getTime();
  if (!Number.isFinite(startMs)) {
    throw new InvalidArgumentError(
      `createTestHarness: now must be a Date or epoch milliseconds, got ${String(options.now)}.`,
    );
  }
  const projectId = options.projectId ?? 'test-project';
  const location = options.location ?? 'us-central1';
  const settings = { startMs, projectId, namespace: options.namespace, DatastoreClass: options.Datastore };
  const world: BackendWorld =
    backend === 'memory'
      ? await memoryWorld(settings)
      : await emulatorWorld({
          ...settings,
          backend: backend === 'datastore-emulator' ? 'datastore' : 'firestore',
          datastore: options.datastore,
        });
  try {
    return await assemble(app, options, backend, world, projectId, location);
  } catch (error) {
    await world.close();
    throw error;
  }
}

async function assemble<App>(
  factory: (env: HarnessEnvironment) => App | Promise<App>,
  options: TestHarnessOptions,
  backend: HarnessBackend,
  world: BackendWorld,
  projectId: string,
  location: string,
): Promise<TestHarness<App>> {
  const { clock, datastore } = world;
  const locationPath = `projects/${projectId}/locations/${location}`;
  const logs: LogEntry[] = [];
  const logger: Logger = {
    write(entry) {
      logs.push(entry);
      options.logger?.write(entry);
    },
  };
  for (const [id, queue] of Object.entries(options.queues ?? {})) {
    await world.tasks.createQueue({ parent: locationPath, queue: { ...queue, name: `${locationPath}/queues/${id}` } });
  }

  // The app's Cloud Tasks client: the backend's, noting the order tasks are created in (ties of schedule time run
  // in that order, as a queue would roughly do).
  const created = new Map<string, number>();
  let sequence = 0;
  const tasks = new Proxy(world.tasks, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver) as unknown;
      if (property !== 'createTask' || typeof value !== 'function') return value;
      return async (...args: unknown[]) => {
        const result = (await (value as (...a: unknown[]) => Promise<unknown[]>).apply(target, args)) as [
          { name?: string | null },
          ...unknown[],
        ];
        if (result?.[0]?.name) created.set(result[0].name, ++sequence);
        return result;
      };
    },
  });

  const env: HarnessEnvironment = {
    projectId,
    location,
    handlerUrl: world.handlerUrl,
    datastore,
    tasks,
    clock,
    logger,
    oidc: { serviceAccountEmail: `harness-tasks@${projectId}.iam.gserviceaccount.com`, ...world.oidc },
  };
  const made = await factory(env);
  const found = runtimeOf(made);
  if (!found) {
    throw new ConfigurationError(
      'createTestHarness(app): the factory must return the Deferred of createDeferred({ ...yourConfig, ...env }), or an object with a `deferred` property holding it.',
    );
  }
  const { runtime } = found;
  const config = found.config();
  const mismatched = [
    config.datastore !== datastore && 'datastore',
    config.tasks !== tasks && 'tasks',
    config.clock !== clock && 'clock',
    config.target.kind === 'http' && config.target.handlerUrl !== world.handlerUrl && 'handlerUrl',
  ].filter(Boolean);
  if (mismatched.length > 0) {
    throw new ConfigurationError(
      `createTestHarness(app): the app's Deferred does not use the harness's ${mismatched.join(', ')}: pass the env the factory receives into createDeferred, after your own settings: createDeferred({ ...yourConfig, ...env }).`,
    );
  }

  let latest: Delivery | undefined;
  world.serve(runtime, (delivery) => {
    latest = delivery;
  });

  const codec: CodecSettings = { maxDepth: config.maxDepth, codecs: config.codecs, datastore: config.datastore };
  const runs: TaskRun[] = [];
  const failures: TaskRun[] = [];

  /** Every task in the location's queues, with its queue's state. */
  async function listed(): Promise<{ task: ListedTask; paused: boolean }[]> {
    const [queues] = await world.tasks.listQueues({ parent: locationPath });
    const all: { task: ListedTask; paused: boolean }[] = [];
    for (const queue of queues) {
      const [list] = await world.tasks.listTasks({ parent: queue.name!, responseView: 'FULL' });
      for (const task of list) all.push({ task: task as ListedTask, paused: queue.state !== 'RUNNING' });
    }
    const order = (name: string) => created.get(name) ?? Number.MAX_SAFE_INTEGER;
    return all.sort(
      (a, b) =>
        millisOf(a.task.scheduleTime) - millisOf(b.task.scheduleTime) ||
        order(a.task.name) - order(b.task.name) ||
        (a.task.name < b.task.name ? -1 : a.task.name > b.task.name ? 1 : 0),
    );
  }

  /** A listed task with its arguments decoded (from its body, or from its entity), as `deferred()` shows it. */
  async function describe(task: ListedTask, paused: boolean): Promise<WaitingTask> {
    const scheduleMs = millisOf(task.scheduleTime);
    let args: unknown[] | undefined;
    let bound: unknown;
    let argsError: string | null = null;
    let entityKey: WaitingTask['entityKey'] = null;
    let etaMs = scheduleMs;
    let name = taskNameOf(task);
    try {
      let call = parseCall(bodyOf(task), config.maxDepth);
      name ||= call.task;
      if (call.ref) {
        entityKey = keyOfRef(datastore, call.ref);
        const [entity] = await datastore.get(entityKey);
        if (!entity) throw new Error('its _DeferredTask entity is gone (rolled back or swept)');
        const stored = fromEntity(datastore, entity as Record<string | symbol, unknown>);
        etaMs = Math.max(scheduleMs, stored.eta.getTime());
        if (stored.state === 'done') throw new Error('it already ran (done): its payload is not kept');
        call = parseCall(await readPayload(datastore, stored), config.maxDepth);
      }
      ({ args, bound } = await decodeCall(call, codec));
    } catch (error) {
      argsError = describeError(error);
    }
    const queue = /\/queues\/([^/]+)\//.exec(task.name)?.[1] ?? '';
    return {
      task: name,
      args,
      bound,
      argsError,
      eta: new Date(etaMs),
      nextAttemptAt: new Date(scheduleMs),
      due: !paused && scheduleMs <= clock.now(),
      paused,
      queue,
      cloudTaskName: task.name,
      retryCount: Number(task.dispatchCount ?? 0),
      entityBacked: entityKey !== null,
      entityKey,
    };
  }

  /** The first task of a running queue scheduled no later than `untilMs`. */
  async function nextUntil(untilMs: number): Promise<ListedTask | undefined> {
    return (await listed()).find(({ task, paused }) => !paused && millisOf(task.scheduleTime) <= untilMs)?.task;
  }

  /** Delivers one task now (RunTask), waits for its attempt to be recorded, and returns its run. */
  async function deliver(task: ListedTask): Promise<TaskRun> {
    const described = await describe(task, false);
    const at = new Date(clock.now());
    latest = undefined;
    await world.tasks.runTask({ name: task.name });
    await clock.settle();
    const answer = latest as Delivery | undefined;
    let nextAttemptAt: Date | null = null;
    try {
      const [after] = await world.tasks.getTask({ name: task.name });
      nextAttemptAt = new Date(millisOf(after.scheduleTime));
    } catch (error) {
      if ((error as { code?: unknown }).code !== NOT_FOUND) throw error;
    }
    const status = answer?.status ?? null;
    const outcome = outcomeOf(status, answer?.body ?? null);
    const run: TaskRun = {
      task: described.task,
      args: described.args,
      argsError: described.argsError,
      outcome,
      error: typeof answer?.body?.error === 'string' ? answer.body.error : null,
      status,
      attempt: described.retryCount + 1,
      retryCount: described.retryCount,
      queue: described.queue,
      cloudTaskName: task.name,
      entityBacked: described.entityBacked,
      at,
      nextAttemptAt,
    };
    runs.push(run);
    if (outcome === 'failed') failures.push(run);
    return run;
  }

  const maxRunsOf = (o: RunOptions | undefined, what: string) => {
    const max = o?.maxRuns ?? DEFAULT_MAX_RUNS;
    if (!Number.isInteger(max) || max < 1) {
      throw new InvalidArgumentError(`${what}: maxRuns must be a whole number of at least 1, got ${String(max)}.`);
    }
    return max;
  };
  const tooMany = (what: string, max: number, ran: TaskRun[]) =>
    new RunLimitError(
      `${what} delivered ${max} tasks and more are still due (the last was ${ran[ran.length - 1]?.task}: a task that defers itself with no delay?); pass { maxRuns } to allow more.`,
    );

  let closing: Promise<void> | undefined;
  const close = () => (closing ??= world.close());
  const harness: TestHarness<App> = {
    app: made,
    runtime,
    backend,
    datastore,
    tasks: world.tasks,
    runs,
    failures,
    logs,
    now: () => new Date(clock.now()),
    async deferred(filter = {}) {
      const all = await Promise.all((await listed()).map(({ task, paused }) => describe(task, paused)));
      return all.filter(
        (w) =>
          (filter.task === undefined || w.task === filter.task) &&
          (filter.queue === undefined || w.queue === filter.queue),
      );
    },
    async runNext() {
      const next = await nextUntil(clock.now());
      return next ? deliver(next) : null;
    },
    async drain(o) {
      const max = maxRunsOf(o, 'drain()');
      const ran: TaskRun[] = [];
      for (let next = await nextUntil(clock.now()); next; next = await nextUntil(clock.now())) {
        if (ran.length >= max) throw tooMany('drain()', max, ran);
        ran.push(await deliver(next));
      }
      return ran;
    },
    async advance(duration, o) {
      const ms = parseDuration(duration, 'advance(duration)');
      const max = maxRunsOf(o, 'advance()');
      const target = clock.now() + ms;
      const ran: TaskRun[] = [];
      for (let next = await nextUntil(target); next; next = await nextUntil(target)) {
        if (ran.length >= max) throw tooMany('advance()', max, ran);
        const dueMs = millisOf(next.scheduleTime);
        if (dueMs > clock.now()) await clock.advance(dueMs - clock.now());
        ran.push(await deliver(next));
      }
      await clock.advance(Math.max(0, target - clock.now()));
      return ran;
    },
    sweep(o = {}) {
      return sweep({
        shards: config.shards,
        log: logger,
        ...o,
        now: o.now ?? new Date(clock.now()),
        datastore,
        tasks: world.tasks,
      });
    },
    close,
    [Symbol.asyncDispose]: close,
  };
  return harness;
}
