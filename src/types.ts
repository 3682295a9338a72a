/**
 * The public types of cloud-deferred: configuration, per-task and per-call options, task handles, the running task's
 * context, logs.
 *
 * ## Glossary
 * - **task**: a function registered under a name with `deferred.task(name, fn)`. Only registered functions can run
 *   later; the payload names the function, it never carries code.
 * - **defer**: asking for a task to run later, with arguments (`handle.defer(...args)`). One deferral becomes one
 *   **Cloud Task** in a queue, which Cloud Tasks delivers to the **handler** as an HTTP POST to
 *   `<basePath>/tasks/<task name>`.
 * - **envelope**: the versioned, signed JSON that carries the task name and its encoded arguments (readable in the
 *   Cloud console).
 * - **inline task**: the envelope travels in the Cloud Task's body. At-least-once: a duplicate delivery runs again.
 * - **entity-backed task**: the envelope is stored in a `_DeferredTask` entity (compressed with the task's
 *   `compression`, gzip by default; chunked when large) and the Cloud Task carries only its key. The entity also holds
 *   the task's **state** (`pending` -> `running` -> `done` | `failed`), changed in Datastore transactions, so a
 *   duplicate delivery runs nothing. Payloads above `inlineThreshold`
 *   **spill** into an entity; `entityBacked: true` or a transaction makes any task entity-backed.
 * - **transactional defer**: a defer inside `deferred.transaction(...)`: the entity is written in the caller's
 *   transaction (it is the outbox) and the Cloud Task is created only after the commit.
 * - **attempt**: one delivery that runs the function. `retryCount` (0, 1, 2, ...) comes from Cloud Tasks' headers;
 *   `maxAttempts` caps attempts.
 * - **lease**: while an entity-backed task runs, the entity is `running` until `leaseUntil`; another delivery may take
 *   over only after the lease ends.
 * - **bulk defer**: `deferMany`, many deferrals in one call (of a task handle, a methods handle, or a list of calls):
 *   each is checked first, entity-backed ones are written in batched commits, Cloud Tasks are created a bounded number
 *   at a time, and a partial failure says which calls failed.
 * - **chain / child**: a task deferred while another task runs. It is **held** until the parent succeeds, and named
 *   from the parent's Cloud Task id and a sequence number, so a retried parent never forks its chain.
 * - **hop**: Cloud Tasks schedules at most 30 days ahead; a task due later is delivered at the horizon, and the
 *   handler re-schedules it (a hop) until its ETA.
 * - **retention**: how long a finished (`done` / `failed` / `retried`) entity is kept for inspection before the sweeper
 *   deletes it.
 * - **failure ledger**: the `failed` records (inline and entity-backed tasks alike), with each one's attempt history;
 *   `deferred.failures` lists, reads, replays (`retry`: once, the record becoming `retried`) and discards them.
 * - **sweeper**: the separate, sharded job that deletes finished and leaked `_DeferredTask` entities.
 */
import type { Datastore, Key, Transaction } from '@google-cloud/datastore';
import type { CloudTasksClient } from '@google-cloud/tasks';
import type { CodecRegistry } from './codec/index.js';

/**
 * A duration: milliseconds as a number, or a string such as `'90s'`, `'5m'`, `'1h30m'`, `'2d'` (units ms, s, m, h,
 * d, w).
 */
export type Duration = number | string;

/** Where time comes from. Inject one (e.g. the Cloud Tasks emulator's `ManualClock`) to test delays without sleeping. */
export interface TimeSource {
  /** Milliseconds since the epoch. */
  now(): number;
}

/** Cloud Logging severities used by the runtime. */
export type LogSeverity = 'DEBUG' | 'INFO' | 'NOTICE' | 'WARNING' | 'ERROR' | 'CRITICAL';

/**
 * One structured log line. Written as one JSON object per line, which Cloud Logging parses into a structured entry
 * (`severity` and `message` are recognised; the other fields land in `jsonPayload`).
 */
export interface LogEntry {
  readonly severity: LogSeverity;
  readonly message: string;
  /** Registered task name. */
  readonly task?: string;
  /** Full Cloud Task name (`projects/.../tasks/...`). */
  readonly taskName?: string;
  /** 1-based attempt number (Cloud Tasks' retry count + 1). */
  readonly attempt?: number;
  /** How long the run took. */
  readonly durationMs?: number;
  readonly [field: string]: unknown;
}

/** Receives the runtime's structured logs. The default writes JSON lines to stdout (stderr for WARNING and above). */
export interface Logger {
  write(entry: LogEntry): void;
}

/** What to do when a Cloud Task with the requested `name` already exists (or existed recently) in the queue. */
export type IfExists = 'throw' | 'ignore';

/**
 * Options of one task, given at registration (`deferred.task(name, fn, options)`) and overridable per call with
 * `.with(...)`. Every field is optional.
 */
