/** Interleaved, paired runs of ours and its baseline, in short alternating slices so a loaded machine slows both alike, and the report row they make. */
import {
  pairedRatios,
  verdict,
  type CpuComparison,
  type FigureContext,
  type FigureRow,
  type Target,
} from './figure.js';
import { performance } from 'node:perf_hooks';
import type { BenchStack, CpuSnapshot } from './stack.js';
import { summarize } from './stats.js';

/** What one slice of a side did: `count` units of work in `ms` of wall time, using `cpu` (ms, by process). */
export interface Slice {
  readonly count: number;
  readonly ms: number;
  readonly cpu?: CpuSnapshot | null;
}

/** Times `fn` and the CPU the processes of the stack spent meanwhile (a slice's measured part). */
export async function measured<T>(
  stack: BenchStack,
  fn: () => Promise<T>,
): Promise<{ ms: number; cpu: CpuSnapshot | null; result: T }> {
  const before = stack.cpu();
  const started = performance.now();
  const result = await fn();
  const ms = performance.now() - started;
  const after = stack.cpu();
  const cpu =
    before && after
      ? {
          bench: after.bench - before.bench,
          tasksEmulator: after.tasksEmulator - before.tasksEmulator,
          datastoreEmulator: after.datastoreEmulator - before.datastoreEmulator,
        }
      : null;
  return { ms, cpu, result };
}

/** Runs one slice of a side. Set-up that must not be timed (seeding, filling a queue) happens inside, outside `ms`. */
export type Side = () => Promise<Slice>;

/** Options of {@link pairedRuns}. */
export interface PairedOptions {
  /** Slices of each side per run; a run's value is computed from the sums over its slices. @default 4 (smoke: 1) */
  readonly slices?: number;
  /** The figure's quantity from a run's total work and wall time. @default units per second */
  readonly value?: (count: number, ms: number) => number;
  /** Skip the unmeasured warm-up slices. @default false (smoke: true) */
  readonly noWarmup?: boolean;
}

/** Samples of each side in run order, and CPU time per unit of work (a steadier measure on a shared machine). */
export interface PairedSamples {
  readonly ours: number[];
  readonly baseline: number[];
  /** Samples of further reference sides, by name. */
  readonly others: Readonly<Record<string, number[]>>;
  /** Microseconds of CPU per unit of work, by side and process, over the measured parts of all slices (local stack only). */
  readonly cpuPerUnit: Readonly<Record<string, CpuSnapshot>> | null;
  /** Microseconds of CPU per unit of work of all local processes together, by side, one per run (local stack only). */
  readonly cpuRuns: Readonly<Record<string, number[]>> | null;
}

const perSecond = (count: number, ms: number) => (ms > 0 ? (count * 1000) / ms : 0);

/**
 * Runs each side `ctx.runs` times. Each run interleaves short slices of every side (which one goes first rotates),
 * after one unmeasured warm-up slice of each (JIT, connections, emulator caches). Sides beyond ours and the baseline
 * are references, reported alongside.
 */
export async function pairedRuns(
  ctx: FigureContext,
  figure: string,
  unit: string,
  sides: { ours: Side; baseline: Side } & Record<string, Side>,
  options: PairedOptions = {},
): Promise<PairedSamples> {
  const slices = ctx.smoke ? 1 : (options.slices ?? 4);
  const value = options.value ?? perSecond;
  const names = Object.keys(sides);
  if (!ctx.smoke && !options.noWarmup) {
    for (const name of names) await sides[name]!();
  }
  const samples = Object.fromEntries(names.map((name) => [name, [] as number[]]));
  const cpu = Object.fromEntries(names.map((name) => [name, emptyCpu()]));
  const units = Object.fromEntries(names.map((name) => [name, 0]));
  const cpuRuns = Object.fromEntries(names.map((name) => [name, [] as number[]]));
  let slot = 0;
  for (let run = 0; run < ctx.runs; run++) {
    const total = Object.fromEntries(names.map((name) => [name, { count: 0, ms: 0, cpuMs: 0 }]));
    for (let s = 0; s < slices; s++) {
      const first = slot++ % names.length;
      for (const name of [...names.slice(first), ...names.slice(0, first)]) {
        const slice = await sides[name]!();
        total[name]!.count += slice.count;
        total[name]!.ms += slice.ms;
        units[name]! += slice.count;
        if (slice.cpu) {
          addCpu(cpu[name]!, slice.cpu);
          total[name]!.cpuMs += slice.cpu.bench + slice.cpu.tasksEmulator + slice.cpu.datastoreEmulator;
        }
      }
    }
    for (const name of names) {
      const v = value(total[name]!.count, total[name]!.ms);
      samples[name]!.push(v);
      const cpuPerUnit = (total[name]!.cpuMs * 1000) / Math.max(1, total[name]!.count);
      cpuRuns[name]!.push(cpuPerUnit);
      const cpuText = total[name]!.cpuMs > 0 ? `, ${cpuPerUnit.toFixed(0)} µs CPU/unit` : '';
      ctx.log(`${figure} run ${run + 1}/${ctx.runs} ${name}: ${v.toFixed(1)} ${unit}${cpuText}`);
    }
  }
  const hasCpu = cpu.ours!.bench > 0;
  const { ours, baseline, ...others } = samples;
  return {
    ours: ours!,
    baseline: baseline!,
    others,
    cpuPerUnit: hasCpu ? Object.fromEntries(names.map((name) => [name, perUnit(cpu[name]!, units[name]!)])) : null,
    cpuRuns: hasCpu ? cpuRuns : null,
  };
}

