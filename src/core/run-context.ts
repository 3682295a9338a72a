/** The running task's context, carried through AsyncLocalStorage: what `currentTask()` returns, and its held children. */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { TaskInfo } from '../types.js';

/** A child task deferred while its parent runs: created once the parent succeeds. */
export interface HeldChild {
  /** Creates the child's Cloud Task (and entity); idempotent thanks to its deterministic name. */
  readonly flush: () => Promise<void>;
  /** Set on the children of a `deferMany`: `flush` creates them all, with its own bound on `createTask` calls. */
  readonly bulk?: boolean;
}

/** Everything the runtime keeps about the task running in this async context. */
export interface RunContext {
  readonly info: TaskInfo;
  /** Children held until the run succeeds, in the order they were deferred (then created, many at a time). */
  readonly children: HeldChild[];
  /** Number of defers made so far by this run (held children and transactional ones); names the next one. */
  sequence: number;
  /** Set when the run has ended: a defer made later (from a stray timer) is no longer held. */
  closed: boolean;
}

/** The log fields of the delivery being handled: mutable, since they grow as the delivery is known better. */
export interface DeliveryScope {
  fields: Readonly<Record<string, unknown>>;
}

/**
 * What the current async context carries: the delivery being handled and the task running in it. One
 * AsyncLocalStorage for both: before Node 24 every enabled one adds work to every promise the process creates.
 */
interface Scope {
  readonly delivery: DeliveryScope | undefined;
  readonly run: RunContext | undefined;
}

const storage = new AsyncLocalStorage<Scope>();

/** Runs `fn` (the handling of one delivery) so that every line the runtime logs inside it carries `scope.fields`. */
export function runInDelivery<T>(scope: DeliveryScope, fn: () => T): T {
  return storage.run({ delivery: scope, run: storage.getStore()?.run }, fn);
}

/** Replaces the log fields of the delivery being handled (when one is). */
export function setDeliveryLogFields(fields: Readonly<Record<string, unknown>>): void {
  const scope = storage.getStore()?.delivery;
  if (scope) scope.fields = fields;
}

/** The fields every log line of the delivery being handled carries (Cloud Logging's trace fields, labels), if any. */
export function deliveryLogFields(): Readonly<Record<string, unknown>> | undefined {
  return storage.getStore()?.delivery?.fields;
}

/** Runs `fn` with `context` as the current task. */
export function runWithContext<T>(context: RunContext, fn: () => T): T {
  return storage.run({ delivery: storage.getStore()?.delivery, run: context }, fn);
}

/** The current run context, or undefined outside a task. */
export function currentRunContext(): RunContext | undefined {
  return storage.getStore()?.run;
}

/**
 * What the running task is: name, queue, Cloud Task name, retry and execution counts, ETA, previous response, entity
 * key. Undefined when called outside a task run.
 *
 * @example
 * deferred.task('report', async () => {
 *   const { retryCount, cloudTaskName } = currentTask()!;
 * });
 */
export function currentTask(): TaskInfo | undefined {
  return storage.getStore()?.run?.info;
}