export interface TaskOptions {
  /**
   * Cloud Tasks queue id (short form). The queue must exist (or be auto-created by the emulator).
   * @default the instance's `queue` (`'default'`)
   */
  readonly queue?: string;
  /**
   * How long Cloud Tasks waits for the handler to answer before it counts the attempt as failed. Cloud Tasks accepts
   * 15 s to 30 min for HTTP targets.
   * @default Cloud Tasks' default (10 min for HTTP targets)
   */
  readonly dispatchDeadline?: Duration;
  /**
   * Extra HTTP headers sent with the task. `Content-Type`, `Authorization`, `Host`, `Content-Length`, `User-Agent`,
   * `X-CloudTasks-*`, `X-AppEngine-*` and `X-Deferred-*` are reserved. Names must be HTTP tokens and values must not
   * contain CR, LF or other control characters (`defer()` throws `InvalidArgumentError`).
   * @default {}
   */
  readonly headers?: Readonly<Record<string, string>>;
  /**
   * Most attempts (runs) of the task, counted from Cloud Tasks' retry count, enforced by the handler (Cloud Tasks v2
   * has no per-task retry setting; the queue's retry config still applies). After the last failed attempt the task is
   * recorded as `failed` and answered with 2xx, so Cloud Tasks stops.
   * @default unlimited (the queue's retry config decides)
   */
  readonly maxAttempts?: number;
  /**
   * How long the record of a finished entity-backed task (and of a failed inline task) is kept for inspection before
   * the sweeper deletes it. `0` deletes a done entity at once.
   * @default '7d'
   */
  readonly retention?: Duration;
  /**
   * Store the payload and the state machine in a `_DeferredTask` entity even when the payload is small: duplicate
   * deliveries then run the function once. Payloads above `inlineThreshold` and transactional defers are always
   * entity-backed.
   * @default false
   */
  readonly entityBacked?: boolean;
  /**
   * Default delay of every defer of this task.
   * @default 0
   */
  readonly delay?: Duration;
  /**
   * How the payload of an entity-backed task is compressed before it is stored:
   * - a gzip level from `1` (fastest, about 20% more bytes than 3) to `9` (smallest, slowest), or `'gzip'` for 3;
   * - `'brotli'`: Brotli at quality 1, about 40% less CPU than gzip 3 for about 13% more bytes, on every Node.js;
   * - `'zstd'`: zstd at level 1, about a third of gzip 3's CPU for the same bytes, and a faster read. It needs
   *   Node.js 22.15 or later in the deferring process (checked here) and in every worker that runs the task (a worker
   *   without it records the run as failed, with a message that says so: replay it with `deferred retry`);
   * - `{ codec: 'gzip' | 'brotli' | 'zstd', level }` for another level (gzip 1-9, Brotli 0-11, zstd 1-19);
   * - `'none'` to store it as it is (no CPU spent; a payload over 900 KiB is split over more chunk entities).
   *
   * Compression costs CPU in the deferring process and saves storage and write bandwidth; see the README's Performance
   * section for measured costs. Inline tasks are never compressed, nor are payloads under 4 KiB (a codec's fixed cost
   * outweighs what it saves there). Payloads stored with gzip or Brotli at any level are read by every worker of this
   * release and later; an earlier release reads gzip only, so finish a rolling deploy before choosing another codec.
   * @default 3
   * @example
   * deferred.task('importRows', importRows, { compression: 'brotli' }); // large, frequent payloads: less CPU
   * deferred.task('archive', archive, { compression: { codec: 'zstd', level: 9 } }); // Node.js >= 22.15 everywhere
   * handle.with({ compression: 'none' }).defer(alreadyCompressedBytes);
   */
  readonly compression?: Compression;
}

/**
 * A {@link TaskOptions.compression} setting: a gzip level 1-9, `'none'`, a codec by name at its default level, or
 * a codec at a level.
 */
export type Compression =
  | 1
  | 2
  | 3
  | 4
  | 5
  | 6
  | 7
  | 8
  | 9
  | 'none'
  | 'gzip'
  | 'brotli'
  | 'zstd'
  | { readonly codec: 'gzip' | 'brotli' | 'zstd'; readonly level?: number };

/** Options of one defer call: the task's options plus scheduling, naming and transaction. */
export interface DeferOptions extends TaskOptions {
  /**
   * Run no earlier than this long from now. Beyond Cloud Tasks' 30-day limit the task hops forward until it is due.
   * Give `delay` or `eta`, not both.
   * @default 0
   */
  readonly delay?: Duration;
  /**
   * Run no earlier than this time (a `Date` or epoch milliseconds). Give `delay` or `eta`, not both.
   * @default now
   */
  readonly eta?: Date | number;
  /**
   * Cloud Task id (1-500 letters, digits, `-`, `_`): Cloud Tasks refuses a second task with the same id in the same
   * queue for a while (up to about an hour after the first one finished), which de-duplicates defers.
   * Prefer ids that do not start with a timestamp or counter (hotspots).
   * @default a random id for entity-backed tasks, Cloud Tasks' own otherwise
   */
  readonly name?: string;
  /**
   * When `name` is taken: `'throw'` raises {@link TaskAlreadyExistsError}, `'ignore'` returns a deferral with status
   * `'existing'`.
   * @default 'throw'
   */
  readonly ifExists?: IfExists;
  /**
   * Defer inside this transaction (from `deferred.transaction(...)`): the task's entity is written in it and the Cloud
   * Task is created only after it commits. A rollback leaves nothing and runs nothing.
   */
  readonly transaction?: DeferredTransaction;
  /**
   * The trace the task carries (its Cloud Task's `traceparent` header, stored with entity-backed tasks, so re-drives
   * and hops keep it): a W3C `traceparent` value, or `false` to carry none.
   * @default the current trace: the active OpenTelemetry span (when `@opentelemetry/api` is installed), else the
   * running task's trace, else the request being handled (see `withTraceContext`), else none
   */
  readonly traceparent?: string | false;
  /**
   * With `transaction`: the entity group of the task's entity. Without it, the root of the first entity the
   * transaction writes (or a root `_DeferredTask` entity when it writes none).
   */
  readonly parent?: Key;
}

/** What a defer produced. */
export interface Deferral {
  /** Registered task name. */
  readonly task: string;
  /** Queue id. */
  readonly queue: string;
  /**
   * Full Cloud Task name, when known: always for entity-backed, named and chained tasks; for other inline tasks, the
   * name Cloud Tasks assigned.
   */
  readonly cloudTaskName: string | null;
  /** Key of the `_DeferredTask` entity, for entity-backed tasks. */
  readonly entityKey: Key | null;
  /**
   * `'enqueued'`: the Cloud Task exists. `'held'`: it will be created when the transaction commits or the running
   * parent task succeeds. `'existing'`: `name` was taken and `ifExists` is `'ignore'`.
   */
  readonly status: 'enqueued' | 'held' | 'existing';
  /** When the task is due. */
  readonly eta: Date;
}

/** A registered task: defer it with `.defer(...args)`, or with per-call options through `.with(options).defer(...)`. */
export interface TaskHandle<A extends unknown[] = unknown[], R = unknown> {
  /** Registered name. */
  readonly name: string;
  /**
   * The registered function, for calling it directly (in tests, or synchronously), typed as it was registered. Called
   * this way it runs outside a delivery: `currentTask()` is undefined in it.
   */
  readonly fn: (...args: A) => R;
  /** Defers a run with these arguments; they are encoded (and checked) now. */
  defer(...args: A): Promise<Deferral>;
  /**
   * Defers one run per entry of `argsList` (each entry is one run's arguments) in one call: every call is encoded and
   * checked first, entity-backed tasks are written in batched commits, Cloud Tasks are created `concurrency` at a time.
   * Resolves with the deferrals in call order; when some calls fail, rejects with a `DeferManyError` saying which.
   */
  deferMany(argsList: readonly A[], options?: DeferManyOptions): Promise<Deferral[]>;
  /** The same task with per-call options. */
  with(options: DeferOptions): DeferBuilder<A>;
}

/** A task with per-call options bound. */
export interface DeferBuilder<A extends unknown[]> {
  defer(...args: A): Promise<Deferral>;
  /** {@link TaskHandle.deferMany} with these options on every call. */
  deferMany(argsList: readonly A[], options?: DeferManyOptions): Promise<Deferral[]>;
  with(options: DeferOptions): DeferBuilder<A>;
}

