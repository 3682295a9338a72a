/** Figure `sweep_memory`: peak RSS of a process sweeping 50k finished entities against one sweeping 10k (each sweep in its own child process). */
import type { Figure } from './lib/figure.js';
import { seedFinishedTasks, SWEEP_NOW } from './lib/seed.js';
import { ROOT } from './lib/stack.js';
import type { ChildEndpoints } from './lib/stack.js';
import { pairedRatios, verdict, type FigureContext } from './lib/figure.js';
import { runJsonChild } from './lib/child.js';
import { summarize } from './lib/stats.js';

const SHARDS = 16;

/** What the child reports. */
export interface MemoryChildResult {
  /** Peak resident set size of the child (VmHWM), bytes. */
  readonly peakRssBytes: number;
  /** Peak RSS before the sweep started (imports, connected clients), bytes. */
  readonly startRssBytes: number;
  /** Heap in use after a full GC at the end minus at the start: what the sweep kept (a leak shows here), bytes. */
  readonly retainedHeapBytes: number;
  readonly deleted: number;
  readonly ms: number;
}

/** The arguments the child gets (one JSON argument). */
export interface MemoryChildInput {
  readonly endpoints: ChildEndpoints;
  readonly namespace: string;
  readonly shards: number;
  readonly nowMs: number;
}

async function runChild(input: MemoryChildInput): Promise<MemoryChildResult> {
  const args = ['--expose-gc', '--import', 'tsx', 'bench/sweep-memory-child.ts', JSON.stringify(input)];
  return (await runJsonChild<MemoryChildResult>('sweep child', args, { cwd: ROOT, env: { ...process.env } })).result;
}

/** Seeds `count` entities in a fresh namespace and sweeps them in a child process. */
async function sweepInChild(ctx: FigureContext, count: number): Promise<MemoryChildResult> {
  const namespace = ctx.stack.namespace(`memory`);
  const datastore = ctx.stack.datastore(namespace);
  const queuePath = `projects/${ctx.stack.projectId}/locations/${ctx.stack.location}/queues/bench`;
  await seedFinishedTasks(datastore, count, { shards: SHARDS, nowMs: SWEEP_NOW, queuePath });
  const result = await runChild({ endpoints: ctx.stack.endpoints, namespace, shards: SHARDS, nowMs: SWEEP_NOW });
  if (result.deleted !== count) throw new Error(`the sweep child deleted ${result.deleted} of ${count} entities`);
  ctx.log(
    `sweep_memory ${count}: peak ${mib(result.peakRssBytes).toFixed(1)} MiB (${mib(result.startRssBytes).toFixed(1)} MiB before the sweep, ${mib(result.retainedHeapBytes).toFixed(1)} MiB retained), ${(result.ms / 1000).toFixed(1)} s`,
  );
  return result;
}

const mib = (bytes: number) => bytes / 2 ** 20;

export const sweepMemoryFigure: Figure = {
  name: 'sweep_memory',
  description: 'peak RSS of a child process sweeping 50k vs 10k finished entities (MiB)',
  async run(ctx) {
    const small = ctx.smoke ? 100 : 10_000;
    const large = ctx.smoke ? 500 : 50_000;
    const runs = ctx.smoke ? 1 : ctx.memoryRuns;
    const peaks = { large: [] as number[], small: [] as number[] };
    const growth = { large: [] as number[], small: [] as number[] };
    const seconds = { large: [] as number[], small: [] as number[] };
    const retained = { large: [] as number[], small: [] as number[] };
    // No warm-up: every sweep is a fresh process.
    for (let run = 0; run < runs; run++) {
      const order = run % 2 === 0 ? (['large', 'small'] as const) : (['small', 'large'] as const);
      for (const size of order) {
        const result = await sweepInChild(ctx, size === 'large' ? large : small);
        peaks[size].push(mib(result.peakRssBytes));
        growth[size].push(mib(result.peakRssBytes - result.startRssBytes));
        seconds[size].push(result.ms / 1000);
        retained[size].push(mib(result.retainedHeapBytes));
      }
    }
    const ratio = summarize(pairedRatios(peaks.large, peaks.small));
    const target = { op: '<=', value: 1.25 } as const;
    const k = (n: number) => `${n >= 1000 ? n / 1000 + 'k' : n}`;
    return [
      {
        figure: 'sweep_memory',
        label: `${k(large)} vs ${k(small)}`,
        unit: 'MiB',
        ours: summarize(peaks.large),
        baseline: summarize(peaks.small),
        ratioOf: `${k(large)} / ${k(small)}`,
        ratio,
        target,
        status: verdict(ratio, target),
        note:
          `peak RSS of the whole child (Node, tsx, connected clients); during the sweep it grew ${summarize(growth.large).median.toFixed(0)} MiB (${k(large)}) vs ${summarize(growth.small).median.toFixed(0)} MiB (${k(small)}), ` +
          `and after a full GC the sweep kept ${summarize(retained.large).median.toFixed(1)} vs ${summarize(retained.small).median.toFixed(1)} MiB of heap; ${runs} run(s)`,
        details: {
          small,
          large,
          shards: SHARDS,
          runs,
          growthMiB: { large: summarize(growth.large), small: summarize(growth.small) },
          retainedHeapMiB: { large: summarize(retained.large), small: summarize(retained.small) },
          sweepSeconds: { large: summarize(seconds.large), small: summarize(seconds.small) },
        },
      },
    ];
  },
};
