/** Figure `sweep_scaling`: wall time of sweep() over the same number of finished entities written with 1, 4 and 16 shards. */
import type { Figure, FigureRow } from './lib/figure.js';
import { summarize } from './lib/stats.js';
import { reclaimSlice } from './sweep.js';

const SHARD_COUNTS = [1, 4, 16] as const;

export const sweepScalingFigure: Figure = {
  name: 'sweep_scaling',
  description: `wall time of sweep() over the same entities written with ${SHARD_COUNTS.join(', ')} shards (s)`,
  async run(ctx) {
    const count = ctx.smoke ? 100 : 800;
    const seconds = new Map<number, number[]>(SHARD_COUNTS.map((s) => [s, []]));
    if (!ctx.smoke) await reclaimSlice(ctx, 'ours', 200, 4, 'scaling');
    for (let run = 0; run < ctx.runs; run++) {
      const order = run % 2 === 0 ? SHARD_COUNTS : [...SHARD_COUNTS].reverse();
      for (const shards of order) {
        const { ms } = await reclaimSlice(ctx, 'ours', count, shards, 'scaling');
        seconds.get(shards)!.push(ms / 1000);
        ctx.log(`sweep_scaling run ${run + 1}/${ctx.runs} ${shards} shards: ${(ms / 1000).toFixed(2)} s`);
      }
    }
    const one = seconds.get(1)!;
    return SHARD_COUNTS.map((shards): FigureRow => ({
      figure: 'sweep_scaling',
      label: `${shards} shard${shards === 1 ? '' : 's'}`,
      unit: 's',
      ours: summarize(seconds.get(shards)!),
      ratioOf: 'time / 1 shard',
      ratio: summarize(seconds.get(shards)!.map((s, i) => s / one[i]!)),
      status: 'reported',
      details: { entities: count, shards },
    }));
  },
};
