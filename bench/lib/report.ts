/** The benchmark's outputs: a readable table for people and a JSON report for scripts. */
import { cpus, totalmem } from 'node:os';
import type { FigureRow } from './figure.js';
import type { Summary } from './stats.js';

/** The machine a report was measured on. */
export interface MachineInfo {
  readonly cpus: number;
  readonly cpuModel: string;
  readonly memoryGiB: number;
  readonly node: string;
  readonly platform: string;
  /** 1-minute load average when the run started and ended (a loaded, shared machine shows here). */
  readonly loadAverage: { readonly start: number; readonly end: number };
}

/** The JSON report (`--json`). */
export interface BenchReport {
  readonly version: 1;
  readonly startedAt: string;
  readonly elapsedMs: number;
  readonly mode: 'local' | 'project';
  readonly backend: string;
  readonly smoke: boolean;
  readonly runs: number;
  readonly machine: MachineInfo;
  readonly figures: readonly FigureRow[];
}

/** What we know about this machine now. */
export function machineInfo(loadStart: number, loadEnd: number): MachineInfo {
  const list = cpus();
  return {
    cpus: list.length,
    cpuModel: list[0]?.model.trim() ?? 'unknown',
    memoryGiB: Math.round((totalmem() / 1024 ** 3) * 10) / 10,
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    loadAverage: { start: loadStart, end: loadEnd },
  };
}

/** A number with about three significant digits, thousands separated. */
export function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  const abs = Math.abs(value);
  const digits = abs >= 100 ? 0 : abs >= 10 ? 1 : abs >= 1 ? 2 : 3;
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** `median (min–max)`. */
export function formatSummary(summary: Summary | undefined, unit = ''): string {
  if (!summary) return '-';
  const u = unit ? ` ${unit}` : '';
  if (summary.runs === 1) return `${formatNumber(summary.median)}${u}`;
  return `${formatNumber(summary.median)}${u} (${formatNumber(summary.min)}–${formatNumber(summary.max)})`;
}

function pad(text: string, width: number): string {
  return text + ' '.repeat(Math.max(0, width - [...text].length));
}

/** Rows as a Markdown table (readable in a terminal, pasteable into the README). */
export function formatTable(rows: readonly FigureRow[]): string {
  const header = ['figure', 'ours', 'baseline', 'ratio', 'CPU per unit, ours / baseline (ratio)', 'target', 'result'];
  const lines = rows.map((row) => [
    row.label ? `${row.figure} (${row.label})` : row.figure,
    formatSummary(row.ours, row.unit),
    formatSummary(row.baseline, row.unit),
    row.ratio ? `${formatSummary(row.ratio)}${row.ratioOf ? ` ${row.ratioOf}` : ''}` : '-',
    row.cpu
      ? `${formatNumber(row.cpu.ours.median)} / ${formatNumber(row.cpu.baseline.median)} µs (${formatSummary(row.cpu.ratio)})`
      : '-',
    row.target ? `${row.target.op} ${row.target.value}` : '-',
    row.status,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => [...l[i]!].length)));
  const render = (cells: string[]) => `| ${cells.map((c, i) => pad(c, widths[i]!)).join(' | ')} |`;
  const notes = rows
    .filter((row) => row.note)
    .map((row) => `- ${row.label ? `${row.figure} (${row.label})` : row.figure}: ${row.note}`);
  return [
    render(header),
    render(widths.map((w) => '-'.repeat(w))),
    ...lines.map(render),
    ...(notes.length ? ['', ...notes] : []),
  ].join('\n');
}

/** One line about the machine, for under the table. */
export function formatMachine(machine: MachineInfo): string {
  return `${machine.cpus} cores (${machine.cpuModel}), ${machine.memoryGiB} GiB RAM, Node ${machine.node}, ${machine.platform}; load average ${machine.loadAverage.start.toFixed(1)} at start, ${machine.loadAverage.end.toFixed(1)} at end`;
}