/** Options of one `deferMany` as a whole (each call's own options are {@link DeferOptions}). */
export interface DeferManyOptions {
  /**
   * Most Cloud Tasks `createTask` calls in flight at once (a whole number, at least 1). Entity commits are not counted:
   * at most two are in flight, and each commit's tasks are created as soon as it lands.
   * @default 50
   */
  readonly concurrency?: number;
}

/** One call of `deferred.deferMany(calls)`: a task (handle, registered function or name), its arguments, its options. */
export interface DeferCall<A extends unknown[] = unknown[]> {
  /** A task handle (also a bound closure's), the registered function itself, or the registered name. */
  readonly task: TaskHandle<A> | ((...args: A) => unknown) | string;
  /** The run's arguments. */
  readonly args: NoInfer<A>;
  /**
   * This call's options, as `.with(options)` gives them to `defer()` (`name`, `ifExists`, `delay`, `queue`, ...).
   * @default {}
   */
  readonly options?: DeferOptions;
}

/** How one call of a `deferMany` ended: its deferral, or (in a `DeferManyError`) the error that stopped it. */
export type DeferManyResult =
  | { readonly index: number; readonly status: 'fulfilled'; readonly deferral: Deferral }
  | { readonly index: number; readonly status: 'rejected'; readonly error: unknown };

/**
 * A task whose function needs an environment (what a closure would capture): bind a serializable environment to get
 * a deferrable handle. The environment travels with the payload, like the arguments.
 */
export interface ClosureHandle<E, A extends unknown[]> {
  readonly name: string;
  /** A deferrable handle whose runs receive `env` as their first argument. */
  bind(env: E): TaskHandle<A>;
}

/** Method names of `T` (keys whose values are functions). */
export type MethodNames<T> = { [K in keyof T]: T[K] extends (...args: never[]) => unknown ? K : never }[keyof T] &
  string;
/** Parameters of method `K` of `T`. */
export type MethodArgs<T, K extends keyof T> = T[K] extends (...args: infer P) => unknown ? P : never;

/**
 * The methods of a registered class. The instance does not travel: its key does, and the handler rebuilds the
 * instance with `load(key)` before calling the method.
 */
export interface MethodsHandle<T extends object> extends MethodsDeferrer<T> {
  readonly name: string;
  /** The same methods with per-call options. */
  with(options: DeferOptions): MethodsDeferrer<T>;
}

/** What defers the methods of a registered class: one call, or many (as {@link TaskHandle.deferMany}). */
export interface MethodsDeferrer<T extends object> {
  /** Defers `instance.method(...args)`: the instance travels as its key. */
  defer<K extends MethodNames<T>>(instance: T, method: K, ...args: MethodArgs<T, K>): Promise<Deferral>;
  /**
   * Defers many method calls (of any instances and registered methods) in one call, as {@link TaskHandle.deferMany}
   * does: every call is checked first, entity-backed tasks are written in batched commits, Cloud Tasks are created
   * `concurrency` at a time; a partial failure rejects with a `DeferManyError` saying which calls failed.
   *
   * @example
   * await invoices.deferMany(open.map((invoice) => ({ instance: invoice, method: 'send', args: ['email'] })));
   */
  deferMany(calls: readonly MethodCall<T>[], options?: DeferManyOptions): Promise<Deferral[]>;
}

/** One call of a methods handle's `deferMany`: an instance, one of its registered methods, that method's arguments. */
export type MethodCall<T extends object> = {
  readonly [K in MethodNames<T>]: {
    readonly instance: T;
    readonly method: K;
    readonly args: MethodArgs<T, K>;
    /**
     * This call's options, as `.with(options)` gives them to `defer()` (`name`, `ifExists`, `delay`, ...).
     * @default {}
     */
    readonly options?: DeferOptions;
  };
}[MethodNames<T>];

/** How the instances of a registered class are identified and rebuilt. */
export interface ClassTaskOptions<T extends object, K> extends TaskOptions {
  /** The serializable identity of an instance (an id, a Datastore key, ...). */
  readonly key: (instance: T) => K;
  /** Rebuilds the instance in the handler. */
  readonly load: (key: K) => T | Promise<T>;
  /**
   * The methods that may be deferred.
   * @default every method on the class's prototype chain except the constructor
   */
  readonly methods?: readonly MethodNames<T>[];
}

/**
 * A Datastore transaction that can also hold defers: its writes go to Datastore when it commits, and the Cloud Tasks of
 * its defers are created right after.
 */
export interface DeferredTransaction {
  /** The underlying `@google-cloud/datastore` transaction. */
  readonly raw: Transaction;
  save(entities: Parameters<Transaction['save']>[0]): void;
  insert(entities: Parameters<Transaction['insert']>[0]): void;
  update(entities: Parameters<Transaction['update']>[0]): void;
  upsert(entities: Parameters<Transaction['upsert']>[0]): void;
  delete(keys: Key | Key[]): void;
  get: Transaction['get'];
  runQuery: Transaction['runQuery'];
  createQuery: Transaction['createQuery'];
  /** Shorthand for `task.with({ ...options, transaction: this }).defer(...args)`. */
  defer<A extends unknown[]>(task: TaskHandle<A>, ...args: A): Promise<Deferral>;
}

/** Options of `deferred.transaction(...)`. */
export interface TransactionOptions {
  /**
   * How many times to run the function again when beginning, a read or the commit fails on contention (gRPC
   * ABORTED), after a short jittered backoff (20 ms doubling, at most 1 s). Defers held by an aborted attempt are
   * dropped with it: use the deferrals of the attempt that committed (the ones your function returns).
   * @default 3
   */
  readonly retries?: number;
}

/**
 * What `currentTask()` returns inside a running task. For an entity-backed task, `queue`, `cloudTaskName`, `eta` and
 * `attempt` come from its entity; `retryCount`, `executionCount`, `previousResponse` and `retryReason` are what Cloud
 * Tasks' headers say (they are not signed).
 */
