/** What a benchmark figure is (a name, how it runs) and what it reports (rows with ours, baseline, ratio, target, verdict). */
import type { BenchStack } from './stack.js';
import type { Summary } from './stats.js';

/** The verdict of one row: a target met or missed, a figure that is only reported, or one that could not run. */
export type Status = 'pass' | 'miss' | 'reported' | 'skipped' | 'error';

/** A target on a row's ratio, e.g. `{ op: '>=', value: 0.9 }`. */
export interface Target {
  readonly op: '>=' | '<=';
  readonly value: number;
}

/**
 * CPU per unit of work of ours and the baseline, summed over the local processes (benchmark, Cloud Tasks emulator,
 * Datastore emulator) and the ratio `baseline / ours` per run: the throughput ratio if only CPU counted.
 */
export interface CpuComparison {
  /** µs of CPU per unit, per run. */
  readonly ours: Summary;
  readonly baseline: Summary;
  readonly ratio: Summary;
}

/** One line of the report. */
export interface FigureRow {
  /** The figure's name, e.g. `defer_inline`. */
  readonly figure: string;
  /** Which variant of the figure, when it has several rows (e.g. `4 shards`). */
  readonly label?: string;
  /** Unit of `ours` and `baseline`, e.g. `tasks/s`. */
  readonly unit: string;
  readonly ours?: Summary;
  readonly baseline?: Summary;
  /** What the ratio is, e.g. `ours / baseline` or `50k / 10k`. */
  readonly ratioOf?: string;
  /** The ratio per run (runs of ours and of the baseline are paired and interleaved). */
  readonly ratio?: Summary;
  /** CPU per unit of both sides and its ratio (local stack only): the steadier figure on a shared machine. */
  readonly cpu?: CpuComparison;
  readonly target?: Target;
  readonly status: Status;
  /** One line: what bounds the figure, why it was skipped, or the error. */
  readonly note?: string;
  /** Anything else worth keeping in the JSON report (sizes, counts, per-shard times). */
  readonly details?: Readonly<Record<string, unknown>>;
}

/** What a figure gets to run with. */
/** What every figure is given. */
export interface BaseContext {
  /** Measured runs of each side (after one warm-up, unless smoke). */
  readonly runs: number;
  /** Runs of the `sweep_memory` figure, whose runs each seed and sweep 60k entities. */
  readonly memoryRuns: number;
  /** Smoke mode: tiny counts, one run; checks that the figure works, not how fast. */
  readonly smoke: boolean;
  /** Progress line on stderr. */
  log(message: string): void;
}

/** What a figure measured against the local stack or a project is given. */
export interface FigureContext extends BaseContext {
  readonly stack: BenchStack;
}

/** One figure of the benchmark, measured against the stack (emulators, or a real project). */
export interface StackFigure {
  readonly name: string;
  /** One line for `--help` and the report: what ours does and what the baseline does. */
  readonly description: string;
  readonly standalone?: false;
  run(ctx: FigureContext): Promise<FigureRow[]>;
}

/**
 * A figure that needs no stack (whole processes, in-process code): it runs before the stack starts, so that the
 * emulators' JVM, busiest in its first seconds, does not share the cores with what it measures.
 */
export interface StandaloneFigure {
  readonly name: string;
  /** One line for `--help` and the report: what ours does and what the baseline does. */
  readonly description: string;
  readonly standalone: true;
  run(ctx: BaseContext): Promise<FigureRow[]>;
}

export type Figure = StackFigure | StandaloneFigure;

/** pass when the median ratio meets the target, miss otherwise. */
export function verdict(ratio: Summary, target: Target): Status {
  const ok = target.op === '>=' ? ratio.median >= target.value : ratio.median <= target.value;
  return ok ? 'pass' : 'miss';
}

/** Per-run ratios `a[i] / b[i]` of paired runs. */
export function pairedRatios(a: readonly number[], b: readonly number[]): number[] {
  return a.map((value, i) => value / b[i]!);
}
