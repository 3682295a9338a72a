/** Creating the Cloud Task of a deferral: inline, or entity-backed (entity first, then the task), and hops past the horizon. */
import type { Key, Transaction } from '@google-cloud/datastore';
import { createTaskOnce, isAlreadyExists, isNotFound } from '../core/cloud-task-calls.js';
import { SCHEDULE_HORIZON_MS, buildCreateTaskRequest, storedRequest } from '../core/cloud-task-request.js';
import { TaskAlreadyExistsError } from '../errors/runtime.js';
import { log } from '../core/logger.js';
import { formatTaskKey } from '../store/key-text.js';
import {
  chunkKeys,
  packPayload,
  packPayloadAsync,
  pendingTaskMutations,
  saveTask,
  taskKey,
} from '../store/task-entity.js';
import type { PackedPayload } from '../store/packed-payload.js';
import type { Deferral } from '../types.js';
import type { ResolvedConfig } from '../core/config.js';
import { encodeRefEnvelope, signBody, type EnvelopeMeta } from '../core/task-envelope.js';
import { queuePath, randomId } from '../core/task-names.js';
import type { ResolvedDeferOptions } from './options.js';

/** A defer whose arguments are encoded and options resolved: everything needed to create its Cloud Task. */
export interface PreparedDefer {
  readonly task: string;
  readonly options: ResolvedDeferOptions;
  /** The full envelope (task, arguments, meta). */
  readonly envelope: Buffer;
  readonly meta: EnvelopeMeta;
  /** The trace the Cloud Task carries as its `traceparent` header, or null for none. */
  readonly traceparent: string | null;
}

/** An entity-backed deferral planned inside a transaction: its mutations go into the commit, its task after it. */
export interface PlannedEntityTask {
  readonly mutations: { key: Key; data: unknown }[];
  readonly request: ReturnType<typeof buildCreateTaskRequest>;
  readonly deferral: Deferral;
}

/** Creates Cloud Tasks (and their entities) for prepared deferrals. */
export class Enqueuer {
  constructor(private readonly config: ResolvedConfig) {}

  private queuePath(queue: string): string {
    return queuePath(this.config.projectId, this.config.location, queue);
  }

  /** Whether a prepared deferral needs an entity: asked for, too big to travel inline, or due beyond the horizon. */
  needsEntity(prepared: PreparedDefer): boolean {
    return (
      prepared.options.entityBacked ||
      prepared.envelope.length > this.config.inlineThreshold ||
      prepared.options.etaMs > this.config.clock.now() + SCHEDULE_HORIZON_MS
    );
  }

  /**
   * Creates the deferral's Cloud Task now (outside any transaction). `taskId` null lets Cloud Tasks name inline tasks;
   * entity-backed tasks are always named first. `ifExists` decides what a taken name does.
   */
  enqueue(prepared: PreparedDefer, taskId: string | null, ifExists: 'throw' | 'ignore'): Promise<Deferral> {
    if (!this.needsEntity(prepared)) return this.enqueueInline(prepared, taskId, ifExists);
    return this.enqueueEntity(prepared, taskId, ifExists);
  }

  private async enqueueEntity(
    prepared: PreparedDefer,
    taskId: string | null,
    ifExists: 'throw' | 'ignore',
  ): Promise<Deferral> {
    // Outside a transaction nothing waits on this thread: compress off the event loop.
    const packed = await packPayloadAsync(prepared.envelope, prepared.options.compression);
    const planned = this.planEntityTask(prepared, taskId ?? randomId(), null, false, packed);
    await saveTask(this.config.datastore, planned.mutations);
    return this.createPlanned(planned, ifExists);
  }