export interface TaskInfo {
  /** Registered task name. */
  readonly task: string;
  /** Queue id. */
  readonly queue: string;
  /** Full Cloud Task name (`projects/<p>/locations/<l>/queues/<q>/tasks/<id>`). */
  readonly cloudTaskName: string;
  /** Times Cloud Tasks retried this task before this attempt (0 on the first). */
  readonly retryCount: number;
  /** Times the handler answered this task before (Cloud Tasks' execution count; HTTP targets do not count 503s). */
  readonly executionCount: number;
  /**
   * 1-based attempt number: for an entity-backed task the entity's count of runs started (what `maxAttempts` is checked
   * against), for an inline one `retryCount + 1`.
   */
  readonly attempt: number;
  /** The `maxAttempts` of this defer, if any. */
  readonly maxAttempts: number | null;
  /** When the task was scheduled to run. */
  readonly eta: Date | null;
  /** HTTP status of the previous attempt, if any. */
  readonly previousResponse: number | null;
  /** Why Cloud Tasks retried, if it said. */
  readonly retryReason: string | null;
  /** Key of the task's `_DeferredTask` entity (entity-backed tasks), else null. */
  readonly entityKey: Key | null;
  /**
   * The trace this run belongs to: the one its Cloud Task carried (the `traceparent` of the request, task or
   * OpenTelemetry span that deferred it), or this run's own span when it carried none and OpenTelemetry traces it;
   * null when there is none. Tasks this run defers carry it on.
   */
  readonly trace: {
    /** 32 hex digits. */
    readonly traceId: string;
    /** 16 hex digits: the span this run's log lines belong to. */
    readonly spanId: string;
    readonly sampled: boolean;
    /** The W3C `traceparent` header value of this position in the trace. */
    readonly traceparent: string;
  } | null;
  /**
   * Cloud Logging's correlation fields for this run: `logging.googleapis.com/trace`
   * (`projects/<project>/traces/<trace id>`), `logging.googleapis.com/spanId`, `logging.googleapis.com/trace_sampled`
   * (when there is a trace) and `logging.googleapis.com/labels` (`task`, `queue`, `attempt`). The runtime's own lines
   * carry them; spread them into your structured log lines to see them beside the deferring request's.
   *
   * @example
   * console.log(JSON.stringify({ severity: 'INFO', message: 'charged', ...currentTask()?.logFields }));
   */
  readonly logFields: Readonly<Record<string, unknown>>;
}

/** The sweep route's request, as given to the function registered with `deferred.onSweep(fn)`. */
export interface SweepRequest {
  readonly method: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly query: URLSearchParams;
  readonly body: Buffer;
}

/** Configuration of OIDC verification (Cloud Tasks sends a Google-signed ID token with each task). */
export interface OidcOptions {
  /**
   * Service account Cloud Tasks signs tokens as (`oidcToken.serviceAccountEmail` of each task). The handler also
   * requires the token's `email` to be this account.
   */
  readonly serviceAccountEmail: string;
  /**
   * The token audience set on tasks and required by the handler.
   * @default the task URL's origin + base path (`handlerUrl`)
   */
  readonly audience?: string;
  /**
   * Require a valid token on every request to the handler.
   * @default true
   */
  readonly verify?: boolean;
  /**
   * Token issuer accepted by the handler.
   * @default 'https://accounts.google.com'
   */
  readonly issuer?: string;
  /**
   * Where the issuer's public keys (JWKS) are.
   * @default 'https://www.googleapis.com/oauth2/v3/certs'
   */
  readonly jwksUri?: string;
  /**
   * The issuer's public keys themselves (a JSON Web Key Set), used instead of fetching `jwksUri`: what the testing
   * harness's in-memory Cloud Tasks signs with (`env.oidc`), or keys an app pins.
   * @default none: the keys are fetched from `jwksUri`
   */
  readonly jwks?: { readonly keys: readonly Readonly<Record<string, unknown>>[] };
  /**
   * More service accounts whose tokens the sweep route (`<basePath>/sweep`) accepts, besides `serviceAccountEmail`:
   * e.g. the one a Cloud Scheduler job signs its OIDC token as. The token's audience must still be `audience`. Task
   * routes accept `serviceAccountEmail` only.
   * @default []
   * @example oidc: { serviceAccountEmail: 'tasks@p.iam.gserviceaccount.com', sweepServiceAccounts: ['scheduler@p.iam.gserviceaccount.com'] }
   */
  readonly sweepServiceAccounts?: readonly string[];
}

