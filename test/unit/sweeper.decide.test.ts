// Unit tests of the sweep decision table (classify, afterLookup, stillDeletable) and of batch planning: pure logic, no I/O.
import { Datastore } from '@google-cloud/datastore';
import { describe, expect, it } from 'vitest';
import { afterLookup, classify, snapshotOf, stillDeletable, type TaskSnapshot } from '../../src/sweeper/decide.js';
import { planBatches, planPlainBatches, type DeleteCandidate } from '../../src/sweeper/guarded-delete.js';
import { MINUTE } from '../support/time.js';

const NOW = Date.UTC(2026, 0, 10, 12);
const ctx = { nowMs: NOW, graceMs: 10 * MINUTE };

function snap(over: Partial<TaskSnapshot>): TaskSnapshot {
  return {
    state: 'pending',
    transactional: false,
    attempts: 0,
    etaMs: NOW - 60 * MINUTE,
    leaseUntilMs: null,
    finishedAtMs: null,
    retriedAtMs: null,
    retentionMs: 0,
    expireAtMs: NOW + 30 * 86_400_000,
    cloudTaskName: 'projects/p/locations/l/queues/q/tasks/t',
    cloudTaskRequest: '{"parent":"projects/p/locations/l/queues/q","task":{}}',
    chunks: 0,
    ...over,
  };
}

describe('classify + afterLookup (the decision table)', () => {
  it('retried: kept for its retention after the retry (not after the failure), then deleted', () => {
    const retried = { state: 'retried' as const, finishedAtMs: NOW - 60 * MINUTE, retentionMs: 30 * MINUTE };
    expect(classify(snap({ ...retried, retriedAtMs: NOW - 10 * MINUTE }), ctx)).toEqual({
      action: 'keep',
      reason: 'retention',
    });
    expect(classify(snap({ ...retried, retriedAtMs: NOW - 31 * MINUTE }), ctx)).toEqual({
      action: 'delete',
      reason: 'retried',
    });
    // --retention-failed applies to retried records too.
    expect(
      classify(snap({ ...retried, retriedAtMs: NOW - 10 * MINUTE }), { ...ctx, retention: { failedMs: 5 * MINUTE } }),
    ).toEqual({ action: 'delete', reason: 'retried' });
    expect(snapshotOf({ state: 'retried', retriedAt: new Date(NOW) }).retriedAtMs).toBe(NOW);
  });

  it('done / failed older than retention: delete; younger: keep', () => {
    expect(classify(snap({ state: 'done', finishedAtMs: NOW - 2 * MINUTE, retentionMs: MINUTE }), ctx)).toEqual({
      action: 'delete',
      reason: 'done',
    });
    expect(classify(snap({ state: 'failed', finishedAtMs: NOW - 2 * MINUTE, retentionMs: MINUTE }), ctx)).toEqual({
      action: 'delete',
      reason: 'failed',
    });
    expect(classify(snap({ state: 'done', finishedAtMs: NOW - 2 * MINUTE, retentionMs: 5 * MINUTE }), ctx)).toEqual({
      action: 'keep',
      reason: 'retention',
    });
  });

  it('retention overrides of the sweep win over the entity and per state', () => {
    const done = snap({ state: 'done', finishedAtMs: NOW - 2 * MINUTE, retentionMs: 0 });
    expect(classify(done, { ...ctx, retention: { doneMs: 5 * MINUTE } })).toEqual({
      action: 'keep',
      reason: 'retention',
    });
    expect(classify(done, { ...ctx, retention: { failedMs: 5 * MINUTE } })).toEqual({
      action: 'delete',
      reason: 'done',
    });
  });

  it('pending, never attempted, transactional, past ETA + grace, task gone: re-drive', () => {
    const e = snap({ transactional: true });
    expect(classify(e, ctx)).toEqual({ action: 'lookup' });
    expect(afterLookup(e, false)).toEqual({ action: 'redrive' });
    expect(afterLookup(e, true)).toEqual({ action: 'keep', reason: 'task-exists' });
  });

  it('pending / running past ETA + grace, task gone: delete as leaked', () => {
    for (const e of [
      snap({}),
      snap({ transactional: true, attempts: 2 }),
      snap({ state: 'running', attempts: 1, leaseUntilMs: NOW - MINUTE }),
      snap({ state: 'running', attempts: 1, leaseUntilMs: null }),
    ]) {
      expect(classify(e, ctx)).toEqual({ action: 'lookup' });
      expect(afterLookup(e, false)).toEqual({ action: 'delete', reason: 'leaked' });
      expect(afterLookup(e, true)).toEqual({ action: 'keep', reason: 'task-exists' });
    }
  });

  it('unfinished before ETA + grace, or running under a live lease: keep without a look-up', () => {
    expect(classify(snap({ etaMs: NOW - 5 * MINUTE }), ctx)).toEqual({ action: 'keep', reason: 'not-due' });
    expect(classify(snap({ etaMs: NOW + 60 * MINUTE }), ctx)).toEqual({ action: 'keep', reason: 'not-due' });
    expect(classify(snap({ state: 'running', leaseUntilMs: NOW + MINUTE }), ctx)).toEqual({
      action: 'keep',
      reason: 'leased',
    });
  });

  it('past expireAt: delete whatever the state, except a run under a live lease', () => {
    const past = NOW - 1;
    for (const state of ['pending', 'done', 'failed'] as const) {
      expect(classify(snap({ state, expireAtMs: past, etaMs: NOW + 60 * MINUTE }), ctx)).toEqual({
        action: 'delete',
        reason: 'expired',
      });
    }
    expect(classify(snap({ state: 'running', expireAtMs: past, leaseUntilMs: NOW - 1 }), ctx)).toEqual({
      action: 'delete',
      reason: 'expired',
    });
    expect(classify(snap({ state: 'running', expireAtMs: past, leaseUntilMs: NOW + MINUTE }), ctx)).toEqual({
      action: 'keep',
      reason: 'leased',
    });
  });

  it('an unknown state is kept until expireAt; a missing task name is never looked up', () => {
    expect(classify(snapshotOf({ state: 'paused', expireAt: new Date(NOW + 1) }), ctx)).toEqual({
      action: 'keep',
      reason: 'unknown-state',
    });
    expect(classify(snapshotOf({ state: 'paused', expireAt: new Date(NOW - 1) }), ctx)).toEqual({
      action: 'delete',
      reason: 'expired',
    });
    expect(classify(snap({ cloudTaskName: '' }), ctx)).toEqual({ action: 'keep', reason: 'no-task-name' });
  });
});

