/** The sweep decision table as pure functions: what to do with one `_DeferredTask` entity, and whether a guarded delete still holds. */
import { parseAgeKey, type TaskState } from '../store/schema.js';
import type { DeleteReason, KeepReason } from './sweep-stats.js';

/** The fields of a `_DeferredTask` entity the decision reads, normalised (times in epoch milliseconds, `null` when absent). */
export interface TaskSnapshot {
  state: TaskState | 'unknown';
  transactional: boolean;
  attempts: number;
  etaMs: number | null;
  leaseUntilMs: number | null;
  finishedAtMs: number | null;
  /** When a `retried` record was replayed: its retention runs from then. */
  retriedAtMs: number | null;
  retentionMs: number | null;
  expireAtMs: number | null;
  cloudTaskName: string;
  cloudTaskRequest: string;
  chunks: number;
}

/** How long finished entities are kept: per-state overrides of the entities' own `retentionMs`. */
export interface RetentionRules {
  /**
   * Keep `done` entities this long after `finishedAt` (milliseconds), instead of each entity's `retentionMs`.
   * @default the entity's `retentionMs`, or 1 hour when it has none
   */
  doneMs?: number;
  /**
   * Keep `failed` entities this long after `finishedAt`, and `retried` ones this long after they were retried
   * (milliseconds), instead of each entity's `retentionMs`.
   * @default the entity's `retentionMs`, or 7 days when it has none
   */
  failedMs?: number;
}

/** Retention used when neither the sweep nor the entity says. */
export const FALLBACK_RETENTION_MS = { done: 3_600_000, failed: 7 * 86_400_000, retried: 7 * 86_400_000 } as const;

export type { KeepReason } from './sweep-stats.js';

/** The first verdict on an entity, before any Cloud Tasks look-up. */
export type Verdict =
  | { action: 'delete'; reason: Extract<DeleteReason, 'done' | 'failed' | 'retried' | 'expired'> }
  | { action: 'keep'; reason: KeepReason }
  /** Unfinished, past its ETA + grace, no live lease: its fate depends on whether its Cloud Task still exists. */
  | { action: 'lookup' };

/** The verdict once the Cloud Task was looked up. */
export type LookupVerdict =
  { action: 'keep'; reason: 'task-exists' } | { action: 'redrive' } | { action: 'delete'; reason: 'leaked' };

const STATES: readonly string[] = ['pending', 'running', 'done', 'failed', 'retried'];

function millis(value: unknown): number | null {
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.getTime();
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (typeof value === 'string' && value !== '' && !Number.isNaN(Date.parse(value))) return Date.parse(value);
  return null;
}

function count(value: unknown): number {
  const n = typeof value === 'string' ? Number(value) : value;
  return typeof n === 'number' && Number.isFinite(n) && n > 0 ? Math.floor(n) : 0;
}

/** Reads the decision fields from a raw entity as returned by the Datastore client, tolerating missing or odd values. */
export function snapshotOf(entity: Record<string, unknown>): TaskSnapshot {
  const state =
    typeof entity.state === 'string' && STATES.includes(entity.state) ? (entity.state as TaskState) : 'unknown';
  const retention = entity.retentionMs === null || entity.retentionMs === undefined ? null : millis(entity.retentionMs);
  return {
    state,
    transactional: entity.transactional === true,
    attempts: count(entity.attempts),
    etaMs: millis(entity.eta) ?? millis(entity.created),
    leaseUntilMs: millis(entity.leaseUntil),
    finishedAtMs: millis(entity.finishedAt),
    retriedAtMs: millis(entity.retriedAt),
    retentionMs: retention !== null && retention >= 0 ? retention : null,
    expireAtMs: millis(entity.expireAt),
    cloudTaskName: typeof entity.cloudTaskName === 'string' ? entity.cloudTaskName : '',
    cloudTaskRequest: typeof entity.cloudTaskRequest === 'string' ? entity.cloudTaskRequest : '',
    chunks: count(entity.chunks),
  };
}

/** Inputs of the decision besides the entity. */
export interface DecisionContext {
  /** The sweep's "now", epoch milliseconds. */
  nowMs: number;
  /** How long past its ETA an unfinished task may still be missing from Cloud Tasks (enqueue in flight, clock skew). */
  graceMs: number;
  retention?: RetentionRules;
}

function leaseLive(e: TaskSnapshot, nowMs: number): boolean {
  return e.state === 'running' && e.leaseUntilMs !== null && e.leaseUntilMs > nowMs;
}

/**
 * The decision table, first pass. In order:
 * 1. past `expireAt`: delete (`expired`), unless a run holds a live lease right now;
 * 2. `done` / `failed` past `finishedAt` + retention (`retried`: past the retry + retention): delete; before that: keep;
 * 3. `running` with a live lease: keep;
 * 4. `pending` / `running` past ETA + grace: look the Cloud Task up (see {@link afterLookup}); before that: keep.
 */
