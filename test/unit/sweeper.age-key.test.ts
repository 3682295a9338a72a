// Unit tests of what a task entity's age key alone decides (decideAgeKey, doneAgeKey): the sweep deletes done entities from their keys, so the key's verdict must be the one the whole entity gets.
import { describe, expect, it } from 'vitest';
import {
  ageKey,
  doneAgeKey,
  finishedAgeKey,
  finishedAgeKeyRange,
  parseAgeKey,
  type DeferredTaskEntity,
} from '../../src/store/schema.js';
import { decodeCursor } from '../../src/sweeper/cursor.js';
import { classify, decideAgeKey, snapshotOf, type DecisionContext } from '../../src/sweeper/decide.js';
import { MINUTE, HOUR, DAY } from '../support/time.js';

const NOW = Date.UTC(2026, 0, 10, 12);
const ctx: DecisionContext = { nowMs: NOW, graceMs: 10 * MINUTE };

/** A done entity's decision fields, as completeTask leaves them (finished at `finishedMs`). */
function doneEntity(finishedMs: number, retentionMs: number, expireAtMs: number) {
  const entity: Pick<DeferredTaskEntity, 'shard' | 'retentionMs' | 'expireAt'> & Record<string, unknown> = {
    state: 'done',
    shard: 7,
    retentionMs,
    expireAt: new Date(expireAtMs),
    finishedAt: new Date(finishedMs),
    attempts: 1,
    chunks: 0,
    cloudTaskName: 'projects/p/locations/l/queues/q/tasks/t',
  };
  return { entity, key: doneAgeKey(entity, finishedMs) };
}

/** A small deterministic generator (no Math.random: a failure reproduces). */
function* lcg(seed: number): Generator<number> {
  let x = seed;
  for (;;) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    yield x / 2 ** 32;
  }
}

describe('doneAgeKey and parseAgeKey', () => {
  it('a done key says its shard, due time and expireAt, and sorts with the finished keys of its due time', () => {
    const { key } = doneEntity(NOW - DAY, HOUR, NOW + 30 * DAY);
    expect(key).toBe(`${finishedAgeKey(7, NOW - DAY + HOUR)}|D${String(NOW + 30 * DAY).padStart(15, '0')}`);
    expect(parseAgeKey(key)).toEqual({
      shard: 7,
      finished: true,
      ms: NOW - DAY + HOUR,
      doneExpireAtMs: NOW + 30 * DAY,
    });
    expect(parseAgeKey(finishedAgeKey(7, NOW))).toEqual({ shard: 7, finished: true, ms: NOW });
    expect(parseAgeKey(ageKey(7, NOW))).toEqual({ shard: 7, finished: false, ms: NOW });
    expect(parseAgeKey('0007|F|12|X3')).toBeNull();
    // In the finished range due before t exactly when its due time is before t, like a plain finished key.
    const due = NOW - DAY + HOUR;
    const inRange = (k: string, before: number) => {
      const { lower, upper } = finishedAgeKeyRange(7, before);
      return k >= lower && k < upper;
    };
    for (const before of [due - 1, due, due + 1]) {
      expect(inRange(key, before)).toBe(inRange(finishedAgeKey(7, due), before));
    }
    expect(key > ageKey(7, 10 ** 15 - 1)).toBe(true);
    expect(key < finishedAgeKey(7, due + 1)).toBe(true);
  });

  it('an entity whose retention or expireAt is not a valid time gets the plain finished key', () => {
    expect(parseAgeKey(doneEntity(NOW, -1, NOW + DAY).key)?.doneExpireAtMs).toBeUndefined();
    expect(parseAgeKey(doneEntity(NOW, Number.NaN, NOW + DAY).key)?.doneExpireAtMs).toBeUndefined();
    expect(doneEntity(NOW, HOUR, Number.NaN).key.includes('|D')).toBe(false);
  });
});

