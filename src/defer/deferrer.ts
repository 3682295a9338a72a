/** Registering tasks and deferring them: task handles, closures and methods, now, held by a running parent, or in a transaction. */
import { currentRunContext, type RunContext } from '../core/run-context.js';
import type { ResolvedConfig } from '../core/config.js';
import { log } from '../core/logger.js';
import { encodeCall, type CodecSettings, type EnvelopeMeta } from '../core/task-envelope.js';
import { childTaskId, queuePath, taskIdOf } from '../core/task-names.js';
import type { TaskDefinition, TaskRegistry } from '../core/task-registry.js';
import { InvalidArgumentError } from '../errors/invalid-argument.js';
import { UnregisteredTaskError } from '../errors/runtime.js';
import type { NamespaceRegistry } from '../store/namespace-registry.js';
import { DEFAULT_RETENTION_MS } from '../store/schema.js';
import type {
  ClassTaskOptions,
  ClosureHandle,
  DeferBuilder,
  DeferOptions,
  Deferral,
  DeferredTransaction,
  MethodsHandle,
  TaskHandle,
  TaskOptions,
  TransactionOptions,
} from '../types.js';
import { TransactionImpl, runDeferredTransaction } from './deferred-transaction.js';
import { Enqueuer, type PreparedDefer } from './enqueue.js';
import { resolveDeferOptions } from './options.js';
import { telemetry } from '../core/telemetry.js';
import { endDeferTrace, startDeferTrace } from './trace-capture.js';

/**
 * The deferring half of a runtime instance: registers tasks in the registry it shares with the handler, encodes and
 * checks each call at once, and creates its Cloud Task (through the {@link Enqueuer}) or holds it. Configuration is
 * read through `configOf` on first use, so the default instance can resolve it lazily.
 */
export class Deferrer {
  private enqueuerInstance: Enqueuer | undefined;

  /** `namespaces`: the registry of the other namespaces this instance writes task entities to (transactions). */
  constructor(
    private readonly configOf: () => ResolvedConfig,
    private readonly registry: TaskRegistry,
    private readonly namespaces: NamespaceRegistry,
  ) {}

  private get config(): ResolvedConfig {
    return this.configOf();
  }

  private get enqueuer(): Enqueuer {
    this.enqueuerInstance ??= new Enqueuer(this.config);
    return this.enqueuerInstance;
  }

  private get codec(): CodecSettings {
    const { maxDepth, codecs, datastore } = this.config;
    return { maxDepth, codecs, datastore };
  }

  // ---- registration ------------------------------------------------------------------------------------------

  task<A extends unknown[]>(name: string, fn: (...args: A) => unknown, options: TaskOptions = {}): TaskHandle<A> {
    if (typeof fn !== 'function') {
      throw new InvalidArgumentError(`deferred.task(${JSON.stringify(name)}, fn): fn must be a function.`);
    }
    const definition = this.registry.register({
      name,
      kind: 'function',
      options,
      fn: fn as (...args: never[]) => unknown,
      run: (args) => fn(...(args as A)),
    });
    return this.handleFor<A>(definition, undefined, fn);
  }

  closure<E, A extends unknown[]>(
    name: string,
    fn: (env: E, ...args: A) => unknown,
    options: TaskOptions = {},
  ): ClosureHandle<E, A> {
    if (typeof fn !== 'function') {
      throw new InvalidArgumentError(`deferred.closure(${JSON.stringify(name)}, fn): fn must be a function.`);
    }
    const definition = this.registry.register({
      name,
      kind: 'closure',
      options,
      fn: fn as (...args: never[]) => unknown,
      run: (args, env) => fn(env as E, ...(args as A)),
    });
    return {
      name: definition.name,
      bind: (env: E) => this.handleFor<A>(definition, env, (...args: A) => fn(env, ...args)),
    };
  }