function emptyCpu(): Record<keyof CpuSnapshot, number> {
  return { bench: 0, tasksEmulator: 0, datastoreEmulator: 0 };
}

function addCpu(into: Record<keyof CpuSnapshot, number>, delta: CpuSnapshot): void {
  for (const key of Object.keys(into) as (keyof CpuSnapshot)[]) into[key] += delta[key];
}

function perUnit(cpu: Record<keyof CpuSnapshot, number>, count: number): CpuSnapshot {
  const round = (ms: number) => Math.round((ms * 1000) / Math.max(1, count));
  return {
    bench: round(cpu.bench),
    tasksEmulator: round(cpu.tasksEmulator),
    datastoreEmulator: round(cpu.datastoreEmulator),
  };
}

/**
 * CPU per unit of two sides (all local processes together) and their ratio per run, `baseline / ours`: what the
 * throughput ratio would be if only CPU counted (the steadier figure on a shared machine). Null without CPU readings.
 */
export function cpuComparison(samples: PairedSamples, ours = 'ours', baseline = 'baseline'): CpuComparison | null {
  const a = samples.cpuRuns?.[ours];
  const b = samples.cpuRuns?.[baseline];
  if (!a || !b) return null;
  return { ours: summarize(a), baseline: summarize(b), ratio: summarize(pairedRatios(b, a)) };
}

/** The row of a figure with a target on `ours / baseline`. */
export function ratioRow(
  figure: string,
  unit: string,
  samples: PairedSamples,
  target: Target,
  extra: Pick<FigureRow, 'note' | 'details' | 'label'> = {},
): FigureRow {
  const ratio = summarize(pairedRatios(samples.ours, samples.baseline));
  return {
    figure,
    unit,
    ours: summarize(samples.ours),
    baseline: summarize(samples.baseline),
    ratioOf: 'ours / baseline',
    ratio,
    target,
    status: verdict(ratio, target),
    ...extra,
    ...withCpu(samples, 'ours', 'baseline'),
    details: { ...extra.details, ...(samples.cpuPerUnit ? { cpuMicrosPerUnit: samples.cpuPerUnit } : {}) },
  };
}

/** `{ cpu }` comparing two sides when CPU was read, else nothing (a row spreads it in). */
function withCpu(samples: PairedSamples, ours: string, baseline: string): { cpu?: CpuComparison } {
  const cpu = cpuComparison(samples, ours, baseline);
  return cpu ? { cpu } : {};
}

/** A side's samples by name: `ours`, `baseline`, or one of the references. */
function samplesOf(samples: PairedSamples, side: string): number[] {
  const found = side === 'ours' ? samples.ours : side === 'baseline' ? samples.baseline : samples.others[side];
  if (!found) throw new Error(`no side named ${side} in this figure's runs`);
  return found;
}

/**
 * A reported row (no target) comparing any two sides of the same paired runs, e.g. ours against a reference
 * handler, a side with OpenTelemetry against ours, or an alternative setting against the baseline.
 */
export function sidesRow(
  figure: string,
  unit: string,
  samples: PairedSamples,
  sides: { readonly ours: string; readonly baseline: string },
  extra: Pick<FigureRow, 'label' | 'ratioOf' | 'note' | 'details'>,
): FigureRow {
  const ours = samplesOf(samples, sides.ours);
  const baseline = samplesOf(samples, sides.baseline);
  return {
    figure,
    unit,
    ours: summarize(ours),
    baseline: summarize(baseline),
    ratio: summarize(pairedRatios(ours, baseline)),
    ...withCpu(samples, sides.ours, sides.baseline),
    status: 'reported',
    ...extra,
  };
}