  /** Creates an inline task's Cloud Task (named `taskId`, or by Cloud Tasks when null); `ifExists` decides a taken name. */
  async enqueueInline(prepared: PreparedDefer, taskId: string | null, ifExists: 'throw' | 'ignore'): Promise<Deferral> {
    const { options } = prepared;
    const parent = this.queuePath(options.queue);
    const request = buildCreateTaskRequest(this.config.target, {
      parent,
      taskId,
      task: prepared.task,
      body: prepared.envelope,
      signature: signBody(prepared.envelope, this.config.secrets[0]!),
      headers: options.headers,
      traceparent: prepared.traceparent,
      // Due now: no scheduleTime, Cloud Tasks dispatches at once (one field less to send, store and parse).
      scheduleMs: options.etaMs > this.config.clock.now() ? options.etaMs : null,
      dispatchDeadlineMs: options.dispatchDeadlineMs,
    });
    // The deferral as one literal: on Node 20 a spread followed by more properties costs about 1.5 µs.
    const deferral = (cloudTaskName: string | null, status: 'enqueued' | 'existing'): Deferral => ({
      task: prepared.task,
      queue: options.queue,
      cloudTaskName,
      entityKey: null,
      status,
      eta: new Date(options.etaMs),
    });
    // createTaskOnce's contract, inline: the hot path of every inline defer, one async frame less.
    try {
      const [task] = await this.config.tasks.createTask(request);
      return deferral(task.name ?? request.task!.name ?? null, 'enqueued');
    } catch (error) {
      const name = request.task?.name;
      // Cloud Tasks names unnamed tasks itself: a taken name cannot be ours to report
      if (!isAlreadyExists(error) || !name) throw error;
      if (ifExists === 'ignore') return deferral(name, 'existing');
      throw new TaskAlreadyExistsError(name, { cause: error });
    }
  }

  /**
   * Plans an entity-backed deferral: the entity (state `pending`, the Cloud Task's name and request chosen now) and
   * the request whose body carries only the entity's key. `parent` places the entity in a caller's entity group
   * (else it is a root entity, in `namespace` when given); `packed` is the payload already compressed (by default it
   * is compressed here, synchronously).
   */
  planEntityTask(
    prepared: PreparedDefer,
    taskId: string,
    parent: Key | null,
    transactional: boolean,
    packed: PackedPayload = packPayload(prepared.envelope, prepared.options.compression),
    namespace?: string,
  ): PlannedEntityTask {
    const { options } = prepared;
    const config = this.config;
    const nowMs = config.clock.now();
    const entityName = randomId();
    const key = taskKey(config.datastore, entityName, parent, namespace);
    const parentPath = this.queuePath(options.queue);
    const body = encodeRefEnvelope(prepared.task, key, prepared.meta);
    const request = buildCreateTaskRequest(config.target, {
      parent: parentPath,
      taskId,
      task: prepared.task,
      body,
      signature: signBody(body, config.secrets[0]!),
      headers: options.headers,
      traceparent: prepared.traceparent,
      // Due now: no scheduleTime, as inline tasks (the handler and the sweeper read its absence as the ETA).
      scheduleMs: options.etaMs > nowMs ? Math.min(options.etaMs, nowMs + SCHEDULE_HORIZON_MS) : null,
      dispatchDeadlineMs: options.dispatchDeadlineMs,
    });
    const cloudTaskName = request.task!.name!;
    const mutations = pendingTaskMutations(
      config.datastore,
      {
        key,
        task: prepared.task,
        queue: options.queue,
        cloudTaskName,
        cloudTaskRequest: storedRequest(request),
        transactional,
        etaMs: options.etaMs,
        retentionMs: options.retentionMs,
      },
      { nowMs, shards: config.shards, expireAfterMs: config.expireAfterMs },
      packed,
    );
    return {
      mutations,
      request,
      deferral: {
        task: prepared.task,
        queue: options.queue,
        cloudTaskName,
        entityKey: key,
        status: transactional ? 'held' : 'enqueued',
        eta: new Date(options.etaMs),
      },
    };
  }

  /** Writes a planned entity task into a transaction (its Cloud Task is created by {@link createPlanned} after commit). */
  savePlanned(tx: Transaction, planned: PlannedEntityTask): void {
    tx.save(planned.mutations as Parameters<Transaction['save']>[0]);
  }

