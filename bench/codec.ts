/** Figure `codec`: encode + decode time and size of a typical payload with our envelope codec, against JSON.stringify / JSON.parse. */
import { performance } from 'node:perf_hooks';
import { decodeEnvelopeArgs, encodeEnvelope, parseEnvelope } from '../src/codec/index.js';
import { pairedRatios, type Figure } from './lib/figure.js';
import { summarize } from './lib/stats.js';

/** The arguments of a typical task: an id, an order with dates, line items and nested objects, and options. */
export function typicalArgs(): unknown[] {
  const created = new Date('2026-01-02T03:04:05.678Z');
  return [
    'user-4711',
    {
      id: 'order-88123',
      createdAt: created,
      shippedAt: null,
      status: 'paid',
      total: 184.97,
      currency: 'EUR',
      customer: {
        id: 'c-1029',
        name: 'Ada Lovelace',
        email: 'ada@example.com',
        address: { street: '12 Analytical Row', city: 'London', postcode: 'N1 9GU', country: 'GB' },
      },
      items: Array.from({ length: 6 }, (_, i) => ({
        sku: `SKU-${1000 + i}`,
        title: `Item number ${i} with a descriptive title`,
        quantity: 1 + (i % 3),
        unitPrice: 9.99 + i * 5,
        addedAt: new Date(created.getTime() - i * 60_000),
      })),
      tags: ['gift', 'express', 'newsletter'],
    },
    { notify: true, locale: 'en-GB', retries: 3 },
  ];
}

async function oursOnce(args: unknown[]): Promise<number> {
  const bytes = encodeEnvelope({ task: 'sendReceipt', args, meta: { retentionMs: 604_800_000 } });
  const decoded = await decodeEnvelopeArgs(parseEnvelope(bytes));
  return bytes.length + decoded.args.length;
}

async function jsonOnce(args: unknown[]): Promise<number> {
  const bytes = Buffer.from(JSON.stringify({ task: 'sendReceipt', args }), 'utf8');
  const decoded = JSON.parse(bytes.toString('utf8')) as { args: unknown[] };
  return bytes.length + decoded.args.length;
}

/** Microseconds per call of `fn` over `iterations` calls. */
async function microsPerOp(fn: (args: unknown[]) => Promise<number>, args: unknown[], iterations: number) {
  let sink = 0;
  const started = performance.now();
  for (let i = 0; i < iterations; i++) sink += await fn(args);
  const ms = performance.now() - started;
  if (sink === 0) throw new Error('unreachable');
  return (ms * 1000) / iterations;
}

export const codecFigure: Figure = {
  name: 'codec',
  standalone: true,
  description: 'envelope encode + parse + decode of a typical payload vs JSON.stringify + JSON.parse (µs per payload)',
  async run(ctx) {
    const args = typicalArgs();
    const iterations = ctx.smoke ? 200 : 20_000;
    if (!ctx.smoke) {
      await microsPerOp(oursOnce, args, iterations);
      await microsPerOp(jsonOnce, args, iterations);
    }
    const ours: number[] = [];
    const json: number[] = [];
    for (let run = 0; run < ctx.runs; run++) {
      if (run % 2 === 0) {
        ours.push(await microsPerOp(oursOnce, args, iterations));
        json.push(await microsPerOp(jsonOnce, args, iterations));
      } else {
        json.push(await microsPerOp(jsonOnce, args, iterations));
        ours.push(await microsPerOp(oursOnce, args, iterations));
      }
    }
    const oursBytes = encodeEnvelope({ task: 'sendReceipt', args, meta: { retentionMs: 604_800_000 } }).length;
    const jsonBytes = Buffer.byteLength(JSON.stringify({ task: 'sendReceipt', args }));
    return [
      {
        figure: 'codec',
        label: 'time',
        unit: 'µs',
        ours: summarize(ours),
        baseline: summarize(json),
        ratioOf: 'ours / JSON',
        ratio: summarize(pairedRatios(ours, json)),
        status: 'reported',
        note: `Dates (7 here) travel typed ({"$date":…}), which JSON turns into strings; ${iterations} payloads per run`,
        details: { iterations },
      },
      {
        figure: 'codec',
        label: 'size',
        unit: 'bytes',
        ours: summarize([oursBytes]),
        baseline: summarize([jsonBytes]),
        ratioOf: 'ours / JSON',
        ratio: summarize([oursBytes / jsonBytes]),
        status: 'reported',
      },
    ];
  },
};
