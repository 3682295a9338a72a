/** The emulator's notion of time: the real clock, and a manual clock that tests move forward by hand. */

/** Time source and timers of the emulator; inject a {@link ManualClock} to test schedules and backoff without sleeping. */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Calls `fn` once after `ms` milliseconds of this clock's time; returns a function that cancels the timer. */
  setTimer(fn: () => void, ms: number): () => void;
  /**
   * Tells the clock about asynchronous work (a dispatch) started by the emulator, so a manual clock can wait for it.
   * Optional: the system clock ignores it.
   */
  track?(work: Promise<unknown>): void;
}

/** The wall clock: `Date.now()` and unref'd `setTimeout`s (they never keep the process alive on their own). */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimer(fn, ms) {
    const handle = setTimeout(fn, Math.max(0, ms));
    handle.unref();
    return () => clearTimeout(handle);
  },
};

interface ManualTimer {
  readonly due: number;
  readonly seq: number;
  readonly fn: () => void;
}

/**
 * A clock that only moves when told to. Timers fire inside {@link ManualClock.advance}, in due order (ties in the order
 * they were set), and `advance` resolves only once the dispatches they started, and any started meanwhile, are finished.
 * The emulator dispatches a task that is already due when it is created at once, without a timer; `advance(0)` waits
 * for such dispatches too.
 */
export class ManualClock implements Clock {
  private current: number;
  private seq = 0;
  private readonly timers = new Set<ManualTimer>();
  private readonly work = new Set<Promise<unknown>>();

  /** @param startMs the initial time in epoch milliseconds. @default Date.now() */
  constructor(startMs: number = Date.now()) {
    this.current = startMs;
  }

  now(): number {
    return this.current;
  }

  setTimer(fn: () => void, ms: number): () => void {
    const timer: ManualTimer = { due: this.current + Math.max(0, ms), seq: this.seq++, fn };
    this.timers.add(timer);
    return () => {
      this.timers.delete(timer);
    };
  }

  track(work: Promise<unknown>): void {
    const settled = work.then(
      () => undefined,
      () => undefined,
    );
    this.work.add(settled);
    void settled.then(() => this.work.delete(settled));
  }

  /** How many timers are waiting to fire (useful to assert that nothing is scheduled). */
  get pendingTimers(): number {
    return this.timers.size;
  }

  /** The due time of the earliest timer, or undefined when none is set. */
  nextTimerAt(): number | undefined {
    return this.earliest()?.due;
  }

  /**
   * Moves time forward by `ms`, firing due timers in order (timers set meanwhile fire too when they fall inside the
   * window), and resolves when the dispatches they started have finished. A handler that never answers holds it until
   * the attempt's dispatch deadline, which runs on the wall clock.
   */
  async advance(ms: number): Promise<void> {
    if (!(ms >= 0)) throw new RangeError(`ManualClock.advance(ms) needs ms >= 0, got ${ms}.`);
    const target = this.current + ms;
    await this.settle();
    for (;;) {
      const next = this.earliest();
      if (!next || next.due > target) break;
      this.timers.delete(next);
      this.current = Math.max(this.current, next.due);
      next.fn();
      await this.settle();
    }
    this.current = target;
    await this.settle();
  }

  /** Waits until all tracked work has finished (including work started while waiting). */
  async settle(): Promise<void> {
    // Let synchronous continuations (e.g. a pump scheduled on a microtask) register their work first.
    await new Promise<void>((resolve) => setImmediate(resolve));
    while (this.work.size > 0) {
      await Promise.all([...this.work]);
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }

  private earliest(): ManualTimer | undefined {
    let best: ManualTimer | undefined;
    for (const timer of this.timers) {
      if (!best || timer.due < best.due || (timer.due === best.due && timer.seq < best.seq)) best = timer;
    }
    return best;
  }
}