describe('stillDeletable (the guard, on the re-read entity)', () => {
  it('holds only when the entity did not move and the verdict is the same', () => {
    const leaked = snap({ state: 'running', attempts: 1, leaseUntilMs: NOW - MINUTE });
    expect(stillDeletable(leaked, leaked, 'leaked', ctx)).toBe(true);
    expect(stillDeletable(leaked, { ...leaked, attempts: 2 }, 'leaked', ctx)).toBe(false);
    expect(stillDeletable(leaked, { ...leaked, leaseUntilMs: NOW + MINUTE }, 'leaked', ctx)).toBe(false);
    expect(stillDeletable(leaked, { ...leaked, state: 'done', finishedAtMs: NOW }, 'leaked', ctx)).toBe(false);
    const done = snap({ state: 'done', finishedAtMs: NOW - MINUTE });
    expect(stillDeletable(done, done, 'done', ctx)).toBe(true);
    expect(stillDeletable(done, done, 'failed', ctx)).toBe(false);
    // A redrivable entity is never deleted as leaked, even if asked to.
    const outbox = snap({ transactional: true });
    expect(stillDeletable(outbox, outbox, 'leaked', ctx)).toBe(false);
  });
});

describe('snapshotOf', () => {
  it('reads Dates, numbers and numeric strings the client returns, and tolerates missing fields', () => {
    const s = snapshotOf({
      state: 'running',
      attempts: '3',
      eta: new Date(NOW),
      leaseUntil: new Date(NOW + 1),
      chunks: 2,
      retentionMs: 5,
    });
    expect(s).toMatchObject({
      state: 'running',
      attempts: 3,
      etaMs: NOW,
      leaseUntilMs: NOW + 1,
      chunks: 2,
      retentionMs: 5,
      finishedAtMs: null,
    });
    expect(snapshotOf({})).toMatchObject({ state: 'unknown', attempts: 0, retentionMs: null, cloudTaskName: '' });
  });
});

describe('planBatches', () => {
  const ds = new Datastore({ projectId: 'p', namespace: 'n' });
  const candidate = (path: (string | number)[], companions = 0): DeleteCandidate<null> => ({
    key: ds.key(path),
    companions: Array.from({ length: companions }, (_, i) => ds.key([...path, '_DeferredTaskChunk', i + 1])),
    tag: null,
    guard: () => true,
  });

  it('keeps each batch within 25 entity groups and 500 mutations, and a group in one batch', () => {
    const roots = Array.from({ length: 60 }, (_, i) => candidate(['_DeferredTask', `t${i}`]));
    const grouped = Array.from({ length: 30 }, (_, i) => candidate(['Account', 'acme', '_DeferredTask', `g${i}`], 3));
    const batches = planBatches([...roots, ...grouped]);
    for (const batch of batches) {
      const groups = new Set(batch.map((c) => JSON.stringify(c.key.path.slice(0, 2))));
      expect(groups.size).toBeLessThanOrEqual(25);
      expect(batch.reduce((n, c) => n + 1 + c.companions.length, 0)).toBeLessThanOrEqual(500);
    }
    expect(batches.flat()).toHaveLength(90);
    const acme = batches.filter((b) => b.some((c) => c.key.path[0] === 'Account'));
    expect(acme).toHaveLength(1);
  });

  it('splits on mutations: 3 entities of 200 chunks need 2 commits', () => {
    const big = [1, 2, 3].map((i) => candidate(['_DeferredTask', `b${i}`], 200));
    expect(planBatches(big).map((b) => b.length)).toEqual([2, 1]);
  });

  it('plain batches (done entities) ignore entity groups: 500 mutations per commit', () => {
    const roots = Array.from({ length: 1200 }, (_, i) => candidate(['_DeferredTask', `t${i}`]));
    expect(planPlainBatches(roots).map((b) => b.length)).toEqual([500, 500, 200]);
    const big = [1, 2, 3].map((i) => candidate(['_DeferredTask', `b${i}`], 200));
    expect(planPlainBatches(big).map((b) => b.length)).toEqual([2, 1]);
    const huge = candidate(['_DeferredTask', 'h'], 700);
    expect(planPlainBatches([roots[0]!, huge, roots[1]!]).map((b) => b.length)).toEqual([1, 1, 1]);
  });
});