/** Configuration of a deferred runtime instance (`createDeferred(config)`). */
export interface DeferredConfig {
  /** Google Cloud project id of the queues. */
  readonly projectId: string;
  /** Cloud Tasks location (region) of the queues, e.g. `'europe-west1'`. */
  readonly location: string;
  /**
   * Default queue id.
   * @default 'default'
   */
  readonly queue?: string;
  /**
   * Absolute URL where the handler is mounted (an HTTP target), e.g. `'https://worker-abc.a.run.app/_deferred'`;
   * task URLs are `<handlerUrl>/tasks/<task name>`. Leave unset on App Engine to use App Engine targets
   * (`relativeUri` `<basePath>/tasks/<task name>`).
   */
  readonly handlerUrl?: string;
  /**
   * App Engine routing of App Engine targets (used when `handlerUrl` is unset).
   * @default the default service
   */
  readonly appEngineRouting?: { readonly service?: string; readonly version?: string; readonly instance?: string };
  /**
   * Path the handler serves: `<basePath>/tasks/<name>` and `<basePath>/sweep`.
   * @default the path of `handlerUrl`, else `'/_deferred'`
   */
  readonly basePath?: string;
  /** The secret payloads are signed with (HMAC-SHA256). Give `secret` or `secrets`. */
  readonly secret?: string;
  /**
   * Secrets for key rotation: the first signs, all verify. Rotate by prepending the new secret; drop a retired one
   * once no task signed with it can still be delivered (about 31 days).
   */
  readonly secrets?: readonly string[];
  /**
   * The Datastore client. Its namespace is the runtime's own: it holds the `_DeferredTask` entities, except those a
   * transaction writes into an entity group of another namespace (a tenant's), and the registry of those namespaces,
   * which the sweeper covers and deliveries may resolve into.
   */
  readonly datastore: Datastore;
  /** The Cloud Tasks client. */
  readonly tasks: CloudTasksClient;
  /**
   * Payloads (encoded envelope bytes) larger than this spill into a `_DeferredTask` entity.
   * @default 100_000
   */
  readonly inlineThreshold?: number;
  /**
   * Largest request body the handler reads; larger ones get 413 before being read.
   * @default 1_100_000 (a Cloud Task is at most 1 MB)
   */
  readonly maxBodyBytes?: number;
  /**
   * Most bytes of request bodies the handler holds at once, across concurrent requests, before their signature is
   * checked (without OIDC the signature covers the whole body, so it is read first). A request whose body would pass
   * it gets 503 and is not read on; Cloud Tasks retries it. With OIDC the token is checked from the headers before any
   * body is read, so unauthenticated requests hold nothing.
   * @default 33_554_432 (32 MiB), at least `maxBodyBytes`
   */
  readonly maxUnverifiedBodyBytes?: number;
  /**
   * Class codecs: how instances of your classes travel as arguments (`registry.register({ name, type, encode, decode })`).
   * @default none (only built-in types)
   */
  readonly codecs?: CodecRegistry;
  /**
   * Deepest nesting of argument values accepted by `defer()` and by the handler.
   * @default 64
   */
  readonly maxDepth?: number;
  /** Defaults for every task of this instance. */
  readonly defaults?: TaskOptions;
  /**
   * How long after its ETA a `_DeferredTask` entity may live at most, whatever its state (`expireAt`, also usable as a
   * Firestore TTL field).
   * @default '30d'
   */
  readonly expireAfter?: Duration;
  /**
   * How long a delivery owns a running entity-backed task before another delivery may take over.
   * @default the dispatch deadline + 1 min (11 min)
   */
  readonly lease?: Duration;
  /**
   * Number of sweeper shards entities are spread over.
   * @default 16
   */
  readonly shards?: number;
  /** Verify Cloud Tasks' OIDC tokens (recommended on Cloud Run and GKE) and have tasks carry them. */
  readonly oidc?: OidcOptions;
  /**
   * Accept requests with App Engine's `X-AppEngine-QueueName` header as coming from Cloud Tasks (App Engine strips
   * that header from outside requests). Only when the app runs on App Engine.
   * @default true on App Engine (`GAE_APPLICATION` set) with App Engine targets (no `handlerUrl`), else false
   */
  readonly trustAppEngineHeaders?: boolean;
  /**
   * What a delivery of a task that is not registered in this deployment does. `'fail'` records it `failed` for good
   * (App Engine's `deferred` did the same). `'retry'` answers 500 and records nothing, so Cloud Tasks delivers it again with its backoff:
   * use it during rolling deploys, where a new version may defer a task that instances still running the old version
   * receive first. A retried unknown task counts against the queue's retry limit (and `maxAttempts`).
   * @default 'fail'
   * @example createDeferred({ ...config, unknownTasks: 'retry' })
   */
  readonly unknownTasks?: 'fail' | 'retry';
  /**
   * Whether task routes still accept the `v1=` signatures of cloud-deferred 0.1, which cover the body alone and bind
   * it to no route (this release signs `v2=`: the purpose, task or sweep, and the body). A v1-signed body never starts
   * a sweep when it is a task envelope. This is the rotation window of the upgrade: a task deferred by 0.1 can still be
   * delivered up to 30 days after it was deferred (Cloud Tasks' schedule horizon: later ones hop and are re-signed as
   * v2 when they do), plus the time your queues keep retrying (`maxRetryDuration`). End it with `'refuse'` once no
   * instance runs 0.1 and that time has passed; a v1-signed delivery is then answered 403.
   * @default 'accept' (the next minor release makes 'refuse' the default)
   */
  readonly legacySignatures?: 'accept' | 'refuse';
  /**
   * OpenTelemetry spans (a PRODUCER span per defer, a CONSUMER span per run, spans of sweeps) and the active span as
   * the trace a defer carries, when `@opentelemetry/api` is installed (it is loaded on first use, once). `false`
   * uses none of it even when it is installed.
   * @default true
   */
  readonly openTelemetry?: boolean;
  /** @default JSON lines on stdout/stderr */
  readonly logger?: Logger;
  /** @default the system clock */
  readonly clock?: TimeSource;
}

// ---- sweep counts and the events for metrics -------------------------------------------------------------------

/** Why an entity was deleted (`retried`: a failure record replayed from the ledger, past its retention). */
export type DeleteReason = 'done' | 'failed' | 'retried' | 'leaked' | 'expired' | 'transientKind';

/** Why an entity is left in place. */
export type KeepReason =
  | 'retention' // finished, but not yet past its retention
  | 'not-due' // unfinished and not yet past its ETA + grace
  | 'leased' // running under a live lease (a run is in progress)
  | 'task-exists' // unfinished and its Cloud Task is still queued
  | 'redrive-exists' // re-drive answered ALREADY_EXISTS: the task existed recently, look again later
  | 'changed' // the entity changed between the read and the guarded delete
  | 'unknown-state' // not a state this version knows: never deleted except past expireAt
  | 'no-task-name'; // unfinished but without a Cloud Task name to look up: left for expireAt

/** Every {@link KeepReason}, in the order a summary lists them. */
export const KEEP_REASONS: readonly KeepReason[] = [
  'not-due',
  'task-exists',
  'leased',
  'retention',
  'redrive-exists',
  'changed',
  'unknown-state',
  'no-task-name',
];

/** What one sweep (a shard, a segment of a shard, or a whole run) saw and did. In a dry run: what it would have done. */
export interface SweepStats {
  /** Entities read (task entities in the shard's age range, plus expired entities of other underscore kinds). */
  scanned: number;
  /**
   * Entities deleted, by reason (`transientKind`: another underscore-prefixed kind past its `expireAt`). Every reason
   * but `done` counts what this sweep removed: its deletes are transactions that re-read the entity, so one that
   * another sweep deleted first is not counted. `done` counts the deletes this sweep committed: done entities go in
   * plain batched commits without a re-read (twice the reclaim rate), and Datastore's answer to a delete does not say
   * whether the entity was still there, so when two sweeps cover the same shard at once both may count the same
   * entity. Summed over concurrent sweeps, `done` can exceed what was reclaimed; a single sweep's count is exact.
   */
  deleted: Record<DeleteReason, number>;
  /** Committed transactional tasks whose Cloud Task was lost and was created again. */
  redriven: number;
  /** Entities left in place (still needed, not yet reclaimable, or changed underneath the sweep). */
  kept: number;
  /**
   * `kept`, by reason: `not-due` (unfinished, within its ETA + grace), `task-exists` (its Cloud Task is queued),
   * `leased` (a run holds it), `retention` (finished, within its retention), `redrive-exists` (a re-drive found its
   * name taken), `changed` (it changed during the sweep), `unknown-state`, `no-task-name`.
   */
  keptBy: Record<KeepReason, number>;
  /** Operations that failed (Cloud Tasks look-ups, re-drives, commits); their entities are left for the next sweep. */
  errors: number;
}

/** What every task event says about the delivery. */
export interface TaskEvent {
  /** Registered task name. */
  readonly task: string;
  readonly queue: string;
  /** Full Cloud Task name. */
  readonly cloudTaskName: string;
  /** 1-based attempt (see {@link TaskInfo.attempt}). */
  readonly attempt: number;
  /** Whether the task lives in a `_DeferredTask` entity. */
  readonly entityBacked: boolean;
  /** Everything `currentTask()` says about the run (its trace included). */
  readonly info: TaskInfo;
}