describe('decideAgeKey', () => {
  const cutoff = NOW - 10 * MINUTE;

  it('judges a done key exactly as classify judges the whole entity (expired, done once due, kept before)', () => {
    const random = lcg(20);
    const next = () => random.next().value as number;
    const seen = new Set<string>();
    // Random times, and the edges: due or expireAt exactly now, a millisecond before or after.
    const cases: [number, number, number][] = [];
    for (const d of [-1, 0, 1]) {
      cases.push([NOW - HOUR + d, HOUR, NOW + DAY], [NOW - HOUR, HOUR, NOW + d], [NOW - DAY, 0, NOW + d]);
      cases.push([NOW + d, 0, NOW + DAY], [NOW - 2 * DAY, DAY, NOW - DAY + d]);
    }
    for (let i = 0; i < 2000; i++) {
      const finishedMs = NOW - Math.floor(next() * 10 * DAY);
      const retentionMs = Math.floor(next() * 8 * DAY) * (next() < 0.1 ? 0 : 1);
      cases.push([finishedMs, retentionMs, Math.max(0, finishedMs + Math.floor((next() - 0.2) * 12 * DAY))]);
    }
    for (const [finishedMs, retentionMs, expireAtMs] of cases) {
      const { entity, key } = doneEntity(finishedMs, retentionMs, expireAtMs);
      const whole = classify(snapshotOf(entity), ctx);
      const decision = decideAgeKey(key, ctx, cutoff);
      expect(decision.action).toBe('judged');
      if (decision.action !== 'judged') continue;
      expect(decision.verdict).toEqual(whole);
      expect(decision.snapshot).toMatchObject({ state: 'done', chunks: 0 });
      seen.add(JSON.stringify(whole));
    }
    // All three verdicts were met.
    expect(seen.size).toBe(3);
  });

  it('a sweep that overrides the done retention reads done entities; one that overrides failed only does not', () => {
    const { key } = doneEntity(NOW - DAY, HOUR, NOW + 30 * DAY);
    expect(decideAgeKey(key, { ...ctx, retention: { doneMs: 2 * DAY } }, cutoff)).toEqual({ action: 'read' });
    expect(decideAgeKey(key, { ...ctx, retention: { failedMs: 0 } }, cutoff)).toMatchObject({
      action: 'judged',
      verdict: { action: 'delete', reason: 'done' },
    });
    const young = doneEntity(NOW - MINUTE, HOUR, NOW + 30 * DAY).key;
    expect(decideAgeKey(young, { ...ctx, retention: { failedMs: 0 } }, cutoff)).toMatchObject({
      action: 'judged',
      verdict: { action: 'keep', reason: 'retention' },
    });
  });

  it('reads everything else: unfinished before the cut-off, plain finished keys (failed, retried, earlier releases), odd keys; skips younger unfinished ones', () => {
    expect(decideAgeKey(ageKey(7, cutoff - 1), ctx, cutoff)).toEqual({ action: 'read' });
    expect(decideAgeKey(ageKey(7, cutoff), ctx, cutoff)).toEqual({ action: 'skip' });
    expect(decideAgeKey(finishedAgeKey(7, NOW - DAY), ctx, cutoff)).toEqual({ action: 'read' });
    for (const odd of [undefined, null, 7, '', '0007|x', '0007|F|12|D']) {
      expect(decideAgeKey(odd, ctx, cutoff)).toEqual({ action: 'read' });
    }
  });
});

/** A cursor as the previous release encoded it. */
function v1(position: Record<string, unknown>) {
  const cursor = { v: 1, cutoffMs: NOW, expireBeforeMs: NOW, dueBeforeMs: NOW, ...position };
  return decodeCursor(Buffer.from(JSON.stringify(cursor)).toString('base64url'));
}

describe('cursors of the previous release', () => {
  it('resume at the start of their task phase (their Datastore cursor was of another query), and within a kind', () => {
    expect(v1({ phase: 'tasks', start: 'abc' })).toMatchObject({ v: 2, phase: 'tasks' });
    expect(v1({ phase: 'tasks', start: 'abc' }).start).toBeUndefined();
    expect(v1({ phase: 'finished', start: 'abc' }).start).toBeUndefined();
    expect(v1({ phase: 'kinds', kind: '_K', start: 'abc' })).toMatchObject({ v: 2, start: 'abc' });
  });
});