  methods<T extends object, K>(
    name: string,
    cls: abstract new (...args: never[]) => T,
    options: ClassTaskOptions<T, K>,
  ): MethodsHandle<T> {
    if (typeof cls !== 'function')
      throw new InvalidArgumentError(`deferred.methods(${JSON.stringify(name)}): pass the class.`);
    if (typeof options?.key !== 'function' || typeof options.load !== 'function') {
      throw new InvalidArgumentError(
        `deferred.methods(${JSON.stringify(name)}): options.key(instance) and options.load(key) are required, so instances travel as their key.`,
      );
    }
    const allowed = new Set<string>(options.methods ?? methodNamesOf(cls.prototype as object));
    const { key: _key, load, methods: _methods, ...taskOptions } = options;
    const definitions = new Map<string, TaskDefinition>();
    for (const method of allowed) {
      definitions.set(
        method,
        this.registry.register({
          name: `${name}.${method}`,
          kind: 'method',
          options: taskOptions,
          fn: null,
          run: async (args, key) => {
            const instance = (await load(key as K)) as Record<string, unknown>;
            const target = instance?.[method];
            if (typeof target !== 'function') {
              throw new TypeError(`${name}.load() returned no object with a method ${method}`);
            }
            return (target as (...a: unknown[]) => unknown).apply(instance, args);
          },
        }),
      );
    }
    const deferMethod =
      (layers: readonly DeferOptions[]) =>
      (instance: T, method: string, ...args: unknown[]): Promise<Deferral> => {
        if (!(instance instanceof (cls as unknown as new () => T))) {
          return Promise.reject(
            new InvalidArgumentError(`${name}.defer(instance, ...): instance is not a ${cls.name || name}.`),
          );
        }
        const definition = definitions.get(method);
        if (!definition) {
          return Promise.reject(
            new UnregisteredTaskError(
              `${name}.${String(method)} is not a registered method; list it in methods when calling deferred.methods(${JSON.stringify(name)}, ...).`,
            ),
          );
        }
        let key: K;
        try {
          key = options.key(instance);
        } catch (error) {
          return Promise.reject(error);
        }
        return this.deferDefinition(definition, args, key, layers);
      };
    const build = (layers: readonly DeferOptions[]) => ({
      defer: deferMethod(layers) as MethodsHandle<T>['defer'],
    });
    return {
      name,
      ...build([]),
      with: (options: DeferOptions) => build([options]),
    } as MethodsHandle<T>;
  }

  private handleFor<A extends unknown[]>(
    definition: TaskDefinition,
    bound: unknown,
    fn: (...args: A) => unknown,
  ): TaskHandle<A> {
    const builder = (layers: readonly DeferOptions[]): DeferBuilder<A> => ({
      defer: (...args: A) => this.deferDefinition(definition, args, bound, layers),
      with: (options: DeferOptions) => builder([...layers, options]),
    });
    const handle: TaskHandle<A> & { readonly [HANDLE]: { definition: TaskDefinition; bound: unknown } } = {
      name: definition.name,
      fn,
      defer: (...args: A) => this.deferDefinition(definition, args, bound, []),
      with: (options: DeferOptions) => builder([options]),
      [HANDLE]: { definition, bound },
    };
    return handle;
  }

  // ---- deferring ---------------------------------------------------------------------------------------------

