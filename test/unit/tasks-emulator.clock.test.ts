// The emulator's clocks and retry arithmetic (pure logic): ManualClock ordering and waiting, the backoff formula, give-up rule.
import { describe, expect, it } from 'vitest';
import { DEFAULT_RETRY_POLICY, ManualClock, retryDelayMs, systemClock } from 'cloud-deferred/emulator';
import { isGivenUp } from '../../src/tasks-emulator/retry.js';

describe('ManualClock', () => {
  it('fires due timers in due order (ties in the order set) and moves now to each due time', async () => {
    const clock = new ManualClock(1_000);
    const fired: Array<[string, number]> = [];
    clock.setTimer(() => fired.push(['c', clock.now()]), 300);
    clock.setTimer(() => fired.push(['a', clock.now()]), 100);
    clock.setTimer(() => fired.push(['b', clock.now()]), 100);
    clock.setTimer(() => fired.push(['late', clock.now()]), 1_000);
    await clock.advance(500);
    expect(fired).toEqual([
      ['a', 1_100],
      ['b', 1_100],
      ['c', 1_300],
    ]);
    expect(clock.now()).toBe(1_500);
    expect(clock.pendingTimers).toBe(1);
    expect(clock.nextTimerAt()).toBe(2_000);
  });

  it('fires timers set while advancing when they fall inside the window; cancelled timers never fire', async () => {
    const clock = new ManualClock(0);
    const fired: number[] = [];
    const chain = () => {
      fired.push(clock.now());
      if (fired.length < 10) clock.setTimer(chain, 100);
    };
    clock.setTimer(chain, 100);
    const cancel = clock.setTimer(() => fired.push(-1), 50);
    cancel();
    await clock.advance(350);
    expect(fired).toEqual([100, 200, 300]);
  });

  it('waits for tracked work started by the timers, and work that work starts', async () => {
    const clock = new ManualClock(0);
    const done: string[] = [];
    clock.setTimer(() => {
      clock.track(
        new Promise<void>((resolve) =>
          setTimeout(() => {
            done.push('first');
            clock.track(new Promise<void>((r) => setTimeout(() => (done.push('second'), r()), 5)));
            resolve();
          }, 5),
        ),
      );
    }, 10);
    await clock.advance(10);
    expect(done).toEqual(['first', 'second']);
  });

  it('starts at Date.now() by default and refuses to go back', async () => {
    const before = Date.now();
    const clock = new ManualClock();
    expect(clock.now()).toBeGreaterThanOrEqual(before);
    await expect(clock.advance(-1)).rejects.toThrow(RangeError);
  });
});

describe('systemClock', () => {
  it('fires a timer on the wall clock, and a cancelled one never', async () => {
    let cancelledFired = false;
    const cancel = systemClock.setTimer(() => (cancelledFired = true), 1);
    cancel();
    await new Promise<void>((resolve) => systemClock.setTimer(resolve, 5));
    expect(cancelledFired).toBe(false);
    expect(Math.abs(systemClock.now() - Date.now())).toBeLessThan(1000);
  });
});

describe('retryDelayMs', () => {
  it('doubles from minBackoff maxDoublings times, then grows linearly, capped at maxBackoff', () => {
    const policy = { ...DEFAULT_RETRY_POLICY, minBackoffMs: 10_000, maxBackoffMs: 300_000, maxDoublings: 3 };
    expect(Array.from({ length: 9 }, (_, k) => retryDelayMs(policy, k) / 1000)).toEqual([
      10, 20, 40, 80, 160, 240, 300, 300, 300,
    ]);
  });

  it('with the defaults: 0.1 s doubling 16 times, capped at one hour', () => {
    const delays = Array.from({ length: 20 }, (_, k) => retryDelayMs(DEFAULT_RETRY_POLICY, k));
    expect(delays.slice(0, 4)).toEqual([100, 200, 400, 800]);
    expect(delays[15]).toBe(100 * 2 ** 15);
    expect(delays[16]).toBe(3_600_000);
    expect(delays[19]).toBe(3_600_000);
  });

  it('with maxDoublings 0 grows linearly from the start', () => {
    const policy = { ...DEFAULT_RETRY_POLICY, minBackoffMs: 1000, maxBackoffMs: 10_000, maxDoublings: 0 };
    expect(Array.from({ length: 5 }, (_, k) => retryDelayMs(policy, k))).toEqual([1000, 2000, 3000, 4000, 5000]);
  });
});

describe('isGivenUp', () => {
  const base = { ...DEFAULT_RETRY_POLICY };
  it('gives up when maxAttempts is spent and there is no maxRetryDuration', () => {
    expect(isGivenUp({ ...base, maxAttempts: 3 }, 2, 0, 1e9)).toBe(false);
    expect(isGivenUp({ ...base, maxAttempts: 3 }, 3, 0, 0)).toBe(true);
  });
  it('needs both limits spent when both are set', () => {
    const policy = { ...base, maxAttempts: 3, maxRetryDurationMs: 60_000 };
    expect(isGivenUp(policy, 5, 0, 59_999)).toBe(false);
    expect(isGivenUp(policy, 2, 0, 120_000)).toBe(false);
    expect(isGivenUp(policy, 3, 0, 60_000)).toBe(true);
  });
  it('with unlimited attempts, gives up on maxRetryDuration alone, or never without it', () => {
    expect(isGivenUp({ ...base, maxAttempts: -1, maxRetryDurationMs: 1000 }, 50, 0, 1000)).toBe(true);
    expect(isGivenUp({ ...base, maxAttempts: -1, maxRetryDurationMs: 1000 }, 50, 0, 999)).toBe(false);
    expect(isGivenUp({ ...base, maxAttempts: -1, maxRetryDurationMs: 0 }, 1e6, 0, 1e12)).toBe(false);
  });
});
