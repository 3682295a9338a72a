/** A bound on jobs in flight (the runtime's `createTask` calls in bulk) that makes no promise per queued job. */

/**
 * Runs jobs with at most `concurrency` in flight, in the order they were added, each as soon as a slot is free (the
 * first ones at once, synchronously). Unlike p-limit, which makes five promises per job (each costing every enabled
 * `AsyncLocalStorage` before Node 24), a job costs its own promise and one `then`.
 */
export class JobPool {
  private readonly waiting: ((() => Promise<unknown>) | undefined)[] = [];
  private next = 0;
  private active = 0;
  private idleWaiters: (() => void)[] = [];

  /** `concurrency`: the most jobs in flight at once, a whole number of at least 1. */
  constructor(private readonly concurrency: number) {}

  /** Adds a job. It records its own outcome: its rejection (or throw) only frees its slot. */
  run(job: () => Promise<unknown>): void {
    this.waiting.push(job);
    this.pump();
  }

  /** Resolves once no job runs or waits (at once when none does). */
  idle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private isIdle(): boolean {
    return this.active === 0 && this.next === this.waiting.length;
  }

  private readonly finished = (): void => {
    this.active--;
    this.pump();
    if (!this.isIdle()) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  };

  private pump(): void {
    while (this.active < this.concurrency && this.next < this.waiting.length) {
      const job = this.waiting[this.next]!;
      this.waiting[this.next++] = undefined; // started: not kept alive by the pool
      this.active++;
      let started: Promise<unknown>;
      try {
        started = job();
      } catch {
        started = Promise.resolve();
      }
      started.then(this.finished, this.finished);
    }
  }
}
