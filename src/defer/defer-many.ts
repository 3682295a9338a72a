/** Bulk defer (`deferMany`): the commit plan of entity-backed tasks, their batched writes, Cloud Tasks created with bounded concurrency, and the per-call report of a partial failure (`DeferManyError`). */
import type { Key } from '@google-cloud/datastore';
import { setImmediate as yieldToIo } from 'node:timers/promises';
import pLimit from 'p-limit';
import { CREATE_TASK_CONCURRENCY, isAlreadyExists } from '../core/cloud-task-calls.js';
import type { ResolvedConfig } from '../core/config.js';
import { describeError, log } from '../core/logger.js';
import { randomId } from '../core/task-names.js';
import { DeferredError } from '../errors/base.js';
import { InvalidArgumentError } from '../errors/invalid-argument.js';
import { TaskAlreadyExistsError } from '../errors/runtime.js';
import {
  COMMIT_BYTES,
  chunkKeys,
  mutationBytes,
  packPayload,
  packPayloadAsync,
  saveTask,
} from '../store/task-entity.js';
import type { DeferManyResult, Deferral, IfExists } from '../types.js';
import type { Enqueuer, PlannedEntityTask, PreparedDefer } from './enqueue.js';
import { JobPool } from '../util/job-pool.js';

/** `createTask` calls in flight at once when `concurrency` is not given. */
export const DEFAULT_DEFER_MANY_CONCURRENCY = CREATE_TASK_CONCURRENCY;

/** Datastore's limits on one commit: 500 mutations; bytes as the runtime's other non-transactional writes (3 MiB: the emulators refuse gRPC messages over 4 MiB, Datastore commits over 10 MiB). */
export const COMMIT_LIMITS: CommitLimits = { mutations: 500, bytes: COMMIT_BYTES };

/** Entity commits in flight at once: one written while the tasks of the one before are being created. */
const COMMITS_IN_FLIGHT = 2;

/** Mutations of the first commit of a deferMany; each next commit may hold twice as many, up to 500. */
const FIRST_COMMIT_MUTATIONS = 50;

/** Envelopes up to this size are compressed on the caller's thread (a thread-pool hop costs more than the gzip). */
const SYNC_PACK_BYTES = 64 * 1024;

/**
 * Some `deferMany` calls failed; the others were deferred. `results` has one entry per call, in call order: the
 * call's deferral, or its error. Nothing of a failed call is left behind (an entity whose Cloud Task was not created is
 * deleted; a failed commit created none of its tasks), so retrying the failed calls (with the same names) doubles
 * nothing.
 */
export class DeferManyError extends DeferredError {
  /** Each call's outcome, in call order (`results[i]` is `calls[i]`'s). */
  readonly results: readonly DeferManyResult[];
  /** Indexes of the calls that failed, ascending. */
  readonly failed: readonly number[];

  constructor(results: readonly DeferManyResult[]) {
    const failures = results.filter(
      (r): r is Extract<DeferManyResult, { status: 'rejected' }> => r.status === 'rejected',
    );
    const shown = failures
      .slice(0, 3)
      .map((r) => `calls[${r.index}]: ${describeError(r.error)}`)
      .join('; ');
    super(
      'DEFER_MANY_FAILED',
      `deferMany: ${failures.length} of ${results.length} calls failed (${shown}${failures.length > 3 ? '; ...' : ''}); the other ${results.length - failures.length} were deferred. error.results has each call's deferral or error; retry the failed ones (error.failed has their indexes): nothing of theirs was kept, so retrying with the same names doubles nothing.`,
      { cause: failures[0]?.error },
    );
    this.results = results;
    this.failed = failures.map((r) => r.index);
  }
}

/** The error a refused call rejects `deferMany` with: the call's own error (same class and code), naming `calls[index]`. */
export function refusedCall(error: unknown, index: number, count: number): Error {
  const prefix = `deferMany: calls[${index}] (of ${count}) was refused, so nothing was deferred: `;
  if (error instanceof DeferredError) {
    const original = error.message;
    error.message = prefix + original;
    if (error.stack) error.stack = error.stack.replace(original, error.message);
    return error;
  }
  return new InvalidArgumentError(prefix + describeError(error), { cause: error });
}

/** Checks `deferMany`'s own options; returns the concurrency. */
export function manyConcurrency(concurrency: unknown): number {
  if (concurrency === undefined) return DEFAULT_DEFER_MANY_CONCURRENCY;
  if (typeof concurrency !== 'number' || !Number.isInteger(concurrency) || concurrency < 1) {
    throw new InvalidArgumentError(
      `deferMany: concurrency must be a whole number of at least 1 (createTask calls in flight), got ${String(concurrency)}.`,
    );
  }
  return concurrency;
}

