/** Figure `defer_spill`: defer() of a 500 KB payload (gzip, `_DeferredTask` entity, task with its key) against a raw entity put + createTask. */
import { randomBytes } from 'node:crypto';
import { hasZstd } from '../src/store/packed-payload.js';
import type { Figure } from './lib/figure.js';
import { measured, pairedRuns, ratioRow, sidesRow } from './lib/paired.js';
import { benchDeferred } from './lib/runtime.js';
import { pool } from './lib/stats.js';

const CONCURRENCY = 4;
const TARGET_BYTES = 500_000;

/** A deterministic pseudo-random generator, so the payload compresses like real data rather than like repeats. */
function lcg(seed: number) {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

const WORDS = [
  'alpha',
  'bravo',
  'delta',
  'echo',
  'kilo',
  'lima',
  'oscar',
  'romeo',
  'sierra',
  'tango',
  'victor',
  'zulu',
];

/** About 500 KB of records (as JSON): ids, names, e-mails, scores, tags, dates. */
export function largeArgs(targetBytes = TARGET_BYTES): unknown[] {
  const random = lcg(42);
  const records: unknown[] = [];
  let bytes = 0;
  for (let i = 0; bytes < targetBytes; i++) {
    const name = `${WORDS[Math.floor(random() * WORDS.length)]} ${WORDS[Math.floor(random() * WORDS.length)]}`;
    const record = {
      id: `u-${(random() * 1e9).toFixed(0)}`,
      name,
      email: `${name.replace(' ', '.')}${i}@example.com`,
      score: Math.round(random() * 100_000) / 100,
      active: random() > 0.3,
      tags: [WORDS[i % WORDS.length], WORDS[(i * 7) % WORDS.length]],
      updatedAt: new Date(1_767_000_000_000 + Math.floor(random() * 1e10)),
    };
    bytes += JSON.stringify(record).length + 1;
    records.push(record);
  }
  return ['import-batch-17', records];
}

export const deferSpillFigure: Figure = {
  name: 'defer_spill',
  description: `defer() of a 500 KB payload vs raw entity put + createTask, ${CONCURRENCY} in flight (tasks/s)`,
  async run(ctx) {
    const { stack } = ctx;
    const count = ctx.smoke ? 3 : 24;
    const queuePath = await stack.createQueue('spill', { paused: true });
    const namespace = stack.namespace('spill');
    const datastore = stack.datastore(namespace);
    const deferred = benchDeferred(stack, { queuePath, namespace, handlerUrl: stack.parkedUrl });
    const importBatch = deferred.task('importBatch', (..._args: unknown[]) => undefined);
    // The user's choice where gzip is the bound: its fastest level, faster codecs, and no compression at all.
    const fastest = importBatch.with({ compression: 1 });
    const brotli = importBatch.with({ compression: 'brotli' });
    const zstd = hasZstd() ? importBatch.with({ compression: 'zstd' }) : null;
    const uncompressed = importBatch.with({ compression: 'none' });
    const args = largeArgs();
    const url = `${stack.parkedUrl}/tasks/importBatch`;

    const measure = async (one: () => Promise<unknown>) => {
      const { ms, cpu } = await measured(stack, () => pool(count, CONCURRENCY, one));
      await stack.clearNamespace(namespace);
      if (stack.mode === 'local') await stack.purgeQueue(queuePath);
      return { count, ms, cpu };
    };
    const spill = (handle: { defer(...a: unknown[]): Promise<{ entityKey: unknown }> }) => () =>
      measure(async () => {
        const deferral = await handle.defer(...args);
        if (!deferral.entityKey) throw new Error('a 500 KB payload did not spill into an entity');
      });
    const samples = await pairedRuns(ctx, 'defer_spill', 'tasks/s', {
      ours: spill(importBatch),
      gzip1: spill(fastest),
      brotli: spill(brotli),
      ...(zstd ? { zstd: spill(zstd) } : {}),
      none: spill(uncompressed),
      // What a hand-written spill does: serialise, put the bytes in an entity, create a task that carries its key.
      baseline: () =>
        measure(async () => {
          const payload = Buffer.from(JSON.stringify({ task: 'importBatch', args }), 'utf8');
          const key = datastore.key(['BenchPayload', randomBytes(12).toString('base64url')]);
          await datastore.save({
            key,
            data: [
              { name: 'payload', value: payload, excludeFromIndexes: true },
              { name: 'created', value: new Date() },
            ],
          });
          await stack.tasks.createTask({
            parent: queuePath,
            task: {
              httpRequest: {
                url,
                httpMethod: 'POST',
                headers: { 'Content-Type': 'application/json' },
                body: Buffer.from(JSON.stringify({ key: key.path })),
              },
            },
          });
        }),
    });
    const payloadBytes = Buffer.byteLength(JSON.stringify(args));
    const choice = (side: 'gzip1' | 'brotli' | 'zstd' | 'none', label: string, note: string) =>
      sidesRow(
        'defer_spill',
        'tasks/s',
        samples,
        { ours: side, baseline: 'baseline' },
        {
          label,
          ratioOf: 'ours / baseline',
          note,
        },
      );
    return [
      ratioRow(
        'defer_spill',
        'tasks/s',
        samples,
        { op: '>=', value: 0.9 },
        {
          details: { tasksPerSlice: count, concurrency: CONCURRENCY, payloadBytes, compression: 3 },
        },
      ),
      choice('gzip1', 'compression: 1', 'the fastest gzip level: about 20% more bytes stored than the default 3'),
      choice(
        'brotli',
        "compression: 'brotli'",
        'Brotli at quality 1: about 13% more bytes than gzip 3, on every Node.js',
      ),
      ...(zstd
        ? [choice('zstd', "compression: 'zstd'", 'zstd at level 1: the bytes of gzip 3; Node.js 22.15 or later')]
        : []),
      choice('none', "compression: 'none'", 'stored as it is: no gzip CPU, about 5x the bytes of the default'),
    ];
  },
};
