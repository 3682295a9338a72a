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
  DeferManyOptions,
  DeferManyResult,
  DeferOptions,
  Deferral,
  DeferredTransaction,
  MethodCall,
  MethodsHandle,
  TaskHandle,
  TaskOptions,
  TransactionOptions,
} from '../types.js';
import { TransactionImpl, runDeferredTransaction } from './deferred-transaction.js';
import { Enqueuer, type PreparedDefer } from './enqueue.js';
import { resolveDeferOptions } from './options.js';
import { telemetry, type Telemetry } from '../core/telemetry.js';
import { deferredEvent, endDeferTrace, startDeferTrace, type DeferTrace } from './trace-capture.js';
import type { EventHub } from '../core/events.js';
import { enqueueMany, manyConcurrency, refusedCall, settle, type BulkItem } from './defer-many.js';

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
    private readonly events: EventHub,
  ) {}

  /** `deferral`, reported as a `taskDeferred` event once it resolves; as it is when nobody listens (no promise more). */
  private reported(deferral: Promise<Deferral>, traceparent: string | null): Promise<Deferral> {
    if (!this.events.has('taskDeferred')) return deferral;
    return deferral.then((resolved) => {
      this.report(resolved, traceparent);
      return resolved;
    });
  }

  /** Emits the `taskDeferred` event of a deferral whose Cloud Task carries `traceparent`. */
  private report(deferral: Deferral, traceparent: string | null): void {
    this.events.emit('taskDeferred', deferredEvent(this.config.projectId, deferral, traceparent));
  }

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

  task<A extends unknown[], R>(name: string, fn: (...args: A) => R, options: TaskOptions = {}): TaskHandle<A, R> {
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
    return this.handleFor<A, R>(definition, undefined, fn);
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
    /** The definition and the key of a call of `method` on `instance`; throws what `defer()` would reject with. */
    const resolveMethod = (instance: T, method: string): { definition: TaskDefinition; key: K } => {
      if (!(instance instanceof (cls as unknown as new () => T))) {
        throw new InvalidArgumentError(`${name}.defer(instance, ...): instance is not a ${cls.name || name}.`);
      }
      const definition = definitions.get(method);
      if (!definition) {
        throw new UnregisteredTaskError(
          `${name}.${String(method)} is not a registered method; list it in methods when calling deferred.methods(${JSON.stringify(name)}, ...).`,
        );
      }
      return { definition, key: options.key(instance) };
    };
    const deferMethod =
      (layers: readonly DeferOptions[]) =>
      (instance: T, method: string, ...args: unknown[]): Promise<Deferral> => {
        let target: { definition: TaskDefinition; key: K };
        try {
          target = resolveMethod(instance, method);
        } catch (error) {
          return Promise.reject(error);
        }
        return this.deferDefinition(target.definition, args, target.key, layers);
      };
    const deferMethods =
      (layers: readonly DeferOptions[]) =>
      (calls: readonly MethodCall<T>[], manyOptions?: DeferManyOptions): Promise<Deferral[]> =>
        this.deferManyOf(
          `${name}.deferMany(calls) needs an array of calls { instance, method, args, options? }`,
          calls,
          (entry: MethodCall<T>, index, count) => {
            const call = checkedCall(entry, index, count, 'instance', '{ instance, method, args, options? }', 'method');
            const target = refusing(index, count, () => resolveMethod(call.instance as T, call.method as string));
            const { args, options: callOptions } = call;
            const callLayers = callOptions === undefined ? layers : [...layers, callOptions];
            return { definition: target.definition, args: args as unknown[], bound: target.key, layers: callLayers };
          },
          manyOptions,
        );
    const build = (layers: readonly DeferOptions[]) => ({
      defer: deferMethod(layers) as MethodsHandle<T>['defer'],
      deferMany: deferMethods(layers),
    });
    return {
      name,
      ...build([]),
      with: (options: DeferOptions) => build([options]),
    } as MethodsHandle<T>;
  }

  private handleFor<A extends unknown[], R = unknown>(
    definition: TaskDefinition,
    bound: unknown,
    fn: (...args: A) => R,
  ): TaskHandle<A, R> {
    const many = (layers: readonly DeferOptions[]) => (argsList: readonly A[], options?: DeferManyOptions) =>
      this.deferManyOf(
        `${definition.name}.deferMany(argsList) needs an array with one array of arguments per run`,
        argsList,
        (args: A, index, count) => {
          if (!Array.isArray(args)) {
            throw refusedCall(
              new InvalidArgumentError(`each entry of argsList is one run's arguments, an array; got ${typeof args}.`),
              index,
              count,
            );
          }
          return { definition, args, bound, layers };
        },
        options,
      );
    const builder = (layers: readonly DeferOptions[]): DeferBuilder<A> => ({
      defer: (...args: A) => this.deferDefinition(definition, args, bound, layers),
      deferMany: many(layers),
      with: (options: DeferOptions) => builder([...layers, options]),
    });
    const handle: TaskHandle<A, R> & { readonly [HANDLE]: { definition: TaskDefinition; bound: unknown } } = {
      name: definition.name,
      fn,
      defer: (...args: A) => this.deferDefinition(definition, args, bound, []),
      deferMany: many([]),
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
  private deferDefinition(
    definition: TaskDefinition,
    args: readonly unknown[],
    bound: unknown,
    layers: readonly DeferOptions[],
  ): Promise<Deferral> {
    // Not async: without OpenTelemetry a defer goes straight to its Cloud Task, without promises of its own (each costs
    // every enabled AsyncLocalStorage before Node 24). Whatever is wrong still arrives as a rejection.
    try {
      const current = currentRunContext();
      const call = { definition, args, bound, layers };
      if (this.config.openTelemetry) return this.deferTraced(call, current);
      const { prepared } = this.prepare(call, current, null);
      return this.reported(this.deferPrepared(prepared, current), prepared.traceparent);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** {@link deferDefinition} with OpenTelemetry: the PRODUCER span ends with the deferral (or its error). */
  private async deferTraced(call: DeferCallOf, current: RunContext | undefined): Promise<Deferral> {
    const otel = await this.otel();
    const { prepared, trace } = this.prepare(call, current, otel);
    if (!trace.span) return this.reported(this.deferPrepared(prepared, current), prepared.traceparent);
    try {
      const deferral = await this.reported(this.deferPrepared(prepared, current), prepared.traceparent);
      endDeferTrace(trace, deferral);
      return deferral;
    } catch (error) {
      endDeferTrace(trace, null, error);
      throw error;
    }
  }

  /** The OpenTelemetry API when configured and installed (loaded on first use), else null. */
  private async otel(): Promise<Telemetry | null> {
    const found = this.config.openTelemetry ? telemetry() : null;
    return found instanceof Promise ? await found : found;
  }

  /** Resolves a call's options, encodes and checks its arguments, and starts its trace; throws what is wrong. */
  private prepare(
    call: DeferCallOf,
    current: RunContext | undefined,
    otel: Telemetry | null,
  ): { prepared: PreparedDefer; trace: DeferTrace } {
    const { definition, args, bound, layers } = call;
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
    const trace = startDeferTrace(definition.name, options.queue, options.traceparent, current, otel);
    const prepared: PreparedDefer = {
      task: definition.name,
      options,
      envelope,
      meta,
      traceparent: trace.traceparent,
    };
    return { prepared, trace };
  }

  /** Refuses a transaction that is not one of this instance's. */
  private checkTransaction(transaction: DeferredTransaction | null): asserts transaction is TransactionImpl | null {
    if (transaction && (!(transaction instanceof TransactionImpl) || transaction.owner !== this)) {
      throw new InvalidArgumentError(
        'transaction must come from this instance: deferred.transaction(async (tx) => ...), then pass tx (a raw Datastore transaction cannot tell us when it commits).',
      );
    }
  }

  /** Creates the Cloud Task of a prepared defer, or holds it (transaction, running parent). */
  private deferPrepared(prepared: PreparedDefer, current: RunContext | undefined): Promise<Deferral> {
    try {
      return this.deferNowOrHold(prepared, current);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  private deferNowOrHold(prepared: PreparedDefer, current: RunContext | undefined): Promise<Deferral> {
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
      this.checkTransaction(options.transaction);
      const taskId = options.name ?? (run ? nextChildId(run) : null);
      return Promise.resolve(options.transaction.hold(prepared, taskId, options.parent, options.ifExists));
    }
    if (run) {
      const taskId = options.name ?? nextChildId(run);
      run.children.push({
        flush: async () => {
          await this.enqueuer.enqueue(prepared, taskId, 'ignore');
        },
      });
      return Promise.resolve({
        task,
        queue: options.queue,
        cloudTaskName: `${queuePath(config.projectId, config.location, options.queue)}/tasks/${taskId}`,
        entityKey: null,
        status: 'held',
        eta: new Date(options.etaMs),
      });
    }
    return this.enqueuer.enqueue(prepared, options.name, options.ifExists);
  }

  // ---- deferring many -----------------------------------------------------------------------------------------

  /** `deferred.deferMany(calls)`: each call a task (handle, registered function or name), its arguments and options. */
  deferMany(calls: unknown, options?: DeferManyOptions): Promise<Deferral[]> {
    return this.deferManyOf(
      'deferMany(calls) needs an array of calls { task, args, options? }',
      calls,
      (entry, index, count) => {
        const call = checkedCall(entry, index, count, 'task', '{ task, args, options? }', 'run');
        const target = refusing(index, count, () => this.resolveTarget(call.task));
        const { args, options: callOptions } = call;
        const layers = callOptions === undefined ? [] : [callOptions];
        return { definition: target.definition, bound: target.bound, args: args as unknown[], layers };
      },
      options,
    );
  }

  /**
   * Checks, prepares and defers many calls (`toCall` turns each entry of `list` into one, or throws a
   * {@link refusedCall}; `listShape` says what `list` must be when it is no array): every call is prepared before
   * anything is written. Calls with a transaction are held in it, calls made
   * while a task runs are held until it succeeds (then created in bulk), the rest are created now in bulk.
   */
  private async deferManyOf<E>(
    listShape: string,
    list: unknown,
    toCall: (entry: E, index: number, count: number) => DeferCallOf,
    options: DeferManyOptions | undefined,
  ): Promise<Deferral[]> {
    if (!Array.isArray(list)) {
      throw new InvalidArgumentError(`${listShape}, got ${list === null ? 'null' : typeof list}.`);
    }
    const concurrency = manyConcurrency(options?.concurrency);
    const count = list.length;
    const current = currentRunContext();
    const otel = await this.otel();
    const prepared: { prepared: PreparedDefer; trace: DeferTrace }[] = [];
    const names = new Map<string, number>();
    try {
      for (let index = 0; index < count; index++) {
        const call = toCall(list[index] as E, index, count);
        let one: { prepared: PreparedDefer; trace: DeferTrace };
        try {
          one = this.prepare(call, current, otel);
          prepared.push(one);
          this.checkTransaction(one.prepared.options.transaction);
        } catch (error) {
          throw refusedCall(error, index, count);
        }
        const { name, queue } = one.prepared.options;
        if (name !== null) {
          const key = `${queue}/${name}`;
          const first = names.get(key);
          if (first !== undefined) {
            throw refusedCall(
              new InvalidArgumentError(
                `calls[${first}] and calls[${index}] both name task ${JSON.stringify(name)} in queue ${queue}; a name is one task: drop the duplicate call or name them apart.`,
              ),
              index,
              count,
            );
          }
          names.set(key, index);
        }
      }
    } catch (error) {
      for (const { trace } of prepared) endDeferTrace(trace, null, error);
      throw error;
    }

    const config = this.config;
    if (current?.closed && prepared.length > 0) {
      log(config.logger, {
        severity: 'WARNING',
        message: `deferMany of ${count} tasks after the parent ${current.info.task} had finished (a promise not awaited?): enqueued at once, not held`,
        task: prepared[0]!.prepared.task,
      });
    }
    const run = current && !current.closed ? current : undefined;
    const results = new Array<DeferManyResult>(count);
    const now: { index: number; item: BulkItem }[] = [];
    const held: BulkItem[] = [];
    prepared.forEach(({ prepared: one }, index) => {
      const { options: resolved } = one;
      if (resolved.transaction) {
        const taskId = resolved.name ?? (run ? nextChildId(run) : null);
        const deferral = (resolved.transaction as TransactionImpl).hold(
          one,
          taskId,
          resolved.parent,
          resolved.ifExists,
        );
        results[index] = { index, status: 'fulfilled', deferral };
      } else if (run) {
        const taskId = resolved.name ?? nextChildId(run);
        held.push({ prepared: one, taskId, ifExists: 'ignore' });
        results[index] = {
          index,
          status: 'fulfilled',
          deferral: {
            task: one.task,
            queue: resolved.queue,
            cloudTaskName: `${queuePath(config.projectId, config.location, resolved.queue)}/tasks/${taskId}`,
            entityKey: null,
            status: 'held',
            eta: new Date(resolved.etaMs),
          },
        };
      } else {
        now.push({ index, item: { prepared: one, taskId: resolved.name, ifExists: resolved.ifExists } });
      }
    });
    if (run && held.length > 0) {
      // Created once the parent succeeds, in bulk; a retried parent re-derives the same names (taken names are its own).
      run.children.push({
        flush: async () => {
          settle(await enqueueMany(this.enqueuer, config, held, concurrency));
        },
        bulk: true,
      });
    }
    if (now.length > 0) {
      const created = await enqueueMany(
        this.enqueuer,
        config,
        now.map((n) => n.item),
        concurrency,
      );
      created.forEach((result, i) => {
        const index = now[i]!.index;
        results[index] =
          result.status === 'fulfilled'
            ? { index, status: 'fulfilled', deferral: result.deferral }
            : { index, status: 'rejected', error: result.error };
      });
    }
    const report = this.events.has('taskDeferred');
    prepared.forEach(({ trace }, index) => {
      const result = results[index]!;
      if (result.status === 'fulfilled') endDeferTrace(trace, result.deferral);
      else endDeferTrace(trace, null, result.error);
      if (report && result.status === 'fulfilled') this.report(result.deferral, trace.traceparent);
    });
    return settle(results);
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

/** One call to prepare: a task definition, its arguments, its bound environment or key, and its option layers. */
interface DeferCallOf {
  readonly definition: TaskDefinition;
  readonly args: readonly unknown[];
  readonly bound: unknown;
  readonly layers: readonly DeferOptions[];
}

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

/**
 * One call of a `deferMany`, checked: an object with `required` (`task`, or a method call's `instance`) and an `args`
 * array (`argsOf`: whose arguments, for the message); anything else refuses the whole call, naming it.
 */
function checkedCall(
  call: unknown,
  index: number,
  count: number,
  required: 'task' | 'instance',
  shape: string,
  argsOf: 'run' | 'method',
): { readonly [field: string]: unknown; readonly args: unknown; readonly options?: DeferOptions } {
  if (!call || typeof call !== 'object' || !(required in call)) {
    const got = call === null ? 'null' : typeof call === 'object' ? `an object without ${required}` : typeof call;
    throw refusedCall(new InvalidArgumentError(`each call is an object ${shape}, got ${got}.`), index, count);
  }
  const { args } = call as { args?: unknown };
  if (!Array.isArray(args)) {
    throw refusedCall(
      new InvalidArgumentError(`args must be an array of the ${argsOf}'s arguments, got ${typeof args}.`),
      index,
      count,
    );
  }
  return call as { args: unknown[]; options?: DeferOptions };
}

/** What `resolve` returns; its error refuses the whole `deferMany`, naming call `index`. */
function refusing<T>(index: number, count: number, resolve: () => T): T {
  try {
    return resolve();
  } catch (error) {
    throw refusedCall(error, index, count);
  }
}