  defer(task: unknown, ...args: unknown[]): Promise<Deferral> {
    try {
      const { definition, bound } = this.resolveTarget(task);
      return this.deferDefinition(definition, args, bound, []);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  private resolveTarget(task: unknown): { definition: TaskDefinition; bound: unknown } {
    if (task && typeof task === 'object' && HANDLE in task) {
      return (task as { [HANDLE]: { definition: TaskDefinition; bound: unknown } })[HANDLE];
    }
    if (typeof task === 'string') {
      const definition = this.registry.get(task);
      if (!definition) {
        throw new UnregisteredTaskError(
          `no task is registered as ${JSON.stringify(task)}; register it with deferred.task(${JSON.stringify(task)}, fn) before deferring it.`,
        );
      }
      if (definition.kind !== 'function') {
        throw new InvalidArgumentError(
          `task ${JSON.stringify(task)} needs ${definition.kind === 'closure' ? 'an environment: defer it through .bind(env)' : 'an instance: defer it through its methods handle'}.`,
        );
      }
      return { definition, bound: undefined };
    }
    if (typeof task === 'function') {
      const definition = this.registry.byFunction(task);
      if (definition?.kind === 'function') return { definition, bound: undefined };
      const label = task.name ? `function ${task.name}` : 'an anonymous function (inline closure)';
      throw new UnregisteredTaskError(
        definition?.kind === 'closure'
          ? `${label} is registered as closure ${JSON.stringify(definition.name)}: defer it through .bind(env).`
          : `defer() got ${label}, which is not a registered task: functions never travel in payloads. Register it once with deferred.task('name', fn) and defer the handle; for a closure, move what it captures into an environment with deferred.closure('name', (env, ...args) => ...).bind(env).`,
      );
    }
    throw new InvalidArgumentError(
      `defer() needs a task handle, a registered function or a task name as its first argument, got ${task === null ? 'null' : typeof task}.`,
    );
  }

  /** Encodes and checks the call now, then creates its Cloud Task, or holds it (transaction, running parent). */
  private async deferDefinition(
    definition: TaskDefinition,
    args: readonly unknown[],
    bound: unknown,
    layers: readonly DeferOptions[],
  ): Promise<Deferral> {
    const config = this.config;
    const options = resolveDeferOptions([config.defaults, definition.options, ...layers], {
      nowMs: config.clock.now(),
      defaultQueue: config.queue,
    });
    // Only what differs from the defaults travels (the handler applies the same defaults).
    const meta: EnvelopeMeta = {};
    if (options.maxAttempts !== null) meta.maxAttempts = options.maxAttempts;
    if (options.retentionMs !== DEFAULT_RETENTION_MS) meta.retentionMs = options.retentionMs;
    // What a retry from the failure ledger restores (an inline task's record keeps no request).
    if (Object.keys(options.headers).length > 0) meta.headers = { ...options.headers };
    if (options.dispatchDeadlineMs !== null) meta.dispatchDeadlineMs = options.dispatchDeadlineMs;
    const envelope = encodeCall(definition.name, args, bound, meta, this.codec);
    const current = currentRunContext();
    const found = config.openTelemetry ? telemetry() : null;
    const otel = found instanceof Promise ? await found : found;
    const trace = startDeferTrace(definition.name, options.queue, options.traceparent, current, otel);
    const prepared: PreparedDefer = {
      task: definition.name,
      options,
      envelope,
      meta,
      traceparent: trace.traceparent,
    };
    if (!trace.span) return this.deferPrepared(prepared, current);
    try {
      const deferral = await this.deferPrepared(prepared, current);
      endDeferTrace(trace, deferral);
      return deferral;
    } catch (error) {
      endDeferTrace(trace, null, error);
      throw error;
    }
  }

  /** Creates the Cloud Task of a prepared defer, or holds it (transaction, running parent). */
  private async deferPrepared(prepared: PreparedDefer, current: RunContext | undefined): Promise<Deferral> {
    const config = this.config;
    const { options, task } = prepared;
    if (current?.closed) {
      log(config.logger, {
        severity: 'WARNING',
        message: `task ${task} was deferred after its parent ${current.info.task} had finished (a promise not awaited?): enqueued at once, not held`,
        task,
      });
    }
    const run = current && !current.closed ? current : undefined;

    if (options.transaction) {
      if (!(options.transaction instanceof TransactionImpl) || options.transaction.owner !== this) {
        throw new InvalidArgumentError(
          'transaction must come from this instance: deferred.transaction(async (tx) => ...), then pass tx (a raw Datastore transaction cannot tell us when it commits).',
        );
      }
      const taskId = options.name ?? (run ? nextChildId(run) : null);
      return options.transaction.hold(prepared, taskId, options.parent, options.ifExists);
    }
    if (run) {
      const taskId = options.name ?? nextChildId(run);
      run.children.push({
        flush: async () => {
          await this.enqueuer.enqueue(prepared, taskId, 'ignore');
        },
      });
      return {
        task,
        queue: options.queue,
        cloudTaskName: `${queuePath(config.projectId, config.location, options.queue)}/tasks/${taskId}`,
        entityKey: null,
        status: 'held',
        eta: new Date(options.etaMs),
      };
    }
    return this.enqueuer.enqueue(prepared, options.name, options.ifExists);
  }

  transaction<T>(fn: (tx: DeferredTransaction) => Promise<T>, options: TransactionOptions = {}): Promise<T> {
    return runDeferredTransaction(
      this,
      { config: this.config, enqueuer: this.enqueuer, namespaces: this.namespaces },
      fn,
      options,
    );
  }
}

const HANDLE = Symbol('cloud-deferred.handle');

/** The deterministic id of the next task deferred by a running task. */
function nextChildId(run: RunContext): string {
  run.sequence += 1;
  return childTaskId(taskIdOf(run.info.cloudTaskName), run.sequence);
}

/** Methods on a prototype chain (not Object's), without the constructor. */
function methodNamesOf(prototype: object): string[] {
  const names = new Set<string>();
  for (let p: object | null = prototype; p && p !== Object.prototype; p = Object.getPrototypeOf(p) as object | null) {
    for (const name of Object.getOwnPropertyNames(p)) {
      if (name === 'constructor') continue;
      const descriptor = Object.getOwnPropertyDescriptor(p, name);
      if (descriptor && typeof descriptor.value === 'function') names.add(name);
    }
  }
  return [...names];
}
