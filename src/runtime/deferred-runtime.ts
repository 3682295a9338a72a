/** The composition root: `createDeferred` wires the configuration, the task registry, the deferring side (`defer/`), the serving side (`handler/`: executor and HTTP adapters) and the failure ledger (`failures/`) into one runtime instance. */
import { resolveConfig, type ResolvedConfig } from '../core/config.js';
import { TaskRegistry } from '../core/task-registry.js';
import { telemetry } from '../core/telemetry.js';
import { EventHub } from '../core/events.js';
import { Deferrer } from '../defer/deferrer.js';
import { Enqueuer } from '../defer/enqueue.js';
import { InvalidArgumentError } from '../errors/invalid-argument.js';
import { createFailureLedger } from '../failures/failure-ledger.js';
import type { FailureLedger } from '../types.js';
import { TaskExecutor } from '../handler/execute.js';
import { fetchHandler } from '../handler/fetch.js';
import { nodeHandler } from '../handler/node.js';
import { NamespaceRegistry } from '../store/namespace-registry.js';
import type {
  ClassTaskOptions,
  ClosureHandle,
  DeferManyOptions,
  Deferral,
  Deferred,
  DeferredConfig,
  DeferredEvents,
  DeferredTransaction,
  FetchHandler,
  MethodsHandle,
  NodeHandler,
  SweepFunction,
  TaskHandle,
  TaskOptions,
  TransactionOptions,
} from '../types.js';
import { registerRuntime } from './services.js';

/**
 * Creates a runtime instance: register tasks on it, defer them, and mount its `handler` (node:http / Express) or
 * `fetchHandler` where Cloud Tasks delivers.
 *
 * @example
 * const deferred = createDeferred({
 *   projectId: 'my-project', location: 'europe-west1', handlerUrl: 'https://worker.example.com/_deferred',
 *   secret: process.env.DEFERRED_SECRET!, datastore: new Datastore(), tasks: new CloudTasksClient(),
 * });
 */
export function createDeferred(config: DeferredConfig): Deferred {
  const resolved = resolveConfig(config);
  // Loaded now, in the background (never at import): the first defer then finds it ready.
  if (resolved.openTelemetry) void telemetry();
  return new DeferredRuntime(() => resolved, new TaskRegistry());
}

/** The implementation behind {@link Deferred}. Configuration may be resolved lazily (the default instance). */
export class DeferredRuntime implements Deferred {
  private resolvedConfig: ResolvedConfig | undefined;
  private readonly deferrer: Deferrer;
  /** The other namespaces it writes task entities to: registered by the deferring side, checked by the serving side. */
  private readonly namespaces: NamespaceRegistry;
  private readonly events = new EventHub(() => this.config.logger);
  private executorInstance: TaskExecutor | undefined;
  private sweepFunction: SweepFunction | undefined;
  private nodeHandlerInstance: NodeHandler | undefined;
  private fetchHandlerInstance: FetchHandler | undefined;
  /** The adapters, built on first use (after the configuration is resolved) and then kept: one route cache each. */
  private nodeAdapter: NodeHandler | undefined;
  private fetchAdapter: FetchHandler | undefined;
  private failureLedger: FailureLedger | undefined;

  constructor(
    private readonly configSource: () => ResolvedConfig,
    private readonly registry: TaskRegistry,
  ) {
    this.namespaces = new NamespaceRegistry(() => this.config);
    this.deferrer = new Deferrer(() => this.config, registry, this.namespaces, this.events);
    registerRuntime(this, () => this.config, this.events);
  }

  /** The resolved configuration (resolved on first use). */
  private get config(): ResolvedConfig {
    this.resolvedConfig ??= this.configSource();
    return this.resolvedConfig;
  }

  private get executor(): TaskExecutor {
    const config = this.config;
    this.executorInstance ??= new TaskExecutor({
      config,
      registry: this.registry,
      namespaces: this.namespaces,
      codec: { maxDepth: config.maxDepth, codecs: config.codecs, datastore: config.datastore },
      sweep: () => this.sweepFunction,
      events: this.events,
    });
    return this.executorInstance;
  }

  // ---- registering and deferring: the Deferrer ------------------------------------------------------------------

  task<A extends unknown[], R>(name: string, fn: (...args: A) => R, options: TaskOptions = {}): TaskHandle<A, R> {
    return this.deferrer.task(name, fn, options);
  }

  closure<E, A extends unknown[]>(
    name: string,
    fn: (env: E, ...args: A) => unknown,
    options: TaskOptions = {},
  ): ClosureHandle<E, A> {
    return this.deferrer.closure(name, fn, options);
  }

  methods<T extends object, K>(
    name: string,
    cls: abstract new (...args: never[]) => T,
    options: ClassTaskOptions<T, K>,
  ): MethodsHandle<T> {
    return this.deferrer.methods(name, cls, options);
  }

  defer(task: unknown, ...args: unknown[]): Promise<Deferral> {
    return this.deferrer.defer(task, ...args);
  }

  deferMany(calls: readonly unknown[], options?: DeferManyOptions): Promise<Deferral[]> {
    return this.deferrer.deferMany(calls, options);
  }

  transaction<T>(fn: (tx: DeferredTransaction) => Promise<T>, options: TransactionOptions = {}): Promise<T> {
    return this.deferrer.transaction(fn, options);
  }

  // ---- serving -----------------------------------------------------------------------------------------------

  get handler(): NodeHandler {
    this.nodeHandlerInstance ??= (req, res, next) =>
      (this.nodeAdapter ??= nodeHandler(this.executor, this.config.basePath, this.config.maxBodyBytes))(req, res, next);
    return this.nodeHandlerInstance;
  }

  get fetchHandler(): FetchHandler {
    this.fetchHandlerInstance ??= (request) =>
      (this.fetchAdapter ??= fetchHandler(this.executor, this.config.basePath, this.config.maxBodyBytes))(request);
    return this.fetchHandlerInstance;
  }

  onSweep(fn: SweepFunction): void {
    if (typeof fn !== 'function') throw new InvalidArgumentError('onSweep(fn): fn must be a function.');
    this.sweepFunction = fn;
  }

  taskNames(): string[] {
    return this.registry.names();
  }

  on<E extends keyof DeferredEvents>(event: E, listener: (payload: DeferredEvents[E]) => void): () => void {
    return this.events.on(event, listener);
  }

  // ---- the failure ledger ----------------------------------------------------------------------------------------

  get failures(): FailureLedger {
    this.failureLedger ??= createFailureLedger(() => {
      const config = this.config;
      return { config, enqueuer: new Enqueuer(config), namespaces: this.namespaces };
    });
    return this.failureLedger;
  }
}
