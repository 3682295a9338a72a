// Unit tests of the handler's plain-JSON path: jsonShape's scan, and decodeCall handing over parsed arguments only when the decoder would give the same.
import { Datastore } from '@google-cloud/datastore';
import { describe, expect, it } from 'vitest';
import { jsonShape } from '../../src/codec/json-depth.js';
import { decodeEnvelopeArgs, encodeEnvelope, parseEnvelope } from '../../src/codec/index.js';
import { decodeCall, parseCall, type CodecSettings } from '../../src/core/task-envelope.js';

const datastore = new Datastore({ projectId: 'unit', apiEndpoint: 'localhost:1' });
const settings: CodecSettings = { maxDepth: 64, datastore };

describe('jsonShape', () => {
  const shape = (text: string, maxDepth = 64) => jsonShape(Buffer.from(text), maxDepth);

  it('is plain when no string starts with $', () => {
    expect(shape('{"a":[1,"b$",{"c$d":null}],"e":"x\\"y"}')).toBe('plain');
  });

  it('sees a $ at the start of a key or of a value, escaped quotes included', () => {
    expect(shape('{"$date":"2026-01-01"}')).toBe('dollar');
    expect(shape('["$5"]')).toBe('dollar');
    expect(shape('["say \\"$5\\""]')).toBe('plain'); // the $ follows an escaped quote inside the string
    expect(shape('{"k":"a","$$escaped":1}')).toBe('dollar');
  });

  it('is too-deep past maxDepth, whatever else it holds', () => {
    expect(shape('[[["$x"]]]', 2)).toBe('too-deep');
    expect(shape('[[[1]]]', 3)).toBe('plain');
  });
});

/** What decodeCall gives for `args` (and `bound`), and what the full decoder gives for the same bytes. */
async function bothWays(args: unknown[], bound?: unknown) {
  const body = encodeEnvelope({ task: 't', args, ...(bound === undefined ? {} : { bound }) }, { datastore });
  const call = parseCall(body, 64);
  const fast = await decodeCall(call, settings);
  const full = await decodeEnvelopeArgs(parseEnvelope(body), { datastore, maxDepth: 64 });
  return { call, fast, full };
}

describe('decodeCall', () => {
  it('hands plain JSON arguments over as parsed, equal to what the decoder rebuilds', async () => {
    const proto = JSON.parse('{"__proto__":{"polluted":true},"x":1}') as unknown;
    const { call, fast, full } = await bothWays(['u1', 3.5, true, null, [1, [2, {}]], { nested: { a: 'b$' } }, proto], {
      env: 'prod',
    });
    expect(call.plain).toBe(true);
    expect(fast.args).toBe(call.raw.args); // no copy
    expect(fast).toEqual(full);
    const last = fast.args[6] as Record<string, unknown>;
    expect(Object.getPrototypeOf(last)).toBe(Object.prototype);
    expect(Object.prototype.hasOwnProperty.call(last, '__proto__')).toBe(true);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('runs the decoder when the body holds a tag or an escaped $ key', async () => {
    const date = new Date('2026-01-02T03:04:05.000Z');
    const tagged = await bothWays([date, new Map([['k', 1n]]), undefined]);
    expect(tagged.call.plain).toBe(false);
    expect(tagged.fast.args[0]).toEqual(date);
    expect(tagged.fast.args[1]).toEqual(new Map([['k', 1n]]));
    expect(tagged.fast.args).toHaveLength(3);
    expect(tagged.fast.args[2]).toBeUndefined();

    const dollarKey = await bothWays([{ $price: 5, $$twice: 6 }]);
    expect(dollarKey.call.plain).toBe(false);
    expect(dollarKey.fast.args).toEqual([{ $price: 5, $$twice: 6 }]);
    expect(dollarKey.fast).toEqual(dollarKey.full);
  });

  it('runs the decoder (and its depth check) when it is given a stricter maxDepth than the parse', async () => {
    const body = encodeEnvelope({ task: 't', args: [[[['deep']]]] });
    const call = parseCall(body, 64);
    expect(call.plain).toBe(true);
    expect(() => decodeCall(call, { ...settings, maxDepth: 3 })).toThrow(/nested deeper than/);
  });
});