export function classify(e: TaskSnapshot, ctx: DecisionContext): Verdict {
  const { nowMs } = ctx;
  if (e.expireAtMs !== null && e.expireAtMs <= nowMs) {
    return leaseLive(e, nowMs) ? { action: 'keep', reason: 'leased' } : { action: 'delete', reason: 'expired' };
  }
  if (e.state === 'done' || e.state === 'failed' || e.state === 'retried') {
    const override = e.state === 'done' ? ctx.retention?.doneMs : ctx.retention?.failedMs;
    const retention = override ?? e.retentionMs ?? FALLBACK_RETENTION_MS[e.state];
    const finished = (e.state === 'retried' ? e.retriedAtMs : null) ?? e.finishedAtMs ?? 0;
    return finished + retention <= nowMs
      ? { action: 'delete', reason: e.state }
      : { action: 'keep', reason: 'retention' };
  }
  if (e.state === 'unknown') return { action: 'keep', reason: 'unknown-state' };
  if (leaseLive(e, nowMs)) return { action: 'keep', reason: 'leased' };
  if (e.etaMs !== null && e.etaMs + ctx.graceMs > nowMs) return { action: 'keep', reason: 'not-due' };
  if (e.cloudTaskName === '') return { action: 'keep', reason: 'no-task-name' };
  return { action: 'lookup' };
}

/** True when the entity is a committed transactional task that never ran: its Cloud Task may simply never have been created. */
export function isRedrivable(e: TaskSnapshot): boolean {
  return e.state === 'pending' && e.attempts === 0 && e.transactional && e.cloudTaskRequest !== '';
}

/**
 * The decision table, second pass, for an entity that {@link classify} sent to a look-up:
 * its Cloud Task exists -> keep; gone and {@link isRedrivable} -> re-drive; gone otherwise -> delete as leaked
 * (retries exhausted, task deleted or queue purged).
 */
export function afterLookup(e: TaskSnapshot, taskExists: boolean): LookupVerdict {
  if (taskExists) return { action: 'keep', reason: 'task-exists' };
  return isRedrivable(e) ? { action: 'redrive' } : { action: 'delete', reason: 'leaked' };
}

/** True when two snapshots describe the same point of the entity's life (no transition happened in between). */
export function sameVersion(a: TaskSnapshot, b: TaskSnapshot): boolean {
  return (
    a.state === b.state &&
    a.attempts === b.attempts &&
    a.leaseUntilMs === b.leaseUntilMs &&
    a.finishedAtMs === b.finishedAtMs &&
    a.retriedAtMs === b.retriedAtMs &&
    a.etaMs === b.etaMs &&
    a.expireAtMs === b.expireAtMs &&
    a.cloudTaskName === b.cloudTaskName
  );
}

/**
 * The guard of a delete, evaluated on the entity as re-read inside the deleting transaction: the entity must be at the
 * same version as when it was judged, and judging it again must give the same reason. For `leaked`, the look-up that
 * found its Cloud Task gone was made for that same version.
 */
export function stillDeletable(
  before: TaskSnapshot,
  fresh: TaskSnapshot,
  reason: DeleteReason,
  ctx: DecisionContext,
): boolean {
  if (!sameVersion(before, fresh)) return false;
  const verdict = classify(fresh, ctx);
  if (reason === 'leaked') return verdict.action === 'lookup' && afterLookup(fresh, false).action === 'delete';
  return verdict.action === 'delete' && verdict.reason === reason;
}

/** What a `_DeferredTask` entity's age key alone decides, in a keys scan of a shard's ranges (see {@link decideAgeKey}). */
export type AgeKeyDecision =
  /** Unfinished and created after the cut-off: not this sweep's to judge (the range query of unfinished ones stops there). */
  | { action: 'skip' }
  /** The decision needs the whole entity. */
  | { action: 'read' }
  /** A `done` entity, decided from its key: the verdict of {@link classify} on what the key says. */
  | { action: 'judged'; verdict: Exclude<Verdict, { action: 'lookup' }>; snapshot: TaskSnapshot };

/**
 * Decides an entity from its age key where the key says enough, else asks for the entity. Only a done key
 * (`doneAgeKey`: written by the completion that made the entity `done`, which never changes again) is judged here: the
 * key holds its due time and `expireAt`, and {@link classify} on those gives the verdict it would give on the whole
 * entity (expired past `expireAt`; deleted as done once due; kept before). A sweep that overrides the done retention
 * reads it. Unfinished entities created after `cutoffMs` are skipped; everything else (unfinished ones before the
 * cut-off, failed and retried records, finished entities keyed by earlier versions, odd keys) is read.
 */
export function decideAgeKey(ageKey: unknown, ctx: DecisionContext, cutoffMs: number): AgeKeyDecision {
  const parsed = typeof ageKey === 'string' ? parseAgeKey(ageKey) : null;
  if (!parsed) return { action: 'read' };
  if (!parsed.finished) return parsed.ms < cutoffMs ? { action: 'read' } : { action: 'skip' };
  if (parsed.doneExpireAtMs === undefined || ctx.retention?.doneMs !== undefined) return { action: 'read' };
  // Due = min(finishedAt + retentionMs, expireAt): as a snapshot finished at its due time with no retention left.
  const snapshot: TaskSnapshot = {
    ...snapshotOf({}),
    state: 'done',
    finishedAtMs: parsed.ms,
    retentionMs: 0,
    expireAtMs: parsed.doneExpireAtMs,
  };
  const verdict = classify(snapshot, ctx);
  return verdict.action === 'lookup' ? { action: 'read' } : { action: 'judged', verdict, snapshot };
}
