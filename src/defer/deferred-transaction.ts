/** Transactional defer: a Datastore transaction that holds defers, writes their entities in its commit and enqueues after it. */
import type { Key, Transaction } from '@google-cloud/datastore';
import { CREATE_TASK_CONCURRENCY } from '../core/cloud-task-calls.js';
import { currentRunContext } from '../core/run-context.js';
import { describeError, log } from '../core/logger.js';
import { backoff, isContention } from '../store/in-transaction.js';
import { rootKey } from '../store/keys.js';
import { formatTaskKey } from '../store/key-text.js';
import type {
  DeferOptions,
  Deferral,
  DeferredTransaction,
  IfExists,
  TaskHandle,
  TransactionOptions,
} from '../types.js';
import { TaskAlreadyExistsError } from '../errors/runtime.js';
import type { ResolvedConfig } from '../core/config.js';
import type { NamespaceRegistry } from '../store/namespace-registry.js';
import type { Enqueuer, PlannedEntityTask, PreparedDefer } from './enqueue.js';
import { JobPool } from '../util/job-pool.js';
import { randomId } from '../core/task-names.js';

/**
 * What a transactional defer needs from its instance: the configuration (client, logger), the enqueuer, and the
 * registry of the other namespaces it writes task entities to.
 */
export interface TransactionServices {
  readonly config: ResolvedConfig;
  readonly enqueuer: Enqueuer;
  readonly namespaces: NamespaceRegistry;
}

interface HeldDefer {
  readonly prepared: PreparedDefer;
  readonly taskId: string;
  readonly parent: Key | null;
  readonly ifExists: IfExists;
  /** Returned to the caller; its `entityKey` and `status` are filled in at commit. */
  readonly deferral: { -readonly [K in keyof Deferral]: Deferral[K] };
}

function keysOf(entities: unknown, KEY: symbol): Key[] {
  const list = Array.isArray(entities) ? entities : [entities];
  const keys: Key[] = [];
  for (const entity of list as Record<string | symbol, unknown>[]) {
    const key = (entity?.key ?? entity?.[KEY]) as Key | undefined;
    if (key) keys.push(key);
  }
  return keys;
}

/** The {@link DeferredTransaction} handed to `deferred.transaction(fn)`. */
export class TransactionImpl implements DeferredTransaction {
  private readonly written: Key[] = [];
  readonly held: HeldDefer[] = [];

  /** `owner`: the instance that made it (a defer through another instance is refused); `KEY`: its client's entity key symbol. */
  constructor(
    readonly raw: Transaction,
    readonly owner: object,
    private readonly KEY: symbol,
  ) {}

  private record(entities: unknown): void {
    this.written.push(...keysOf(entities, this.KEY));
  }

  save(entities: Parameters<Transaction['save']>[0]): void {
    this.record(entities);
    this.raw.save(entities);
  }
  insert(entities: Parameters<Transaction['insert']>[0]): void {
    this.record(entities);
    this.raw.insert(entities);
  }
  update(entities: Parameters<Transaction['update']>[0]): void {
    this.record(entities);
    this.raw.update(entities);
  }
  upsert(entities: Parameters<Transaction['upsert']>[0]): void {
    this.record(entities);
    this.raw.upsert(entities);
  }
  delete(keys: Key | Key[]): void {
    this.raw.delete(keys);
  }
  get: Transaction['get'] = ((...args: Parameters<Transaction['get']>) =>
    (this.raw.get as (...a: unknown[]) => unknown)(...args)) as Transaction['get'];
  runQuery: Transaction['runQuery'] = ((...args: Parameters<Transaction['runQuery']>) =>
    (this.raw.runQuery as (...a: unknown[]) => unknown)(...args)) as Transaction['runQuery'];
  createQuery: Transaction['createQuery'] = ((...args: unknown[]) =>
    (this.raw.createQuery as (...a: unknown[]) => unknown)(...args)) as Transaction['createQuery'];

  defer<A extends unknown[]>(task: TaskHandle<A>, ...args: A): Promise<Deferral> {
    return task.with({ transaction: this } satisfies DeferOptions).defer(...args);
  }

  /** Holds a prepared defer until commit. */
  hold(prepared: PreparedDefer, taskId: string | null, parent: Key | null, ifExists: IfExists): Deferral {
    const deferral: HeldDefer['deferral'] = {
      task: prepared.task,
      queue: prepared.options.queue,
      cloudTaskName: null,
      entityKey: null,
      status: 'held',
      eta: new Date(prepared.options.etaMs),
    };
    this.held.push({ prepared, taskId: taskId ?? randomId(), parent, ifExists, deferral });
    return deferral;
  }