/** What the commit planner needs to know of one entity-backed task: its mutations (entity and chunks) and their bytes. */
export interface CommitItem {
  readonly mutations: number;
  readonly bytes: number;
}

/** The most mutations and bytes one commit may carry. */
export interface CommitLimits {
  readonly mutations: number;
  readonly bytes: number;
}

/** One planned commit: the items it writes (indexes into the planned list, in order). */
export interface PlannedCommit {
  readonly items: readonly number[];
  /** One item too big for a single commit: written over several (its task entity first), as a lone defer() does. */
  readonly split: boolean;
}

/**
 * Groups entity-backed tasks, in order, into commits within `limits`, as they come (a commit is closed as soon as it
 * is full, so it can be written while the next is planned). A task's entity and chunks always share a commit, so a
 * commit that fails wrote none of its tasks; a task that alone exceeds the limits gets a split commit of its own. The
 * first commit holds at most `first` mutations and each next one twice as many, up to the limit: the first tasks are
 * created while the bulk of the entities is still being written.
 */
export class CommitPlanner {
  private current: number[] = [];
  private mutations = 0;
  private bytes = 0;
  private closed = 0;

  constructor(
    private readonly limits: CommitLimits = COMMIT_LIMITS,
    private readonly first: number = limits.mutations,
  ) {}

  /** Most mutations of the commit being filled. */
  private get cap(): number {
    return Math.min(this.limits.mutations, this.first * 2 ** this.closed);
  }

  /** Adds task `index`; returns the commits this closed (in order). */
  add(index: number, item: CommitItem): PlannedCommit[] {
    const out: PlannedCommit[] = [];
    if (item.mutations > this.limits.mutations || item.bytes > this.limits.bytes) {
      this.close(out);
      out.push({ items: [index], split: true });
      return out;
    }
    if (this.mutations + item.mutations > this.cap || this.bytes + item.bytes > this.limits.bytes) this.close(out);
    this.current.push(index);
    this.mutations += item.mutations;
    this.bytes += item.bytes;
    if (this.mutations >= this.cap) this.close(out);
    return out;
  }

  /** The last commit, if any task is left. */
  finish(): PlannedCommit[] {
    const out: PlannedCommit[] = [];
    this.close(out);
    return out;
  }

  private close(out: PlannedCommit[]): void {
    if (this.current.length === 0) return;
    out.push({ items: this.current, split: false });
    this.closed++;
    this.current = [];
    this.mutations = 0;
    this.bytes = 0;
  }
}

/** {@link CommitPlanner} over a whole list. */
export function planCommits(
  items: readonly CommitItem[],
  limits: CommitLimits = COMMIT_LIMITS,
  first: number = limits.mutations,
): PlannedCommit[] {
  const planner = new CommitPlanner(limits, first);
  return [...items.flatMap((item, index) => planner.add(index, item)), ...planner.finish()];
}

/** One call ready to enqueue: prepared, named (`taskId` null: a name chosen here or by Cloud Tasks), and what a taken name does. */
export interface BulkItem {
  readonly prepared: PreparedDefer;
  readonly taskId: string | null;
  readonly ifExists: IfExists;
}

/**
 * Creates the Cloud Tasks (and entities) of `items`: inline ones straight away, entity-backed ones once their commit
 * lands; every `createTask` through one {@link JobPool} of `concurrency`. Never rejects: each item's outcome is in the result,
 * at its index. Entities whose task was not created are deleted before it returns (the sweeper reclaims any whose
 * delete failed).
 */
