/** What one shard sweep saw and did: its counters, its log lines (one per action, failures, the shard's end) and its progress callbacks. */
import type { Key } from '@google-cloud/datastore';
import { formatTaskKey } from '../store/key-text.js';
import type { ShardPosition } from './cursor.js';
import type { TaskSnapshot } from './decide.js';
import type { ResolvedSweep } from './sweep-options.js';
import { formatDuration } from '../util/duration.js';
import { countKept, emptyStats, type DeleteReason, type KeepReason, type SweepStats } from './sweep-stats.js';

/** The report of one shard sweep: the other parts tell it what happened; it counts, logs and reports progress. */
export class ShardReport {
  readonly stats: SweepStats = emptyStats();
  /** The fields that say where a line comes from. */
  private readonly where: { shard: number; namespace: string | undefined; dryRun: true | undefined };

  constructor(
    private readonly sweep: ResolvedSweep,
    readonly shard: number,
  ) {
    this.where = { shard, namespace: sweep.namespace || undefined, dryRun: sweep.dryRun || undefined };
  }

  scanned(count: number): void {
    this.stats.scanned += count;
  }

  /** Left in place without a word (not due, within retention, its Cloud Task exists, ...), counted by reason. */
  kept(reason: KeepReason): void {
    countKept(this.stats, reason);
  }

  /** A dry run's delete: counted, not made. */
  wouldDelete(reason: DeleteReason): void {
    this.stats.deleted[reason]++;
  }

  deleted(key: Key, reason: DeleteReason, snapshot: TaskSnapshot): void {
    this.stats.deleted[reason]++;
    const leaked = reason === 'leaked';
    this.sweep.log({
      severity: leaked ? 'WARNING' : 'DEBUG',
      message: leaked
        ? `deleted a leaked task entity: its Cloud Task ${snapshot.cloudTaskName} is gone (never created because its defer failed, or retries ran out, or it was deleted, purged or lost by the queue) and it never finished`
        : `deleted (${reason})`,
      event: 'deleted',
      ...this.where,
      key: formatTaskKey(key),
      reason,
      ...(leaked ? { task: snapshot.cloudTaskName, state: snapshot.state } : {}),
    });
  }

  /** A guarded delete found the entity at another point of its life than when it was judged. */
  changed(key: Key): void {
    countKept(this.stats, 'changed');
    this.sweep.log({
      severity: 'DEBUG',
      message: 'kept: changed under the sweep',
      event: 'kept',
      ...this.where,
      key: formatTaskKey(key),
      reason: 'changed',
    });
  }

  /** A batch of guarded deletes failed (contention, an RPC error): its entities are left for the next sweep. */
  deleteFailed(keys: Key[], lastError: unknown): void {
    this.stats.errors += keys.length;
    this.sweep.log({
      severity: 'WARNING',
      message: `guarded delete failed, left for the next sweep: ${(lastError as Error | undefined)?.message}`,
      event: 'error',
      ...this.where,
      keys: keys.map((key) => formatTaskKey(key)),
    });
  }

  lookupFailed(key: Key, snapshot: TaskSnapshot, error: unknown): void {
    this.stats.errors++;
    this.sweep.log({
      severity: 'WARNING',
      message: `Cloud Tasks look-up failed: ${(error as Error).message}`,
      event: 'error',
      ...this.where,
      key: formatTaskKey(key),
      task: snapshot.cloudTaskName,
    });
  }

  /** A dry run's re-drive: counted, not made. */
  wouldRedrive(): void {
    this.stats.redriven++;
  }

  /** A re-drive made (`created`), or one that found the task name taken (`exists`: kept, looked at again later). */
  redriven(key: Key, snapshot: TaskSnapshot, outcome: 'created' | 'exists'): void {
    if (outcome === 'created') this.stats.redriven++;
    else countKept(this.stats, 'redrive-exists');
    this.sweep.log({
      severity: outcome === 'created' ? 'INFO' : 'DEBUG',
      message:
        outcome === 'created' ? 're-drove a lost transactional task' : 'kept: re-drive found the task name taken',
      event: outcome === 'created' ? 'redriven' : 'kept',
      ...this.where,
      key: formatTaskKey(key),
      task: snapshot.cloudTaskName,
    });
  }

  redriveFailed(key: Key, snapshot: TaskSnapshot, error: unknown): void {
    this.stats.errors++;
    this.sweep.log({
      severity: 'WARNING',
      message: `re-drive failed: ${(error as Error).message}`,
      event: 'error',
      ...this.where,
      key: formatTaskKey(key),
      task: snapshot.cloudTaskName,
    });
  }

  /**
   * The running totals to `onProgress` (as a page is decided, after its look-ups, after each page), with `done` once
   * the shard is finished.
   */
  progress(done = false): void {
    this.sweep.onProgress?.({
      namespace: this.sweep.namespace ?? '',
      shard: this.shard,
      stats: structuredClone(this.stats),
      done,
    });
  }

  /** The budget ran out: where the cursor continues. */
  paused(position: ShardPosition, budgetMs: number): void {
    this.progress();
    this.sweep.log({
      severity: 'INFO',
      message: `shard ${this.shard}: budget of ${formatDuration(budgetMs)} used, continuing from a cursor`,
      event: 'shard-paused',
      ...this.where,
      phase: position.phase,
      kind: position.kind,
      stats: this.stats,
    });
  }

  finished(): void {
    this.progress(true);
    this.sweep.log({
      severity: 'INFO',
      message: `swept shard ${this.shard}`,
      event: 'shard-done',
      ...this.where,
      stats: this.stats,
    });
  }
}