  /** The entity group for held entities without an explicit parent: the root of the first complete key written. */
  defaultParent(): Key | null {
    for (const key of this.written) {
      const root = rootKey(key);
      if (root.name !== undefined || root.id !== undefined) return root; // complete: it names an entity group
    }
    return null;
  }
}

/** Runs `fn` in a transaction with held defers; see `Deferred.transaction`. */
export async function runDeferredTransaction<T>(
  owner: object,
  runtime: TransactionServices,
  fn: (tx: DeferredTransaction) => Promise<T>,
  options: TransactionOptions,
): Promise<T> {
  const { datastore } = runtime.config;
  const KEY = datastore.KEY as unknown as symbol;
  const retries = options.retries ?? 3;
  const run = currentRunContext();
  const sequenceAtStart = run?.sequence ?? 0;
  for (let attempt = 0; ; attempt++) {
    if (run) run.sequence = sequenceAtStart; // a retried transaction re-derives the same child names
    const raw = datastore.transaction();
    const tx = new TransactionImpl(raw, owner, KEY);
    let result: T;
    try {
      await raw.run();
      result = await fn(tx);
    } catch (error) {
      await raw.rollback().catch(() => undefined);
      if (isContention(error) && attempt < retries) {
        await backoff(attempt);
        continue;
      }
      throw error;
    }
    let planned: { held: (typeof tx.held)[number]; plan: ReturnType<typeof runtime.enqueuer.planEntityTask> }[];
    try {
      planned = tx.held.map((held) => {
        const plan = runtime.enqueuer.planEntityTask(
          held.prepared,
          held.taskId,
          held.parent ?? tx.defaultParent(),
          true,
        );
        runtime.enqueuer.savePlanned(raw, plan);
        held.deferral.entityKey = plan.deferral.entityKey;
        held.deferral.cloudTaskName = plan.deferral.cloudTaskName;
        return { held, plan };
      });
    } catch (error) {
      await raw.rollback().catch(() => undefined); // never leave the transaction open
      throw error;
    }
    // A task entity in another namespace than the runtime's (a tenant's entity group) is swept there only once that
    // namespace is in the registry: registered first (one write per namespace and process), then committed, so a
    // lost enqueue is found there. Nothing is paid for the runtime's own namespace.
    const home = runtime.namespaces.home;
    const foreign = new Set<string>();
    for (const { plan } of planned) {
      const namespace = plan.deferral.entityKey?.namespace ?? '';
      if (namespace !== home) foreign.add(namespace);
    }
    if (foreign.size > 0) {
      try {
        await Promise.all([...foreign].map((namespace) => runtime.namespaces.ensure(namespace)));
      } catch (error) {
        await raw.rollback().catch(() => undefined);
        throw error;
      }
    }
    try {
      await raw.commit();
    } catch (error) {
      if (isContention(error) && attempt < retries) {
        await backoff(attempt);
        continue;
      }
      throw error;
    }
    // The held tasks are created as deferMany creates its tasks: CREATE_TASK_CONCURRENCY in flight.
    const creates = new JobPool(CREATE_TASK_CONCURRENCY);
    for (const one of planned) creates.run(() => createHeld(runtime, one));
    await creates.idle();
    return result;
  }
}

/** Creates the Cloud Task of a defer held in a committed transaction; logs (and keeps the entity) when that fails. */
async function createHeld(
  runtime: TransactionServices,
  { held, plan }: { held: HeldDefer; plan: PlannedEntityTask },
): Promise<void> {
  try {
    const created = await runtime.enqueuer.createPlanned(plan, held.ifExists, true);
    held.deferral.status = created.status;
    if (created.status === 'existing') held.deferral.entityKey = null;
  } catch (error) {
    // Committed: the entity is the outbox. A lost enqueue is re-driven by the sweeper; a taken name is reported.
    log(runtime.config.logger, {
      severity: error instanceof TaskAlreadyExistsError ? 'WARNING' : 'ERROR',
      message: `transaction committed but its task could not be enqueued now: ${describeError(error)}`,
      task: held.prepared.task,
      taskName: plan.deferral.cloudTaskName ?? undefined,
      entityKey: formatTaskKey(plan.deferral.entityKey!),
      ...(plan.deferral.entityKey!.namespace ? { namespace: plan.deferral.entityKey!.namespace } : {}),
    });
  }
}