export async function enqueueMany(
  enqueuer: Enqueuer,
  config: ResolvedConfig,
  items: readonly BulkItem[],
  concurrency: number,
): Promise<DeferManyResult[]> {
  const results: DeferManyResult[] = new Array<DeferManyResult>(items.length);
  const ok = (index: number, deferral: Deferral) => (results[index] = { index, status: 'fulfilled', deferral });
  const fail = (index: number, error: unknown) => (results[index] = { index, status: 'rejected', error });
  const creates = new JobPool(concurrency);

  const entityItems: number[] = [];
  items.forEach((item, index) => {
    if (enqueuer.needsEntity(item.prepared)) {
      entityItems.push(index);
      return;
    }
    creates.run(() =>
      enqueuer.enqueueInline(item.prepared, item.taskId, item.ifExists).then(
        (deferral) => ok(index, deferral),
        (error: unknown) => fail(index, error),
      ),
    );
  });

  if (entityItems.length > 0) {
    const unwanted: PlannedEntityTask[] = [];
    const planned: PlannedEntityTask[] = new Array<PlannedEntityTask>(entityItems.length);
    const createPlanned = async (i: number): Promise<void> => {
      const index = entityItems[i]!;
      const plan = planned[i]!;
      // createTaskOnce's contract, inline: one async frame less per task.
      try {
        await config.tasks.createTask(plan.request);
      } catch (error) {
        unwanted.push(plan);
        if (!isAlreadyExists(error)) {
          fail(index, error);
          return;
        }
        // The name belongs to another deferral: this entity is not its payload.
        if (items[index]!.ifExists === 'ignore') ok(index, { ...plan.deferral, entityKey: null, status: 'existing' });
        else fail(index, new TaskAlreadyExistsError(plan.deferral.cloudTaskName!, { cause: error }));
        return;
      }
      ok(index, plan.deferral); // planned outside a transaction: already 'enqueued'
    };
    const write = async (commit: PlannedCommit): Promise<void> => {
      const mutations = commit.items.flatMap((i) => planned[i]!.mutations);
      try {
        if (commit.split) await saveTask(config.datastore, mutations);
        else await config.datastore.save(mutations as Parameters<ResolvedConfig['datastore']['save']>[0]);
      } catch (error) {
        // None of its tasks is created; what the commit may have written anyway is deleted below.
        for (const i of commit.items) {
          unwanted.push(planned[i]!);
          fail(entityItems[i]!, error);
        }
        return;
      }
      // Created as soon as this commit lands, while the next one is written.
      for (const i of commit.items) creates.run(() => createPlanned(i));
    };
    const commitLimit = pLimit(COMMITS_IN_FLIGHT);
    const commits: Promise<void>[] = [];
    const send = async (closed: readonly PlannedCommit[]) => {
      for (const commit of closed) commits.push(commitLimit(() => write(commit)));
      await yieldToIo(); // let the commit go out while the next one is planned
    };
    const planner = new CommitPlanner(COMMIT_LIMITS, FIRST_COMMIT_MUTATIONS);
    for (let i = 0; i < entityItems.length; i++) {
      const item = items[entityItems[i]!]!;
      const envelope = item.prepared.envelope;
      const level = item.prepared.options.compression;
      const packed =
        envelope.length <= SYNC_PACK_BYTES ? packPayload(envelope, level) : await packPayloadAsync(envelope, level);
      const plan = enqueuer.planEntityTask(item.prepared, item.taskId ?? randomId(), null, false, packed);
      planned[i] = plan;
      let bytes = 0;
      for (const mutation of plan.mutations) bytes += mutationBytes(mutation);
      const closed = planner.add(i, { mutations: plan.mutations.length, bytes });
      if (closed.length > 0) await send(closed); // most tasks close no commit: no promise for them
    }
    const last = planner.finish();
    if (last.length > 0) await send(last);
    await Promise.all(commits); // every landed commit has added its tasks' creates
    await creates.idle();
    await deleteEntities(config, unwanted);
  } else {
    await creates.idle();
  }
  return results;
}

/** Deletes the entities (and chunks) of tasks that were not created, in commits of at most 500 keys; logs what it could not delete. */
async function deleteEntities(config: ResolvedConfig, plans: readonly PlannedEntityTask[]): Promise<void> {
  if (plans.length === 0) return;
  const keys: Key[] = [];
  for (const plan of plans) {
    const key = plan.deferral.entityKey!;
    keys.push(key, ...chunkKeys(config.datastore, key, plan.mutations.length - 1));
  }
  const batches: Key[][] = [];
  for (let i = 0; i < keys.length; i += COMMIT_LIMITS.mutations) {
    batches.push(keys.slice(i, i + COMMIT_LIMITS.mutations));
  }
  const limit = pLimit(COMMITS_IN_FLIGHT);
  await Promise.all(
    batches.map((batch) =>
      limit(() =>
        config.datastore.delete(batch).catch((error: unknown) =>
          log(config.logger, {
            severity: 'WARNING',
            message: `deferMany: could not delete ${batch.length} entities of tasks that were not created; the sweeper will: ${describeError(error)}`,
          }),
        ),
      ),
    ),
  );
}

/** The deferrals of every call in order, or a {@link DeferManyError} when any failed. */
export function settle(results: readonly DeferManyResult[]): Deferral[] {
  if (results.some((r) => r.status === 'rejected')) throw new DeferManyError(results);
  return results.map((r) => (r as Extract<DeferManyResult, { status: 'fulfilled' }>).deferral);
}