/** A defer that resolved: its deferral, and the trace its Cloud Task carries. */
export interface TaskDeferredEvent extends Deferral {
  /** The W3C `traceparent` the Cloud Task carries (see _Trace propagation_), or null for none. */
  readonly traceparent: string | null;
  /**
   * Cloud Logging's fields for a line about this defer: the trace the task carries (so the line is among the
   * deferring request's, or the span's that deferred it) and the `task` and `queue` labels, as a run's lines have them.
   *
   * @example
   * deferred.on('taskDeferred', (event) =>
   *   console.log(JSON.stringify({ severity: 'INFO', message: `deferred ${event.task} as ${event.cloudTaskName}`, ...event.logFields })),
   * );
   */
  readonly logFields: Readonly<Record<string, unknown>>;
}

/** A run that ended: how long it took, and (unless it succeeded) why. */
export interface TaskEndedEvent extends TaskEvent {
  readonly durationMs: number;
  /** The error that ended a failed or retried run. */
  readonly error?: string;
}

/** A distributed sweep run (`installSweeper`) whose last shard finished: its totals over every shard and segment. */
export interface SweepFinishedEvent {
  readonly runId: string;
  readonly shards: number;
  readonly stats: SweepStats;
  /** From the run's fan-out to its last shard's end. */
  readonly elapsedMs: number;
}

/**
 * The events of a runtime instance, for metrics (`deferred.on(name, listener)`): Cloud Monitoring, Prometheus, ...
 * Listeners run synchronously after what they report; one that throws is logged (WARNING) and changes nothing.
 */
export interface DeferredEvents {
  /**
   * A defer resolved: its Cloud Task was created (`'enqueued'`), held until its transaction commits or its running
   * parent succeeds (`'held'`; not reported again when it is created), or found there already (`'existing'`). Once per
   * call of `deferMany` too. The runtime logs no line per defer (it would cost every defer); log one here.
   */
  taskDeferred: TaskDeferredEvent;
  /** A delivery is about to run its function (after the entity-backed state machine admitted it). */
  taskStarted: TaskEvent;
  /** The run succeeded (its held children are created). */
  taskSucceeded: TaskEndedEvent;
  /** The run failed for good: `PermanentTaskFailure`, past `maxAttempts`, unknown task, undecodable arguments. */
  taskFailed: TaskEndedEvent;
  /** The run failed and Cloud Tasks will deliver it again. */
  taskRetried: TaskEndedEvent;
  /** A distributed sweep run finished (emitted by the instance `installSweeper` was given). */
  sweepFinished: SweepFinishedEvent;
}

/**
 * Declaration-merging registry of task signatures, for `deferred.defer('name', ...args)` type checking:
 *
 * @example
 * declare module 'cloud-deferred' {
 *   interface DeferredTasks {
 *     sendReport: (userId: string, since: Date) => Promise<void>;
 *   }
 * }
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type -- filled by users through declaration merging
export interface DeferredTasks {}

/** A node:http request listener that is also Express/Connect middleware (`next()` for paths it does not serve). */
export type NodeHandler = (
  req: import('node:http').IncomingMessage,
  res: import('node:http').ServerResponse,
  next?: (error?: unknown) => void,
) => void;

/** A Fetch-API handler (`Request` in, `Response` out): Hono, Bun, Deno, Next.js route handlers, ... */
export type FetchHandler = (request: Request) => Promise<Response>;

/** The function behind `<basePath>/sweep`; its result is answered as JSON. */
export type SweepFunction = (request: SweepRequest) => Promise<unknown>;

/** A deferred runtime instance, from `createDeferred(config)`. */
export interface Deferred {
  /**
   * Registers a task under a name and returns its handle. Register every task at start-up, in the code both the
   * deferring side and the handler load.
   */
  task<A extends unknown[], R>(name: string, fn: (...args: A) => R, options?: TaskOptions): TaskHandle<A, R>;
  /** Registers a task that needs an environment; `.bind(env)` gives a deferrable handle. */
  closure<E, A extends unknown[]>(
    name: string,
    fn: (env: E, ...args: A) => unknown,
    options?: TaskOptions,
  ): ClosureHandle<E, A>;
  /** Registers the methods of a class as tasks named `<name>.<method>`; instances travel as their key. */
  methods<T extends object, K>(
    name: string,
    cls: abstract new (...args: never[]) => T,
    options: ClassTaskOptions<T, K>,
  ): MethodsHandle<T>;
  /** Defers a registered task (its handle or the registered function itself), App Engine style. */
  defer<A extends unknown[]>(task: TaskHandle<A> | ((...args: A) => unknown), ...args: A): Promise<Deferral>;
  /** Defers a task by name, type-checked through {@link DeferredTasks}. */
  defer<K extends keyof DeferredTasks & string>(
    name: K,
    ...args: DeferredTasks[K] extends (...args: infer P) => unknown ? P : never
  ): Promise<Deferral>;
  /**
   * Defers many calls (of one task or several) in one call; see {@link TaskHandle.deferMany} for one task. Every call
   * is encoded and checked before anything is written (a bad one rejects naming it, e.g. `calls[7]`). Resolves with
   * the deferrals in call order; when some calls fail, rejects with a `DeferManyError` whose `results` give each
   * call's deferral or error.
   *
   * @example
   * await deferred.deferMany(orders.map((o) => ({ task: sendReceipt, args: [o.id], options: { name: `receipt-${o.id}` } })));
   */
  deferMany<T extends unknown[][]>(
    calls: readonly [...{ [I in keyof T]: DeferCall<T[I]> }],
    options?: DeferManyOptions,
  ): Promise<Deferral[]>;
  /**
   * Runs `fn` in a Datastore transaction, commits it, then creates the Cloud Tasks of the defers made in it. When `fn`
   * throws, the transaction rolls back and no task is created. Retried on contention.
   */
  transaction<T>(fn: (tx: DeferredTransaction) => Promise<T>, options?: TransactionOptions): Promise<T>;
  /** The node:http / Express handler of `<basePath>/tasks/*` and `<basePath>/sweep`. */
  readonly handler: NodeHandler;
  /** The Fetch-API handler of the same routes. */
  readonly fetchHandler: FetchHandler;
  /** Routes `<basePath>/sweep` to `fn` (the sweeper registers itself here). */
  onSweep(fn: SweepFunction): void;
  /** Registered task names, sorted. */
  taskNames(): string[];
  /**
   * Listens to an event (see {@link DeferredEvents}); returns the function that stops listening.
   *
   * @example
   * deferred.on('taskFailed', (e) => failures.add(1, { task: e.task, queue: e.queue }));
   */
  on<E extends keyof DeferredEvents>(event: E, listener: (payload: DeferredEvents[E]) => void): () => void;
  /**
   * The failure ledger: the records of tasks that failed for good (inline and entity-backed), to list newest first
   * with filters, read with their attempt history, replay once (`retry`) or delete (`discard`).
   */
  readonly failures: FailureLedger;
}