  /**
   * Creates a planned entity task's Cloud Task. When the name is taken, the entity just written is deleted (another
   * deferral owns that name) and `ifExists` decides. On any other error the error is thrown and the entity deleted,
   * except a committed transactional one (`keepOnError`): it is the outbox, which the sweeper re-drives; and when its
   * name is taken by its own re-driven task (this enqueue came late), it is kept and counts as enqueued.
   */
  async createPlanned(
    planned: PlannedEntityTask,
    ifExists: 'throw' | 'ignore',
    keepOnError = false,
  ): Promise<Deferral> {
    let result: Awaited<ReturnType<typeof createTaskOnce>>;
    try {
      result = await createTaskOnce(this.config.tasks, planned.request);
    } catch (error) {
      if (keepOnError) throw error; // kept for the sweeper: a committed task must not be lost
      await this.deleteEntityOrLog(planned);
      throw error;
    }
    if (result.status === 'created') return enqueued(planned.deferral);
    if (keepOnError) {
      const owner = await this.ownerOfTakenName(planned);
      if (owner === 'this') return enqueued(planned.deferral);
      if (owner === 'unknown') throw result.error; // kept for the sweeper: a committed task must not be lost
    }
    await this.deleteEntityOrLog(planned);
    if (ifExists === 'ignore') return { ...planned.deferral, entityKey: null, status: 'existing' };
    throw new TaskAlreadyExistsError(planned.deferral.cloudTaskName!, { cause: result.error });
  }

  /** Deletes the entity of a task that was not created; the sweeper reclaims it if this fails. */
  private async deleteEntityOrLog(planned: PlannedEntityTask): Promise<void> {
    await this.deleteEntity(planned).catch((cleanup: unknown) =>
      log(this.config.logger, {
        severity: 'WARNING',
        message: `could not delete the entity of a task that was not created; the sweeper will: ${String(cleanup)}`,
        task: planned.deferral.task,
        taskName: planned.deferral.cloudTaskName ?? undefined,
        entityKey: formatTaskKey(planned.deferral.entityKey!),
        ...(planned.deferral.entityKey!.namespace ? { namespace: planned.deferral.entityKey!.namespace } : {}),
      }),
    );
  }

  /**
   * After ALREADY_EXISTS for a committed transactional task: whether the name is taken by this entity's own task (the
   * sweeper re-drove it while this enqueue was late: a frozen process, a slow network) or by another deferral. This
   * entity's when the queued task carries its body, or, once that task is gone, when a delivery already took the entity
   * (claimed it, or ran and deleted it); `unknown` when an RPC failed.
   */
  private async ownerOfTakenName(planned: PlannedEntityTask): Promise<'this' | 'other' | 'unknown'> {
    const sent = planned.request.task?.httpRequest?.body ?? planned.request.task?.appEngineHttpRequest?.body;
    try {
      const [task] = await this.config.tasks.getTask({ name: planned.deferral.cloudTaskName!, responseView: 'FULL' });
      const body = task.httpRequest?.body ?? task.appEngineHttpRequest?.body;
      const same = Boolean(body && sent && Buffer.from(body as Uint8Array).equals(Buffer.from(sent as Uint8Array)));
      return same ? 'this' : 'other';
    } catch (error) {
      if (!isNotFound(error)) return 'unknown';
    }
    try {
      const [entity] = await this.config.datastore.get(planned.deferral.entityKey!);
      // Claimed (or already run and deleted): its own task ran. Still untouched: the name belongs to another deferral.
      return entity === undefined || !(entity.state === 'pending' && Number(entity.attempts) === 0) ? 'this' : 'other';
    } catch {
      return 'unknown';
    }
  }

  private async deleteEntity(planned: PlannedEntityTask): Promise<void> {
    const key = planned.deferral.entityKey!;
    const chunks = planned.mutations.length - 1;
    await this.config.datastore.delete([key, ...chunkKeys(this.config.datastore, key, chunks)]);
  }
}

/** A planned deferral as created: itself when it says so already (planned outside a transaction), else a copy. */
function enqueued(planned: Deferral): Deferral {
  if (planned.status === 'enqueued') return planned;
  return {
    task: planned.task,
    queue: planned.queue,
    cloudTaskName: planned.cloudTaskName,
    entityKey: planned.entityKey,
    status: 'enqueued',
    eta: planned.eta,
  };
}
