/** Figure `defer_inline`: defer() of a small task, tasks/s, against raw CloudTasksClient.createTask of the same body at the same concurrency. */
import { typicalArgs } from './codec.js';
import type { Figure } from './lib/figure.js';
import { measured, pairedRuns, ratioRow } from './lib/paired.js';
import { startRecordingSdk, withOpenTelemetryRow } from './lib/otel.js';
import { benchDeferred } from './lib/runtime.js';
import { pool } from './lib/stats.js';

/** Defers in flight at once, on both sides. */
const CONCURRENCY = 32;

export const deferInlineFigure: Figure = {
  name: 'defer_inline',
  description: `defer() of a small task vs raw createTask of the same body, ${CONCURRENCY} in flight (tasks/s)`,
  async run(ctx) {
    const { stack } = ctx;
    const count = ctx.smoke ? 40 : 300;
    const queuePath = await stack.createQueue('inline', { paused: true });
    const deferred = benchDeferred(stack, {
      queuePath,
      namespace: stack.namespace('inline'),
      handlerUrl: stack.parkedUrl,
    });
    const sendReceipt = deferred.task('sendReceipt', (..._args: unknown[]) => undefined);
    // The same defer with OpenTelemetry: the SDK registered for this figure, every PRODUCER span recorded.
    const traced = benchDeferred(stack, {
      queuePath,
      namespace: stack.namespace('inline'),
      handlerUrl: stack.parkedUrl,
      openTelemetry: true,
    }).task('sendReceipt', (..._args: unknown[]) => undefined);
    const sdk = startRecordingSdk();
    const args = typicalArgs();
    const url = `${stack.parkedUrl}/tasks/sendReceipt`;
    let bodyBytes = 0;

    const measure = async (one: () => Promise<unknown>) => {
      const { ms, cpu } = await measured(stack, () => pool(count, CONCURRENCY, one));
      if (stack.mode === 'local') await stack.purgeQueue(queuePath);
      return { count, ms, cpu };
    };
    let spans = 0;
    const samples = await pairedRuns(ctx, 'defer_inline', 'tasks/s', {
      ours: () =>
        measure(async () => {
          const deferral = await sendReceipt.defer(...args);
          if (deferral.status !== 'enqueued') throw new Error(`defer() returned ${deferral.status}`);
        }),
      otel: () =>
        measure(async () => {
          const deferral = await traced.defer(...args);
          if (deferral.status !== 'enqueued') throw new Error(`defer() returned ${deferral.status}`);
        }),
      // What a hand-written enqueue does: serialise the arguments, create an HTTP task with them as the body.
      baseline: () =>
        measure(async () => {
          const body = Buffer.from(JSON.stringify({ task: 'sendReceipt', args }), 'utf8');
          bodyBytes = body.length;
          await stack.tasks.createTask({
            parent: queuePath,
            task: { httpRequest: { url, httpMethod: 'POST', headers: { 'Content-Type': 'application/json' }, body } },
          });
        }),
    })
      .then((paired) => ((spans = sdk.spans()), paired))
      .finally(() => sdk.stop());
    if (spans === 0) throw new Error('the OpenTelemetry side recorded no span');
    return [
      ratioRow(
        'defer_inline',
        'tasks/s',
        samples,
        { op: '>=', value: 0.9 },
        {
          details: { tasksPerSlice: count, concurrency: CONCURRENCY, baselineBodyBytes: bodyBytes },
        },
      ),
      withOpenTelemetryRow('defer_inline', 'tasks/s', samples, { spans }),
    ];
  },
};