// ---- the failure ledger (`deferred.failures`) ---------------------------------------------------------------

/** One attempt of a task as its record keeps it (a record keeps the last 20). */
export interface AttemptRecord {
  /** When the attempt ended. */
  readonly at: Date;
  /** 1-based attempt number (Cloud Tasks' retry count + 1). */
  readonly attempt: number;
  /** Cloud Tasks' retry count of the delivery (`X-CloudTasks-TaskRetryCount`). */
  readonly retryCount: number;
  /** The HTTP status the handler answered: 200 (done, or failed for good), 500 (retried). */
  readonly status: number;
  /** How the attempt ended. */
  readonly outcome: 'done' | 'failed' | 'retry';
  /** The error's message (truncated to 500 characters). */
  readonly error?: string;
  /** The error's stack (truncated to 1,500 characters). */
  readonly stack?: string;
  /** How long the run took, in milliseconds. */
  readonly durationMs?: number;
  /**
   * The trace the run was in (32 hex digits; see {@link TaskInfo.trace}): its log lines carry it as
   * `logging.googleapis.com/trace`. Absent when the run had no trace, and on records of earlier versions.
   */
  readonly traceId?: string;
  /** The span the run's log lines belong to (16 hex digits, `logging.googleapis.com/spanId`), with `traceId`. */
  readonly spanId?: string;
  /** The trace's sampled flag (`logging.googleapis.com/trace_sampled`), with `traceId`: an unsampled one is not in Cloud Trace. */
  readonly traceSampled?: boolean;
}

/** Which failed tasks to list, retry or discard. Every field is optional; given ones must all match. */
export interface FailedTaskFilter {
  /**
   * Only records of this registered task name (or of one of these).
   * @default every task
   */
  readonly task?: string | readonly string[];
  /**
   * Only records of this queue id (or of one of these).
   * @default every queue
   */
  readonly queue?: string | readonly string[];
  /**
   * Only tasks that failed at or after this time (a `Date` or epoch milliseconds).
   * @default no lower bound
   */
  readonly since?: Date | number;
  /**
   * Only tasks that failed before this time (a `Date` or epoch milliseconds).
   * @default no upper bound
   */
  readonly until?: Date | number;
  /**
   * Only records whose last error contains this text (case-insensitive) or matches this RegExp. It is matched against
   * the start of the error kept in the ledger's index (about the first 1,200 characters, on one line), so that a
   * page is read from the index alone.
   * @default no condition on the error
   */
  readonly grep?: string | RegExp;
  /**
   * Datastore namespace of the records.
   * @default the Datastore client's namespace
   */
  readonly namespace?: string;
}

/** How much one call of `list` reads. */
export interface FailedTaskPageOptions {
  /**
   * Most records in the page (1-1000).
   * @default 50
   */
  readonly limit?: number;
  /** The `cursor` of the previous page, to continue after it; absent or null for the newest records. */
  readonly cursor?: string | null;
  /**
   * Most index entries read for this page (1-100,000). With a filter that few records match, a page may come back
   * shorter than `limit` (even empty) with a cursor to continue: each call does bounded work.
   * @default 1000
   */
  readonly maxScan?: number;
}

/** One failed task as the list shows it, read from the ledger's index (no payload is read). */
export interface FailedTaskSummary {
  /** The record's key in the form `deferred inspect` and the other methods accept. */
  readonly key: string;
  /** The record's Datastore key. */
  readonly entityKey: Key;
  /** Registered task name. */
  readonly task: string;
  /** Queue id. */
  readonly queue: string;
  /** Attempts made (runs of an entity-backed task; the last attempt number of an inline one). */
  readonly attempts: number;
  /** When it failed for good. */
  readonly failedAt: Date;
  /** The last error, on one line, as far as the index keeps it. */
  readonly lastError: string;
  /** True when `lastError` is cut (the record has the whole error: `get`). */
  readonly lastErrorCut: boolean;
  /** Id of the Cloud Task that failed (the last segment of its name, as log lines give it in `taskName`). */
  readonly cloudTaskId: string;
  /** True for the record of an inline task (written when it failed); false for an entity-backed task's own entity. */
  readonly inline: boolean;
}

/** One page of failed tasks, newest first. */
export interface FailedTaskPage {
  readonly tasks: FailedTaskSummary[];
  /** Pass as `cursor` for the next page; null when there is nothing more. */
  readonly cursor: string | null;
  /** Index entries read for this page (matching or not). */
  readonly scanned: number;
}

/** The decoded call stored in a record, or why it could not be read. */
export type StoredArguments =
  | {
      /** The arguments in their encoded (JSON) form. */
      readonly encodedArgs: unknown;
      /** The decoded arguments (Dates, Maps, BigInts, your registered classes...), when they decode here. */
      readonly args?: unknown[];
      /** A closure task's bound environment, decoded. */
      readonly bound?: unknown;
      /** Why the arguments do not decode here (a codec this process does not register, ...). */
      readonly decodeError?: string;
      /** Settings that travel with the call (`maxAttempts`, `retentionMs`). */
      readonly meta?: unknown;
    }
  | { readonly error: string };

/** One failure record in full. */
export interface FailedTask {
  readonly key: string;
  readonly entityKey: Key;
  /** `failed`, or `retried` once it was replayed (see `retried`). */
  readonly state: 'failed' | 'retried';
  readonly task: string;
  readonly queue: string;
  /** Full name of the Cloud Task that failed. */
  readonly cloudTaskName: string;
  readonly inline: boolean;
  readonly attempts: number;
  readonly created: Date;
  readonly eta: Date;
  /** When it failed for good. */
  readonly failedAt: Date | null;
  /** The whole last error. */
  readonly lastError: string | null;
  /** The last attempts, oldest first (at most 20; records of earlier versions have none). */
  readonly history: readonly AttemptRecord[];
  /** How long the record is kept after it failed (or after its retry), in milliseconds. */
  readonly retentionMs: number;
  readonly expireAt: Date;
  /** Size of the stored call in bytes (uncompressed). */
  readonly payloadBytes: number;
  /** The stored call: arguments decoded where they can be. */
  readonly payload: StoredArguments;
  /** For a retried record: the Cloud Task and entity that replay it, and when. */
  readonly retried: { readonly cloudTaskName: string; readonly entityKey: string; readonly at: Date } | null;
}

