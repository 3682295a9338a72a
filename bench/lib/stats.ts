/** Summaries of repeated measurements (median, min, max) and the small helpers figures time their work with. */
import { performance } from 'node:perf_hooks';

/** The median, min and max of one quantity over several runs, with the samples themselves. */
export interface Summary {
  readonly median: number;
  readonly min: number;
  readonly max: number;
  readonly runs: number;
  readonly samples: readonly number[];
}

/** Summarises samples; the median of an even count is the mean of the two middle values. */
export function summarize(samples: readonly number[]): Summary {
  if (samples.length === 0) throw new Error('summarize() needs at least one sample');
  const sorted = [...samples].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const median = sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { median, min: sorted[0]!, max: sorted[sorted.length - 1]!, runs: samples.length, samples: [...samples] };
}

/** Runs `fn` and returns how long it took in milliseconds, with its result. */
export async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; result: T }> {
  const started = performance.now();
  const result = await fn();
  return { ms: performance.now() - started, result };
}

/** Calls `fn(i)` for i in 0..count-1 with at most `concurrency` calls in flight; rejects on the first error. */
export async function pool(count: number, concurrency: number, fn: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      await fn(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
}

/** `count / ms` as a per-second rate. */
export function perSecond(count: number, ms: number): number {
  return ms > 0 ? (count * 1000) / ms : 0;
}
