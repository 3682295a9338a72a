/** Figure `defer_bulk`: deferMany of 1,000 entity-backed tasks against a loop of defer() and against the raw path (batched entity commits + createTask), and deferMany of inline tasks against raw createTask, all at the same concurrency. */
import { randomBytes } from 'node:crypto';
import type { Key } from '@google-cloud/datastore';
import { typicalArgs } from './codec.js';
import type { Figure, FigureRow } from './lib/figure.js';
import { pairedRatios, verdict } from './lib/figure.js';
import { cpuComparison, measured, pairedRuns, ratioRow, type PairedSamples } from './lib/paired.js';
import { benchDeferred } from './lib/runtime.js';
import { pool, summarize } from './lib/stats.js';

/** createTask calls in flight at once, on every side (deferMany's default). */
const CONCURRENCY = 50;
/** Entities per raw commit: Datastore's limit. */
const COMMIT = 500;

export const deferBulkFigure: Figure = {
  name: 'defer_bulk',
  description: `deferMany of 1,000 entity-backed tasks vs a loop of defer() and vs raw batched commits + createTask; deferMany of inline tasks vs raw createTask; ${CONCURRENCY} creates in flight (tasks/s)`,
  async run(ctx) {
    const { stack } = ctx;
    const count = ctx.smoke ? 40 : 1000;
    const queuePath = await stack.createQueue('bulk', { paused: true });
    const namespace = stack.namespace('bulk');
    const datastore = stack.datastore(namespace);
    const deferred = benchDeferred(stack, { queuePath, namespace, handlerUrl: stack.parkedUrl });
    const sendReceipt = deferred.task('sendReceipt', (..._args: unknown[]) => undefined);
    const args = typicalArgs();
    const argsList = Array.from({ length: count }, () => args);
    const url = `${stack.parkedUrl}/tasks/sendReceipt`;
    const entityBacked = sendReceipt.with({ entityBacked: true });

    const measure = async (all: () => Promise<unknown>) => {
      const { ms, cpu } = await measured(stack, all);
      await stack.clearNamespace(namespace);
      if (stack.mode === 'local') await stack.purgeQueue(queuePath);
      return { count, ms, cpu };
    };
    const expectEnqueued = (deferrals: readonly { status: string; entityKey: Key | null }[], entity: boolean) => {
      if (deferrals.length !== count) throw new Error(`deferMany returned ${deferrals.length} deferrals`);
      for (const d of deferrals) {
        if (d.status !== 'enqueued' || (d.entityKey !== null) !== entity) {
          throw new Error(`deferMany returned a ${d.status} ${d.entityKey ? 'entity-backed' : 'inline'} deferral`);
        }
      }
    };
    const rawCreate = (body: Buffer) =>
      stack.tasks.createTask({
        parent: queuePath,
        task: { httpRequest: { url, httpMethod: 'POST', headers: { 'Content-Type': 'application/json' }, body } },
      });

    const entity = await pairedRuns(
      ctx,
      'defer_bulk',
      'tasks/s',
      {
        ours: () => measure(async () => expectEnqueued(await entityBacked.deferMany(argsList), true)),
        // What a hand-written bulk spill does: the JSON of each call in an entity, 500 entities per commit (all
        // commits at once), then one task per entity carrying its key, 50 creates in flight.
        baseline: () =>
          measure(async () => {
            const keys = argsList.map(() => datastore.key(['BenchPayload', randomBytes(12).toString('base64url')]));
            const created = new Date();
            const entities = keys.map((key, i) => ({
              key,
              data: [
                {
                  name: 'payload',
                  value: Buffer.from(JSON.stringify({ task: 'sendReceipt', args: argsList[i] })),
                  excludeFromIndexes: true,
                },
                { name: 'created', value: created },
              ],
            }));
            const commits: (typeof entities)[] = [];
            for (let i = 0; i < entities.length; i += COMMIT) commits.push(entities.slice(i, i + COMMIT));
            await Promise.all(commits.map((commit) => datastore.save(commit)));
            await pool(count, CONCURRENCY, (i) => rawCreate(Buffer.from(JSON.stringify({ key: keys[i]!.path }))));
          }),
        // The same tasks one defer() at a time, 50 in flight: one commit per task.
        loop: () =>
          measure(() =>
            pool(count, CONCURRENCY, async () => {
              const deferral = await entityBacked.defer(...args);
              if (!deferral.entityKey) throw new Error('defer() of an entity-backed task wrote no entity');
            }),
          ),
      },
      { slices: 2 },
    );

    const inline = await pairedRuns(
      ctx,
      'defer_bulk inline',
      'tasks/s',
      {
        ours: () => measure(async () => expectEnqueued(await sendReceipt.deferMany(argsList), false)),
        // What a hand-written bulk enqueue does: the JSON of each call as an HTTP task's body, 50 creates in flight.
        baseline: () =>
          measure(() =>
            pool(count, CONCURRENCY, () =>
              rawCreate(Buffer.from(JSON.stringify({ task: 'sendReceipt', args }), 'utf8')),
            ),
          ),
      },
      { slices: 2 },
    );

    const details = { tasksPerSlice: count, concurrency: CONCURRENCY };
    return [
      loopRow(entity, details),
      ratioRow(
        'defer_bulk',
        'tasks/s',
        entity,
        { op: '>=', value: 0.9 },
        {
          label: 'entity-backed vs raw',
          note: 'raw: the JSON of each call in an entity, 500 per commit, then createTask with its key',
          details,
        },
      ),
      ratioRow('defer_bulk', 'tasks/s', inline, { op: '>=', value: 0.9 }, { label: 'inline vs raw', details }),
    ];
  },
};

/** The row of deferMany against the loop of defer() (`loop`): target 3x. */
function loopRow(samples: PairedSamples, details: Record<string, unknown>): FigureRow {
  const loop = samples.others.loop!;
  const ratio = summarize(pairedRatios(samples.ours, loop));
  const target = { op: '>=' as const, value: 3 };
  // What the raw path itself gets against the loop: the most batching can give on this stack.
  const rawVsLoop = summarize(pairedRatios(samples.baseline, loop));
  return {
    figure: 'defer_bulk',
    label: 'entity-backed vs defer() loop',
    unit: 'tasks/s',
    ours: summarize(samples.ours),
    baseline: summarize(loop),
    ratioOf: 'deferMany / defer() loop',
    ratio,
    ...(cpuComparison(samples, 'ours', 'loop') ? { cpu: cpuComparison(samples, 'ours', 'loop')! } : {}),
    target,
    status: verdict(ratio, target),
    note: `the same tasks, one defer() each (one commit each), 50 in flight; the raw path gets ${rawVsLoop.median.toFixed(2)}x the loop`,
    details: {
      ...details,
      rawVsLoop,
      ...(samples.cpuPerUnit ? { cpuMicrosPerUnit: samples.cpuPerUnit } : {}),
    },
  };
}