/** Options of a retry. */
export interface RetryOptions {
  /**
   * Queue id to replay into.
   * @default the queue the task failed in
   */
  readonly queue?: string;
  /**
   * Run no earlier than this long from now. Give `delay` or `eta`, not both.
   * @default 0 (now)
   */
  readonly delay?: Duration;
  /** Run no earlier than this time. Give `delay` or `eta`, not both. @default now */
  readonly eta?: Date | number;
  /**
   * Decide and report (with the Cloud Task names a retry would create), change nothing.
   * @default false
   */
  readonly dryRun?: boolean;
  /**
   * Retries in flight at once when several are asked for.
   * @default 4
   */
  readonly concurrency?: number;
}

/** What a retry did with one record. */
export interface RetryResult {
  /** The record, in the form `deferred inspect` accepts. */
  readonly key: string;
  /**
   * `retried`: marked retried and its replay created (see `enqueued`); `would-retry`: a dry run's answer;
   * `already-retried`: an earlier retry replayed it (the Cloud Task that did is in `cloudTaskName`), so nothing ran
   * again; `not-failed`: the record is in another state (`state`); `missing`: no record at that key; `error`: nothing
   * changed (`error` says why).
   */
  readonly status: 'retried' | 'would-retry' | 'already-retried' | 'not-failed' | 'missing' | 'error';
  readonly task?: string;
  /** The replay's Cloud Task (full name). */
  readonly cloudTaskName?: string;
  /** The replay's `_DeferredTask` entity, in the form `deferred inspect` accepts. */
  readonly entityKey?: string;
  /** When the record was retried. */
  readonly retriedAt?: Date;
  /** For `not-failed`: the record's state. */
  readonly state?: string;
  /**
   * For `retried`: false when the record is marked retried but creating its Cloud Task failed (`error`); the replay's
   * entity is then the outbox, and the sweeper creates the task (re-drive) once its ETA + grace has passed.
   */
  readonly enqueued?: boolean;
  readonly error?: string;
}

/**
 * Where the keys given in their text form are, for {@link FailureLedger.get}, `retry` and `discard` (a `Key` carries
 * its own namespace; the text form `deferred inspect` accepts holds none).
 */
export interface TextKeyOptions {
  /**
   * Datastore namespace of the keys given as text, e.g. a tenant's namespace that
   * {@link FailureLedger.otherNamespaces} named.
   * @default the runtime's namespace (its Datastore client's)
   * @example await deferred.failures.retry(key, { namespace: 'acme' })
   */
  readonly namespace?: string;
}

/** Options of a discard. */
export interface DiscardOptions {
  /**
   * Decide and report, delete nothing.
   * @default false
   */
  readonly dryRun?: boolean;
}

/** What a discard did with one record. */
export interface DiscardResult {
  readonly key: string;
  /**
   * `discarded`: the record and its payload chunks are deleted; `would-discard`: a dry run's answer; `not-failed`:
   * the entity is not a failure record (`state`), so it was left alone (a live task's payload is never deleted);
   * `missing`: nothing at that key; `error`: nothing changed.
   */
  readonly status: 'discarded' | 'would-discard' | 'not-failed' | 'missing' | 'error';
  readonly task?: string;
  readonly state?: string;
  readonly error?: string;
}

/**
 * The failure ledger of a runtime instance (`deferred.failures`): the records of tasks that failed for good, which
 * Cloud Tasks no longer holds. List them, read one, replay (retry) or discard them; the CLI (`deferred failed`,
 * `deferred retry`, `deferred discard`) and the dashboard call these methods.
 */
export interface FailureLedger {
  /**
   * A page of failed tasks, newest first, from the ledger's index (no payload is read; no composite index is needed).
   *
   * @example
   * let cursor: string | null = null;
   * do {
   *   const page = await deferred.failures.list({ task: 'sendReport', since: Date.now() - 3_600_000 }, { cursor });
   *   for (const failed of page.tasks) console.log(failed.failedAt, failed.key, failed.lastError);
   *   cursor = page.cursor;
   * } while (cursor);
   */
  list(filter?: FailedTaskFilter, page?: FailedTaskPageOptions): Promise<FailedTaskPage>;
  /** Every failed task matching `filter`, newest first, page after page. */
  matching(filter?: FailedTaskFilter): AsyncIterable<FailedTaskSummary>;
  /**
   * The ledger lists one namespace at a time (`filter.namespace`, by default the runtime's). These are the other
   * namespaces its registry names (tenants' entity groups that transactional tasks were written into) that hold
   * failure records matching `filter`: list them with `{ ...filter, namespace }`. At most 20 namespaces are looked
   * into, one index read each.
   */
  otherNamespaces(filter?: FailedTaskFilter): Promise<string[]>;
  /** One failure record (`failed` or `retried`) with its history and decoded arguments; undefined when there is none. */
  get(key: Key | string, options?: TextKeyOptions): Promise<FailedTask | undefined>;
  /**
   * Replays failed tasks: each record's stored call is deferred again (entity-backed, in the record's namespace) with
   * its original queue, headers, dispatch deadline, `maxAttempts` and retention unless `options` override the queue or
   * the timing, and the record becomes `retried` with the new Cloud Task's name, in the same transaction that checks
   * it is still `failed`. Retrying a record twice, or from two processes at once, replays it once. Each key gets one
   * result, in order. Keys given as text are in the runtime's namespace unless `options.namespace` names another.
   *
   * @example
   * const [result] = await deferred.failures.retry('failed.default.1234567890123456789');
   * // { status: 'retried', cloudTaskName: 'projects/.../tasks/1234567890123456789-r1', ... }
   */
  retry(
    keys: Key | string | readonly (Key | string)[],
    options?: RetryOptions & TextKeyOptions,
  ): Promise<RetryResult[]>;
  /** {@link FailureLedger.retry} of every failed task matching `filter` (all pages). */
  retryMatching(filter: FailedTaskFilter, options?: RetryOptions): Promise<RetryResult[]>;
  /**
   * Deletes failure records (`failed` or `retried`) and their payload chunks now. Never touches another state. Keys
   * given as text are in the runtime's namespace unless `options.namespace` names another.
   */
  discard(
    keys: Key | string | readonly (Key | string)[],
    options?: DiscardOptions & TextKeyOptions,
  ): Promise<DiscardResult[]>;
  /** {@link FailureLedger.discard} of every failed task matching `filter` (all pages). */
  discardMatching(filter: FailedTaskFilter, options?: DiscardOptions): Promise<DiscardResult[]>;
}
