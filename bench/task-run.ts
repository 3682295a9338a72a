/** Figure `run`: tasks executed per second, Cloud Tasks dispatch -> our handler, against the same dispatch to a bare handler that answers 200. */
import { createHmac, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { typicalArgs } from './codec.js';
import type { Figure } from './lib/figure.js';
import { measured, pairedRuns, ratioRow, sidesRow } from './lib/paired.js';
import { startRecordingSdk, withOpenTelemetryRow } from './lib/otel.js';
import { benchDeferred, queueId, SECRET } from './lib/runtime.js';
import { pool } from './lib/stats.js';

/**
 * Queues the tasks are spread over. Each queue dispatches at most 500/s with a token bucket of 100, like the real
 * service; a slice puts 50 tasks on each, so both sides run on full buckets and the rate limit caps neither.
 */
const QUEUES = 8;
/** maxConcurrentDispatches of each queue: QUEUES x this requests in flight to the handler. */
const PER_QUEUE_CONCURRENCY = 4;
/** A run fails when no task completes for this long. */
const STALL_MS = 30_000;

/** Counts 2xx answers per route prefix, and resolves when a count is reached. */
class Completions {
  private counts = new Map<string, number>();
  private failures = new Map<number, number>();
  private waiter: { prefix: string; target: number; resolve: () => void } | undefined;
  lastProgress = Date.now();

  record(prefix: string, status: number): void {
    if (status < 200 || status >= 300) {
      this.failures.set(status, (this.failures.get(status) ?? 0) + 1);
      return;
    }
    const count = (this.counts.get(prefix) ?? 0) + 1;
    this.counts.set(prefix, count);
    this.lastProgress = Date.now();
    if (this.waiter && this.waiter.prefix === prefix && count >= this.waiter.target) this.waiter.resolve();
  }

  reset(): void {
    this.counts.clear();
    this.failures.clear();
    this.lastProgress = Date.now();
  }

  /** Waits for `target` 2xx answers under `prefix`; rejects when progress stalls. */
  async wait(prefix: string, target: number): Promise<void> {
    if ((this.counts.get(prefix) ?? 0) >= target) return;
    let timer: NodeJS.Timeout | undefined;
    try {
      await new Promise<void>((resolve, reject) => {
        this.waiter = { prefix, target, resolve };
        timer = setInterval(() => {
          if (Date.now() - this.lastProgress > STALL_MS) {
            const failures = [...this.failures].map(([s, n]) => `${n}x HTTP ${s}`).join(', ') || 'none';
            reject(
              new Error(`${prefix}: ${this.counts.get(prefix) ?? 0} of ${target} tasks ran; failures: ${failures}`),
            );
          }
        }, 1000);
      });
    } finally {
      clearInterval(timer);
      this.waiter = undefined;
    }
  }
}

export const taskRunFigure: Figure = {
  name: 'run',
  description: `tasks executed/s, Cloud Tasks dispatch -> our handler vs a bare 200 handler, ${QUEUES} queues x ${PER_QUEUE_CONCURRENCY} concurrent`,
  async run(ctx) {
    const { stack } = ctx;
    if (stack.mode === 'project' && !stack.handler.publicUrl) {
      return [
        {
          figure: 'run',
          unit: 'tasks/s',
          status: 'skipped',
          note: 'Cloud Tasks cannot reach this machine: give --handler-url (a tunnel to --handler-port)',
        },
      ];
    }
    const count = ctx.smoke ? 40 : 400;
    const completions = new Completions();
    let route: http.RequestListener = (_req, res) => res.writeHead(503).end();
    const server = http.createServer((req, res) => {
      const prefix = req.url?.startsWith('/bare/')
        ? 'bare'
        : req.url?.startsWith('/checked/')
          ? 'checked'
          : req.url?.startsWith('/otel/')
            ? 'otel'
            : 'ours';
      res.once('finish', () => completions.record(prefix, res.statusCode));
      route(req, res);
    });
    server.keepAliveTimeout = 60_000;
    await new Promise<void>((resolve) => server.listen(stack.handler.listenPort, stack.handler.listenHost, resolve));
    try {
      const origin = (stack.handler.publicUrl ?? `http://127.0.0.1:${(server.address() as AddressInfo).port}`).replace(
        /\/+$/,
        '',
      );
      const queues: string[] = [];
      for (let q = 0; q < QUEUES; q++) {
        queues.push(await stack.createQueue('run', { paused: true, maxConcurrentDispatches: PER_QUEUE_CONCURRENCY }));
      }
      const deferred = benchDeferred(stack, {
        queuePath: queues[0]!,
        namespace: stack.namespace('run'),
        handlerUrl: `${origin}/_deferred`,
      });
      let ran = 0;
      const sendReceipt = deferred.task('sendReceipt', (..._args: unknown[]) => {
        ran++;
      });
      const handler = deferred.handler;
      // The same runtime with OpenTelemetry (the SDK registered for this figure): a CONSUMER span per run.
      const tracedRuntime = benchDeferred(stack, {
        queuePath: queues[0]!,
        namespace: stack.namespace('run'),
        handlerUrl: `${origin}/otel/_deferred`,
        openTelemetry: true,
      });
      const tracedReceipt = tracedRuntime.task('sendReceipt', (..._args: unknown[]) => {
        ran++;
      });
      const tracedHandler = tracedRuntime.handler;
      const sdk = startRecordingSdk();
      route = (req, res) => {
        if (req.url?.startsWith('/bare/')) {
          // The bare handler: read the body, answer 200.
          req.on('data', () => undefined);
          req.on('end', () => {
            res.writeHead(200, { 'content-type': 'application/json' }).end('{"outcome":"done"}');
          });
          return;
        }
        if (req.url?.startsWith('/checked/')) {
          // The least a safe hand-written handler does: check an HMAC of the body, parse it, answer 200.
          const chunks: Buffer[] = [];
          req.on('data', (chunk: Buffer) => chunks.push(chunk));
          req.on('end', () => {
            const body = Buffer.concat(chunks);
            const mac = createHmac('sha256', SECRET).update(body).digest();
            const given = Buffer.from(String(req.headers['x-signature']), 'base64url');
            if (given.length !== mac.length || !timingSafeEqual(given, mac)) return res.writeHead(403).end();
            const call = JSON.parse(body.toString('utf8')) as { args: unknown[] };
            if (call.args.length > 0) ran++;
            res.writeHead(200, { 'content-type': 'application/json' }).end('{"outcome":"done"}');
          });
          return;
        }
        if (req.url?.startsWith('/otel/')) return tracedHandler(req, res);
        handler(req, res);
      };
      const args = typicalArgs();
      const handles = queues.map((q) => sendReceipt.with({ queue: queueId(q) }));
      const tracedHandles = queues.map((q) => tracedReceipt.with({ queue: queueId(q) }));
      const rawTask = (i: number, path: 'bare' | 'checked') => {
        const body = Buffer.from(JSON.stringify({ task: 'sendReceipt', args }), 'utf8');
        const headers: Record<string, string> = { 'Content-Type': 'application/json' };
        if (path === 'checked') headers['X-Signature'] = createHmac('sha256', SECRET).update(body).digest('base64url');
        return stack.tasks.createTask({
          parent: queues[i % QUEUES]!,
          task: { httpRequest: { url: `${origin}/${path}/tasks/sendReceipt`, httpMethod: 'POST', headers, body } },
        });
      };

      /** Fills the paused queues, then times from resuming them until every task was answered 2xx. */
      const measure = async (
        prefix: 'ours' | 'bare' | 'checked' | 'otel',
        enqueue: (i: number) => Promise<unknown>,
      ) => {
        await pool(count, 32, enqueue);
        await new Promise((resolve) => setTimeout(resolve, 250)); // token buckets refill (100 at 500/s)
        completions.reset();
        const { ms, cpu } = await measured(stack, async () => {
          await Promise.all(queues.map((q) => stack.resumeQueue(q)));
          await completions.wait(prefix, count);
        });
        await Promise.all(queues.map((q) => stack.pauseQueue(q)));
        return { count, ms, cpu };
      };
      let spans = 0;
      const samples = await pairedRuns(ctx, 'run', 'tasks/s', {
        ours: () => measure('ours', (i) => handles[i % QUEUES]!.defer(...args)),
        baseline: () => measure('bare', (i) => rawTask(i, 'bare')),
        checked: () => measure('checked', (i) => rawTask(i, 'checked')),
        otel: () => measure('otel', (i) => tracedHandles[i % QUEUES]!.defer(...args)),
      })
        .then((paired) => ((spans = sdk.spans()), paired))
        .finally(() => sdk.stop());
      if (spans === 0) throw new Error('the OpenTelemetry side recorded no span');
      if (ran < count) throw new Error(`our task function ran ${ran} times, expected at least ${count}`);
      const details = { tasksPerSlice: count, queues: QUEUES, concurrentDispatches: QUEUES * PER_QUEUE_CONCURRENCY };
      return [
        ratioRow('run', 'tasks/s', samples, { op: '>=', value: 0.8 }, { details }),
        sidesRow(
          'run',
          'tasks/s',
          samples,
          { ours: 'ours', baseline: 'checked' },
          {
            label: 'vs HMAC + JSON.parse handler',
            ratioOf: 'ours / reference',
            note: 'reference: a hand-written handler that checks an HMAC of the body and parses it, the least a safe one does',
            details,
          },
        ),
        withOpenTelemetryRow('run', 'tasks/s', samples, { ...details, spans }),
      ];
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  },
};
