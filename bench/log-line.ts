/** Figure `log_line`: CPU per JSON log line of a worker (one per run), written one write per line and batched per event-loop turn, in child processes writing to a pipe. */
import { spawn } from 'node:child_process';
import type { Figure } from './lib/figure.js';
import { pairedRatios } from './lib/figure.js';
import { ROOT } from './lib/stack.js';
import { summarize } from './lib/stats.js';

type Mode = 'lines' | 'batched' | 'format';

/** Runs the child in `mode`, draining its stdout as Cloud Run's log agent would; µs of child CPU per line. */
function runChild(mode: Mode, count: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'bench/log-line-child.ts', mode, String(count)], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdoutBytes = 0;
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdoutBytes += chunk.length));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      const last = stderr.trim().split('\n').pop() ?? '';
      if (code !== 0) return reject(new Error(`log_line child (${mode}) exited with ${code}: ${stderr.trim()}`));
      if (mode !== 'format' && stdoutBytes < count * 100) {
        return reject(new Error(`log_line child (${mode}) wrote ${stdoutBytes} bytes for ${count} lines`));
      }
      resolve((JSON.parse(last) as { cpuMicros: number }).cpuMicros / count);
    });
  });
}

export const logLineFigure: Figure = {
  name: 'log_line',
  description: 'CPU per JSON log line (one per run) written to a pipe: one write per line vs batched per turn (µs)',
  async run(ctx) {
    const count = ctx.smoke ? 2000 : 50_000;
    const modes: Mode[] = ['lines', 'batched', 'format'];
    const samples: Record<Mode, number[]> = { lines: [], batched: [], format: [] };
    for (let run = 0; run < ctx.runs; run++) {
      // Interleaved, the first mode rotating, so a change in load hits all three alike.
      for (let k = 0; k < modes.length; k++) {
        const mode = modes[(run + k) % modes.length]!;
        samples[mode].push(await runChild(mode, count));
      }
      ctx.log(
        `log_line run ${run + 1}/${ctx.runs}: ${modes.map((m) => `${m} ${samples[m].at(-1)!.toFixed(2)} µs`).join(', ')}`,
      );
    }
    const details = { linesPerRun: count, linesPerTurn: 32 };
    return [
      {
        figure: 'log_line',
        label: 'batched',
        unit: 'µs/line',
        ours: summarize(samples.batched),
        baseline: summarize(samples.lines),
        ratioOf: 'batched / one write per line',
        ratio: summarize(pairedRatios(samples.batched, samples.lines)),
        status: 'reported',
        note: 'process CPU per line in a child writing to a pipe; jsonLogger({ batch: true }) against the default',
        details,
      },
      {
        figure: 'log_line',
        label: 'format only',
        unit: 'µs/line',
        ours: summarize(samples.format),
        baseline: summarize(samples.lines),
        ratioOf: 'JSON.stringify alone / one write per line',
        ratio: summarize(pairedRatios(samples.format, samples.lines)),
        status: 'reported',
        details,
      },
    ];
  },
};
